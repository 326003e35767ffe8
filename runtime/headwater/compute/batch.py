"""AWS Batch: one job per task attempt, through boto3.

A job definition is registered once per distinct content (image, resources, roles, volumes,
the profile's environment) and named after its hash, so later runs reuse it instead of
piling up revisions; the task's command goes in the job's ``containerOverrides``. The
queue's compute environments decide the platform (``FARGATE`` or ``EC2``). One thread polls
``DescribeJobs`` for every active job, backing off from ``poll_seconds`` to
``max_poll_seconds`` while nothing changes, follows each running job's CloudWatch log stream
for the console, and maps the final state: ``SUCCEEDED``/``FAILED`` end the attempt with
what the task recorded in the datastore (``ComputeContext.read_result``) and, when it
recorded nothing, Batch's ``statusReason`` (out of memory, image pull, timeout, ...).
``kill`` terminates the job.

The profile's ``METAFLOW_BATCH_LOG_GROUP`` is where jobs log (the ``awslogs`` driver of the
definition; Batch's shared ``/aws/batch/job`` otherwise) and where their output is followed
from; ``METAFLOW_BATCH_DEFAULT_TAGS`` (a JSON object) tags every job and definition. A
definition's name starts with its queue's name and ``_``, so a policy can allow
``SubmitJob`` on ``job-definition/<queue>_*``: the definitions of that queue's stack only.
"""

from __future__ import annotations

import hashlib
import json
import math
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .base import Compute, ComputeContext, ComputeEvent, Stream, TaskExited, TaskKey, \
    TaskOutput, drain, task_key
from .errors import (BatchQueueUnknown, IamRoleNotAssumable, RemoteComputeError,
                     require_remote_storage)

if TYPE_CHECKING:
    from ..package import CodePackage
    from ..settings import Settings
    from ..task import TaskSpec

LOG_GROUP = "/aws/batch/job"  # Batch's default, shared by every job of the account
LOG_GROUP_KEY = "METAFLOW_BATCH_LOG_GROUP"
DEFAULT_TAGS_KEY = "METAFLOW_BATCH_DEFAULT_TAGS"
FARGATE_TYPES = ("FARGATE", "FARGATE_SPOT")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")


def batch_client(service: str = "batch"):
    import boto3

    return boto3.client(service)


def queue_name(queue: str) -> str:
    """The name of a job queue given by name or ARN (``...:job-queue/<name>``)."""
    return queue.rsplit("job-queue/", 1)[-1]


def default_tags(settings: "Settings") -> dict[str, str]:
    """``METAFLOW_BATCH_DEFAULT_TAGS``: the tags every job and definition carries."""
    raw = settings.get(DEFAULT_TAGS_KEY)
    if not raw:
        return {}
    try:
        tags = json.loads(raw)
    except json.JSONDecodeError:
        tags = None
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                             for k, v in tags.items()):
        raise RemoteComputeError(f"{DEFAULT_TAGS_KEY}={raw!r} is not a JSON object of "
                                 f"strings",
                                 'set it like {"team": "ml"} (the AWS stack\'s profile does)')
    return tags


def log_group(settings: "Settings") -> str:
    return settings.get(LOG_GROUP_KEY) or LOG_GROUP


def job_definition(flow_name: str, resolved: dict[str, Any],
                   settings: "Settings", platform: str) -> dict[str, Any]:
    """``RegisterJobDefinition``'s parameters for a step, named after its queue and their
    content."""
    from .container import container_environment

    env = [{"name": k, "value": v} for k, v in sorted(container_environment(settings).items())]
    requirements = [{"type": "VCPU", "value": _number(resolved["cpu"])},
                    {"type": "MEMORY", "value": str(int(math.ceil(resolved["memory"])))}]
    if resolved["gpu"]:
        requirements.append({"type": "GPU", "value": str(resolved["gpu"])})
    container: dict[str, Any] = {"image": resolved["image"], "environment": env,
                                 "resourceRequirements": requirements}
    if resolved["iam_role"]:
        container["jobRoleArn"] = resolved["iam_role"]
    linux: dict[str, Any] = {}
    if platform == "FARGATE":
        if resolved["execution_role"]:
            container["executionRoleArn"] = resolved["execution_role"]
        container["fargatePlatformConfiguration"] = {"platformVersion": "LATEST"}
        container["networkConfiguration"] = {"assignPublicIp": "DISABLED"}
        if resolved["ephemeral_storage"]:
            container["ephemeralStorage"] = {"sizeInGiB": int(resolved["ephemeral_storage"])}
    else:  # EC2: the Linux knobs Fargate does not have
        if resolved["shared_memory"]:
            linux["sharedMemorySize"] = int(resolved["shared_memory"])
        if resolved["max_swap"] is not None:
            linux["maxSwap"] = int(resolved["max_swap"])
            linux["swappiness"] = int(resolved["swappiness"] if resolved["swappiness"]
                                      is not None else 60)
        if resolved["use_tmpfs"] or resolved["tmpfs_size"]:
            linux["tmpfs"] = [{"containerPath": resolved["tmpfs_path"],
                               "size": int(resolved["tmpfs_size"] or resolved["memory"] // 2),
                               "mountOptions": ["rw", "nosuid", "nodev"]}]
            env.append({"name": "METAFLOW_TEMPDIR", "value": resolved["tmpfs_path"]})
    if linux:
        container["linuxParameters"] = linux
    if settings.get(LOG_GROUP_KEY):
        container["logConfiguration"] = {"logDriver": "awslogs", "options": {
            "awslogs-group": settings.get(LOG_GROUP_KEY)}}
    if resolved["efs_volumes"]:
        container["volumes"] = [{"name": f"efs-{i}", "efsVolumeConfiguration": {
            "fileSystemId": fs, "transitEncryption": "ENABLED"}}
            for i, fs in enumerate(sorted(resolved["efs_volumes"]))]
        container["mountPoints"] = [{"sourceVolume": f"efs-{i}", "containerPath": path,
                                     "readOnly": False}
                                    for i, (_, path) in enumerate(sorted(
                                        resolved["efs_volumes"].items()))]
    body = {"type": "container", "containerProperties": container,
            "platformCapabilities": [platform], "retryStrategy": {"attempts": 1},
            "propagateTags": True}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    flow = re.sub(r"[^A-Za-z0-9_-]", "-", flow_name)
    # 128 characters at most: the queue's prefix (what IAM matches) is kept whole.
    name = f"{queue_name(resolved['queue'])}_{flow}"[:111]
    return {"jobDefinitionName": f"{name}-{digest}", **body,
            "tags": {**default_tags(settings), "headwater:flow": flow_name,
                     "headwater:content-sha": digest}}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def job_name(spec: "TaskSpec") -> str:
    raw = f"{spec.flow_name}-{spec.run_id}-{spec.step_name}-{spec.task_id}-{spec.attempt}"
    return re.sub(r"[^A-Za-z0-9_-]", "-", raw)[:128]


def submit_parameters(spec: "TaskSpec", definition_arn: str, queue: str,
                      package: "CodePackage", timeout: float | None,
                      with_specs: tuple[str, ...] = (),
                      config_files: dict[str, str] | None = None,
                      tags: dict[str, str] | None = None) -> dict[str, Any]:
    """``SubmitJob``'s parameters for attempt ``spec``; ``tags`` are the profile's
    default tags."""
    from .container import container_command

    params: dict[str, Any] = {
        "jobName": job_name(spec), "jobQueue": queue, "jobDefinition": definition_arn,
        "containerOverrides": {"command": container_command(package, spec, with_specs,
                                                            config_files)},
        "tags": {**(tags or {}), "headwater:pathspec":
                 f"{spec.flow_name}/{spec.run_id}/{spec.step_name}/{spec.task_id}",
                 "headwater:attempt": str(spec.attempt)},
        "propagateTags": True}
    if timeout:
        params["timeout"] = {"attemptDurationSeconds": max(60, int(math.ceil(timeout)))}
    return params


@dataclass
class _Job:
    spec: "TaskSpec"
    key: TaskKey
    job_id: str
    memory_mb: int
    status: str = "SUBMITTED"
    since: float = field(default_factory=time.monotonic)
    log_stream: str | None = None
    log_token: str | None = None
    partial: bytes = b""
    noted_runnable: bool = False
    finished: bool = False


class BatchCompute(Compute):
    """Runs each attempt as an AWS Batch job."""

    name = "batch"
    poll_seconds = 1.0
    max_poll_seconds = 10.0
    #: After this long in RUNNABLE the console says the queue may lack capacity.
    runnable_note_seconds = 120.0

    @classmethod
    def check(cls, ctx: ComputeContext, steps: list[str]) -> None:
        settings = ctx.env.settings
        require_remote_storage(settings, cls.name)
        resolved = [_resolved(ctx, s) for s in steps]
        client = batch_client()
        default_tags(settings)  # a malformed value fails here, before any job
        for name in sorted({r["queue"] for r in resolved}):
            queue_platform(client, name)
        iam = None
        for role in sorted({r for res in resolved for r in (res["iam_role"],
                                                            res["execution_role"]) if r}):
            iam = iam or batch_client("iam")
            check_role(iam, role)

    def __init__(self, ctx: ComputeContext):
        super().__init__(ctx)
        self.client = batch_client()
        self.logs = batch_client("logs")
        self.log_group = log_group(ctx.env.settings)
        self.events: queue.Queue[ComputeEvent] = queue.Queue()
        self.jobs: dict[TaskKey, _Job] = {}
        self.lock = threading.RLock()
        self.package: "CodePackage | None" = None
        self.definitions: dict[str, str] = {}  # definition name -> ARN
        self.platforms: dict[str, str] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._poller: threading.Thread | None = None

    def code_package(self) -> "CodePackage":
        """The run's code package, made and uploaded on first use."""
        if self.package is None:
            from ..package import package_for_run

            self.package = package_for_run(self.ctx)
        return self.package

    def definition_arn(self, step: str) -> tuple[str, dict]:
        """The ARN of the step's job definition: an ACTIVE one with the same content, else
        a newly registered one."""
        resolved = _resolved(self.ctx, step)
        platform = self.platforms.get(resolved["queue"])
        if platform is None:
            platform = self.platforms[resolved["queue"]] = queue_platform(self.client,
                                                                          resolved["queue"])
        params = job_definition(self.ctx.flow_cls.__name__, resolved,
                                self.ctx.env.settings, platform)
        name = params["jobDefinitionName"]
        if name not in self.definitions:
            found = self.client.describe_job_definitions(jobDefinitionName=name,
                                                         status="ACTIVE")["jobDefinitions"]
            if found:
                arn = max(found, key=lambda d: d["revision"])["jobDefinitionArn"]
            else:
                arn = self.client.register_job_definition(**params)["jobDefinitionArn"]
            self.definitions[name] = arn
        return self.definitions[name], resolved

    def submit_parameters(self, spec: "TaskSpec", timeout: float | None) -> dict[str, Any]:
        from ..package import package_paths

        arn, resolved = self.definition_arn(spec.step_name)
        options = self.ctx.options
        configs = package_paths(self.ctx)
        return submit_parameters(spec, arn, resolved["queue"], self.code_package(), timeout,
                                 tuple(options.get("with_specs", ())), configs,
                                 default_tags(self.ctx.env.settings))

    def start(self, spec: "TaskSpec", timeout: float | None) -> None:
        from botocore.exceptions import ClientError

        params = self.submit_parameters(spec, timeout)
        memory = int(_resolved(self.ctx, spec.step_name)["memory"])
        try:
            job_id = self.client.submit_job(**params)["jobId"]
        except ClientError as exc:
            raise RemoteComputeError(f"AWS Batch refused job {params['jobName']}: "
                                     f"{exc.response['Error'].get('Message', exc)}") from None
        with self.lock:
            self.jobs[task_key(spec)] = _Job(spec, task_key(spec), job_id, memory)
        self._wake.set()
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll_loop, name="headwater-batch-poll",
                                            daemon=True)
            self._poller.start()

    def wait(self, timeout: float) -> list[ComputeEvent]:
        return drain(self.events, timeout)

    def kill(self, key: TaskKey, reason: str) -> None:
        with self.lock:
            job = self.jobs.get(key)
        if job is None or job.finished:
            return
        try:
            self.client.terminate_job(jobId=job.job_id, reason=f"headwater: {reason}"[:250])
        except Exception as exc:
            self._say(job, f"headwater: could not terminate Batch job {job.job_id}: {exc}")
        self._finish(job, reason)

    @property
    def running(self) -> int:
        with self.lock:
            return sum(1 for j in self.jobs.values() if not j.finished)

    def kill_all(self, reason: str) -> None:
        with self.lock:
            active = [j for j in self.jobs.values() if not j.finished]
        for job in active:
            self.kill(job.key, reason)
        deadline = time.monotonic() + 30
        ids = [j.job_id for j in active]
        while ids and time.monotonic() < deadline:
            described = self.client.describe_jobs(jobs=ids[:100])["jobs"]
            ids = [d["jobId"] for d in described if d["status"] not in ("SUCCEEDED", "FAILED")]
            if ids:
                time.sleep(1)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._poller is not None:
            self._poller.join(5)

    # --- watching ------------------------------------------------------------------------

    def _poll_loop(self) -> None:
        interval = self.poll_seconds
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            with self.lock:
                active = [j for j in self.jobs.values() if not j.finished]
            changed = False
            for start in range(0, len(active), 100):
                batch = active[start:start + 100]
                try:
                    described = {d["jobId"]: d for d in self.client.describe_jobs(
                        jobs=[j.job_id for j in batch])["jobs"]}
                except Exception as exc:
                    self._say(batch[0], f"headwater: cannot read Batch job status: {exc}")
                    continue
                for job in batch:
                    detail = described.get(job.job_id)
                    if detail is not None:
                        changed = self._update(job, detail) or changed
            interval = self.poll_seconds if changed else min(self.max_poll_seconds,
                                                              interval * 1.5)

    def _update(self, job: _Job, detail: dict) -> bool:
        status = detail["status"]
        changed = status != job.status
        if changed:
            job.status, job.since = status, time.monotonic()
        container = detail.get("container") or {}
        job.log_stream = job.log_stream or container.get("logStreamName")
        if status == "RUNNABLE" and not job.noted_runnable and \
                time.monotonic() - job.since > self.runnable_note_seconds:
            job.noted_runnable = True
            self._say(job, f"headwater: Batch job {job.job_id} is RUNNABLE for "
                           f"{self.runnable_note_seconds:g} s: the queue's compute environment "
                           f"may lack capacity for its vCPU/memory/GPU request")
        if status in ("RUNNING", "SUCCEEDED", "FAILED"):
            self._read_logs(job)
        if status == "SUCCEEDED":
            self._finish(job, None)
        elif status == "FAILED":
            self._finish(job, failure_reason(detail, job.memory_mb))
        return changed

    def _read_logs(self, job: _Job) -> None:
        if not job.log_stream:
            return
        while True:
            args = {"logGroupName": self.log_group, "logStreamName": job.log_stream,
                    "startFromHead": True}
            if job.log_token:
                args["nextToken"] = job.log_token
            try:
                page = self.logs.get_log_events(**args)
            except Exception:  # the stream appears a little after the job starts
                return
            for event in page.get("events", []):
                self.events.put(TaskOutput(job.key, Stream.STDOUT,
                                           event["message"].rstrip("\n").encode()))
            token = page.get("nextForwardToken")
            if not page.get("events") or token == job.log_token:
                job.log_token = token
                return
            job.log_token = token

    def _say(self, job: _Job, message: str) -> None:
        self.events.put(TaskOutput(job.key, Stream.STDERR, message.encode()))

    def _finish(self, job: _Job, reason: str | None) -> None:
        with self.lock:
            if job.finished:
                return
            job.finished = True
        result = self.ctx.read_result(job.spec)
        if result is None and reason is None:
            reason = "the job ended without the task recording a result"
        self.events.put(TaskExited(job.key, result, reason if result is None else None))


def failure_reason(detail: dict, memory_mb: int) -> str:
    """One line from a FAILED job's ``statusReason`` and container reason."""
    container = detail.get("container") or {}
    reason = container.get("reason") or ""
    status_reason = detail.get("statusReason") or ""
    text = f"{status_reason} {reason}"
    if "OutOfMemory" in text or "OOM" in text:
        return (f"out of memory: the container used more than its {memory_mb} MB "
                f"({reason or status_reason}); ask for more with @batch(memory=...) or "
                f"@resources(memory=...)")
    if "CannotPullContainer" in text:
        return (f"the image cannot be pulled ({reason or status_reason}); check the image "
                f"name and that the execution role may pull from the registry")
    if "duration exceeded timeout" in text or "timeout" in status_reason.lower():
        return f"timed out: {status_reason} (from @timeout)"
    code = container.get("exitCode")
    parts = [p for p in (status_reason, reason) if p]
    where = f" with code {code}" if code is not None else ""
    return f"the Batch job failed{where}" + (f": {'; '.join(parts)}" if parts else "")


def queue_platform(client, queue_name: str) -> str:
    """``FARGATE`` or ``EC2`` for the queue's compute environments; a clear error for a queue
    that does not exist or cannot take jobs."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    try:
        queues = client.describe_job_queues(jobQueues=[queue_name])["jobQueues"]
    except NoCredentialsError:
        raise RemoteComputeError("no AWS credentials to reach AWS Batch",
                                 "run `aws sso login` / set AWS_PROFILE") from None
    except (ClientError, EndpointConnectionError) as exc:
        raise RemoteComputeError(f"cannot reach AWS Batch to look up queue {queue_name!r}: "
                                 f"{exc}") from None
    if not queues:
        raise BatchQueueUnknown(f"AWS Batch job queue {queue_name!r} does not exist in this "
                                f"account/region",
                                "check METAFLOW_BATCH_JOB_QUEUE / @batch(queue=...) and "
                                "AWS_DEFAULT_REGION (the AWS stack's profile names the queue)")
    found = queues[0]
    if found.get("state") != "ENABLED" or found.get("status") == "INVALID":
        raise BatchQueueUnknown(f"AWS Batch job queue {queue_name!r} cannot take jobs (state "
                                f"{found.get('state')}, status {found.get('status')}: "
                                f"{found.get('statusReason', '')})",
                                "enable the queue or pick another one")
    arns = [c["computeEnvironment"] for c in found.get("computeEnvironmentOrder", [])]
    if not arns:
        return "EC2"
    try:
        envs = client.describe_compute_environments(computeEnvironments=arns)[
            "computeEnvironments"]
    except ClientError as exc:
        raise RemoteComputeError(
            f"cannot read the compute environments of queue {queue_name!r} (to choose "
            f"Fargate or EC2 job definitions): {exc.response['Error'].get('Code')}",
            "allow batch:DescribeComputeEnvironments to your identity") from None
    types = {(e.get("computeResources") or {}).get("type", "EC2") for e in envs}
    return "FARGATE" if types and types <= set(FARGATE_TYPES) else "EC2"


def check_role(iam, role_arn: str) -> None:
    """The role exists and trusts ECS tasks (what Batch needs to give it to the task)."""
    from botocore.exceptions import ClientError

    if not ROLE_ARN.match(role_arn):
        raise IamRoleNotAssumable(f"{role_arn!r} is not an IAM role ARN",
                                  "use arn:aws:iam::<account>:role/<name> "
                                  "(METAFLOW_ECS_S3_ACCESS_IAM_ROLE / @batch(iam_role=...))")
    name = role_arn.split(":role/", 1)[1].rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        code = exc.response["Error"].get("Code")
        if code == "NoSuchEntity":
            raise IamRoleNotAssumable(f"IAM role {role_arn} does not exist",
                                      "check the role ARN (the AWS stack's profile has it)"
                                      ) from None
        return  # not allowed to read roles: Batch will tell at submission
    document = role.get("AssumeRolePolicyDocument") or {}
    if isinstance(document, str):
        from urllib.parse import unquote

        document = json.loads(unquote(document))
    principals = json.dumps(document.get("Statement", []))
    if "ecs-tasks.amazonaws.com" not in principals:
        raise IamRoleNotAssumable(f"IAM role {role_arn} cannot be assumed by Batch tasks: its "
                                  f"trust policy does not name ecs-tasks.amazonaws.com",
                                  "add ecs-tasks.amazonaws.com as a trusted principal of the "
                                  "role (the AWS stack's batch component does)")


def _resolved(ctx: ComputeContext, step: str) -> dict[str, Any]:
    from ..decorators.batch import BatchDecorator

    decorators = list(ctx.graph[step].decorators)
    deco = next((d for d in decorators if isinstance(d, BatchDecorator)), None)
    if deco is None:
        deco = BatchDecorator()
    return deco.resolve(ctx.env.settings, decorators)
