"""@batch against moto server (``{"batch": {"use_docker": false}}``): job definitions are
registered once per content and reused, jobs are submitted, polled and terminated through
boto3 (every call's parameters checked by botocore against the Batch service model, and
the generated definitions and submissions validated by ``validate_parameters`` here too).
moto marks a job SUCCEEDED without running it, so a handler on the backend's client runs
the job's command on this machine when it is submitted, with exactly the job's environment
(the definition's plus what the job role would give: the moto credentials), and writes its
output to the job's CloudWatch log stream, which the backend then follows. What this
proves: the Batch API conversation, the container path end to end against moto S3 and the
metadata service, the queue/role/platform checks. What it does not: real Batch scheduling,
state transitions over time, or a terminated job's run being stopped (moto's job is already
done)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from botocore.validate import validate_parameters

from headwater import Flow
from headwater.compute.batch import BatchCompute, failure_reason, job_definition
from headwater.compute.errors import (BatchQueueUnknown, IamRoleNotAssumable,
                                      RemoteComputeError)
from headwater.decorators.batch import BatchDecorator
from headwater.settings import Settings

from .bridge import run_remote, start_run

ROOT = Path(__file__).resolve().parents[2]
POD_FLOW = Path(__file__).parent / "flows" / "pod_flow.py"
TRUST_ECS = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def _shape(operation: str):
    import botocore.session

    model = botocore.session.get_session().get_service_model("batch")
    return model.operation_model(operation).input_shape


@pytest.fixture
def batch(aws_env, s3_bucket, service_metadata_env, monkeypatch):
    """A moto Batch with an EC2 queue and a Fargate queue, roles, and S3 + the metadata
    service as the shared storage. Yields a namespace with the names."""
    request = urllib.request.Request(f"{aws_env.endpoint_url}/moto-api/config", method="POST",
                                     data=json.dumps({"batch": {"use_docker": False}}).encode())
    urllib.request.urlopen(request, timeout=10).close()
    iam, client, ec2 = aws_env.client("iam"), aws_env.client("batch"), aws_env.client("ec2")
    suffix = uuid.uuid4().hex[:8]
    task_role = iam.create_role(RoleName=f"task-{suffix}",
                                AssumeRolePolicyDocument=json.dumps(TRUST_ECS))["Role"]["Arn"]
    service_role = iam.create_role(RoleName=f"svc-{suffix}",
                                   AssumeRolePolicyDocument=json.dumps(TRUST_ECS))["Role"]["Arn"]
    ec2_env = client.create_compute_environment(
        computeEnvironmentName=f"ec2-{suffix}", type="UNMANAGED", state="ENABLED",
        serviceRole=service_role)["computeEnvironmentArn"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"sg-{suffix}", Description="hw",
                                      VpcId=vpc)["GroupId"]
    fargate_env = client.create_compute_environment(
        computeEnvironmentName=f"fg-{suffix}", type="MANAGED", state="ENABLED",
        serviceRole=service_role, computeResources={
            "type": "FARGATE", "maxvCpus": 16, "subnets": [subnet],
            "securityGroupIds": [group]})["computeEnvironmentArn"]
    queues = {}
    for name, env in (("ec2", ec2_env), ("fargate", fargate_env)):
        queues[name] = client.create_job_queue(
            jobQueueName=f"{name}-q-{suffix}", state="ENABLED", priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])["jobQueueArn"]
    monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "s3")
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_S3", f"s3://{s3_bucket}/flows")
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", aws_env.endpoint_url)
    monkeypatch.setenv("METAFLOW_BATCH_JOB_QUEUE", queues["ec2"])
    monkeypatch.setenv("METAFLOW_BATCH_CONTAINER_IMAGE", "headwater-task:test")
    monkeypatch.setenv("METAFLOW_ECS_S3_ACCESS_IAM_ROLE", task_role)
    from headwater import default_namespace

    default_namespace()

    class Names:
        pass

    names = Names()
    names.queues, names.task_role, names.server = queues, task_role, aws_env
    return names


def run_jobs_locally(backend, server, tmp_path):
    """On SubmitJob: run the job's command here with the job's environment, and put its
    output in the job's CloudWatch log stream (what the Batch agent's awslogs driver does)."""
    reader, logs = server.client("batch"), server.client("logs")
    image_env = {"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin",
                 "PYTHONPATH": os.environ.get("PYTHONPATH", ""), "HOME": str(tmp_path)}
    role_env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1"}
    seen = []

    def on_submit(parsed, **kwargs):
        detail = reader.describe_jobs(jobs=[parsed["jobId"]])["jobs"][0]
        container = detail["container"]
        env = {**image_env, **role_env,
               **{e["name"]: e["value"] for e in container["environment"]}}
        proc = subprocess.run(container["command"], env=env, cwd=tmp_path,
                              capture_output=True, timeout=120)
        seen.append((detail, proc.returncode))
        stream = container["logStreamName"]
        # The awslogs driver writes where the definition says (Batch's default otherwise).
        definition = reader.describe_job_definitions(jobDefinitions=[detail["jobDefinition"]])[
            "jobDefinitions"][0]["containerProperties"]
        group = (definition.get("logConfiguration") or {}).get("options", {}).get(
            "awslogs-group", "/aws/batch/job")
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        lines = (proc.stdout + proc.stderr).decode().splitlines() or ["(no output)"]
        now = int(time.time() * 1000)
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {"timestamp": now + i, "message": line}
            for i, line in enumerate(lines)])

    backend.client.meta.events.register("after-call.batch.SubmitJob", on_submit)
    backend.poll_seconds = 0.2
    return seen


def test_definitions_match_the_service_model():
    """EC2 and Fargate definitions with every knob, and a submission, pass botocore's
    parameter validation; the name follows the content."""
    from headwater.compute.batch import submit_parameters
    from headwater.package import CodePackage
    from headwater.task import TaskSpec

    settings = Settings(env={"METAFLOW_DEFAULT_DATASTORE": "s3",
                             "METAFLOW_DATASTORE_SYSROOT_S3": "s3://b/p",
                             "METAFLOW_BATCH_JOB_QUEUE": "q",
                             "METAFLOW_BATCH_CONTAINER_IMAGE": "img:1",
                             "METAFLOW_BATCH_LOG_GROUP": "/headwater/hw-dev/batch",
                             "METAFLOW_BATCH_DEFAULT_TAGS": '{"headwater:stack": "hw-dev"}',
                             "AWS_SECRET_ACCESS_KEY": "s3cr3t"})
    deco = BatchDecorator({"cpu": 2, "memory": 8000, "gpu": 1, "shared_memory": 1024,
                           "max_swap": 2048, "swappiness": 10, "use_tmpfs": True,
                           "efs_volumes": {"fs-0123": "/data"}, "ephemeral_storage": 50,
                           "iam_role": "arn:aws:iam::123456789012:role/task",
                           "execution_role": "arn:aws:iam::123456789012:role/exec"})
    deco.step_init(None, None, "train")
    resolved = deco.resolve(settings, [deco])
    for platform in ("EC2", "FARGATE"):
        params = job_definition("Flow", resolved, settings, platform)
        validate_parameters(params, _shape("RegisterJobDefinition"))
        assert "s3cr3t" not in json.dumps(params)
    ec2 = job_definition("Flow", resolved, settings, "EC2")
    assert ec2["containerProperties"]["linuxParameters"]["sharedMemorySize"] == 1024
    assert job_definition("Flow", resolved, settings, "EC2")["jobDefinitionName"] == \
        ec2["jobDefinitionName"]
    spec = TaskSpec("Flow", "1", "train", "2", 0, [])
    submit = submit_parameters(spec, "arn:def", "q", CodePackage("a" * 64, "k", 1, "0.1.0",
                                                                  "f.py"), 30)
    validate_parameters(submit, _shape("SubmitJob"))
    assert submit["timeout"] == {"attemptDurationSeconds": 60}


def test_failure_reasons():
    """Batch's statusReason/container reason become one-line reasons (strings as Batch
    documents them; not observed from a real job)."""
    assert failure_reason({"statusReason": "Essential container in task exited",
                           "container": {"reason": "OutOfMemoryError: Container killed due "
                                                   "to memory usage", "exitCode": 137}},
                          4096).startswith("out of memory: the container used more than its "
                                           "4096 MB")
    assert "cannot be pulled" in failure_reason({"statusReason": "CannotPullContainerError: "
                                                                 "not found"}, 1)
    assert failure_reason({"statusReason": "Job attempt duration exceeded timeout"},
                          1).startswith("timed out")


def test_unknown_queue_and_role_errors(batch, monkeypatch):
    """Compute.check against moto: an unknown queue, a missing role and a role that does
    not trust ECS tasks are one-line errors before anything is submitted (moto's IAM,
    not AWS's policy evaluation)."""
    monkeypatch.setenv("METAFLOW_BATCH_JOB_QUEUE", "no-such-queue")
    with pytest.raises(BatchQueueUnknown, match="'no-such-queue' does not exist"):
        start_run(POD_FLOW, BatchCompute)
    monkeypatch.setenv("METAFLOW_BATCH_JOB_QUEUE", batch.queues["ec2"])
    monkeypatch.setenv("METAFLOW_ECS_S3_ACCESS_IAM_ROLE", "arn:aws:iam::123456789012:role/nope")
    with pytest.raises(IamRoleNotAssumable, match="does not exist"):
        start_run(POD_FLOW, BatchCompute)
    untrusted = batch.server.client("iam").create_role(
        RoleName=f"lambda-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
                "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]
    monkeypatch.setenv("METAFLOW_ECS_S3_ACCESS_IAM_ROLE", untrusted["Arn"])
    with pytest.raises(IamRoleNotAssumable, match="does not name ecs-tasks.amazonaws.com"):
        start_run(POD_FLOW, BatchCompute)


def test_foreach_flow_on_batch(batch, tmp_path):
    """The foreach example with --with batch on the EC2 queue: every task a Batch job whose
    command ran here; one job definition registered and reused by every job; logs followed
    from CloudWatch; results read back through the Client API."""
    seen = []
    ok, run_id, scheduler = run_remote(
        ROOT / "examples" / "parallel_foreach_flow.py", BatchCompute,
        {"n_datasets": 3, "max_sleep": 0}, with_specs=("batch",),
        configure=lambda b: seen.extend([run_jobs_locally(b, batch.server, tmp_path)]))
    assert ok, scheduler.failure
    jobs = seen[0]
    assert len(jobs) == 6 and all(code == 0 for _, code in jobs)
    definitions = {d["jobDefinition"] for d, _ in jobs}
    assert len(definitions) == 1
    run = Flow("ParallelProcessingFlow")[run_id]
    assert sorted(t.data.analysis_result["position"] for t in run["process_dataset"]) == \
        [0, 1, 2]
    assert b"Processing 3 datasets in parallel" in b"\n".join(scheduler.output)
    # A second run reuses the ACTIVE definition instead of registering a revision.
    described = batch.server.client("batch").describe_job_definitions(status="ACTIVE")
    queue = batch.queues["ec2"].rsplit("/", 1)[-1]
    names = [d["jobDefinitionName"] for d in described["jobDefinitions"]
             if d["jobDefinitionName"].startswith(f"{queue}_ParallelProcessingFlow-")]
    assert len(names) == 1


def test_fargate_queue_and_a_failing_step(batch, tmp_path, monkeypatch):
    """On a Fargate queue the definition says FARGATE; a step that raises is a recorded
    failure, whatever state moto reports."""
    monkeypatch.setenv("METAFLOW_BATCH_JOB_QUEUE", batch.queues["fargate"])
    ctx, spec = start_run(POD_FLOW, BatchCompute, {"mode": "raise"})
    backend = BatchCompute(ctx)
    seen = run_jobs_locally(backend, batch.server, tmp_path)
    try:
        backend.start(spec, None)
        events = []
        while not any(type(e).__name__ == "TaskExited" for e in events):
            events += backend.wait(5)
    finally:
        backend.close()
    exited = events[-1]
    assert exited.result is not None and not exited.result.ok
    definition = batch.server.client("batch").describe_job_definitions(
        jobDefinitions=[seen[0][0]["jobDefinition"]])["jobDefinitions"][0]
    assert definition["platformCapabilities"] == ["FARGATE"]


def test_kill_terminates_the_job(batch, tmp_path):
    """kill calls TerminateJob with the reason and reports the attempt at once (moto's job
    has already finished, so what a running job does on termination is not shown)."""
    ctx, spec = start_run(POD_FLOW, BatchCompute)
    backend = BatchCompute(ctx)
    calls = []
    backend.client.meta.events.register(
        "provide-client-params.batch.TerminateJob", lambda params, **kw: calls.append(params))
    backend.poll_seconds = 60  # the poller must not see SUCCEEDED first
    try:
        backend.start(spec, None)
        backend.kill(("start", spec.task_id, 0), "interrupted (Ctrl-C)")
        exited = backend.wait(1)[-1]
    finally:
        backend.close()
    assert calls and calls[0]["reason"] == "headwater: interrupted (Ctrl-C)"
    assert exited.result is None and exited.reason == "interrupted (Ctrl-C)"


def test_jobs_carry_the_profiles_tags_and_log_to_its_group(batch, tmp_path, monkeypatch):
    """With the AWS stack's METAFLOW_BATCH_DEFAULT_TAGS and METAFLOW_BATCH_LOG_GROUP, moto
    records the stack tag on the job and on its definition (what the users' policy needs to
    stop the job), the definition's awslogs driver names the stack's group and its name
    starts with the queue's (what SubmitJob is scoped to), and the console output is read
    back from that group."""
    monkeypatch.setenv("METAFLOW_BATCH_DEFAULT_TAGS", '{"headwater:stack": "hw-dev"}')
    monkeypatch.setenv("METAFLOW_BATCH_LOG_GROUP", "/headwater/hw-dev/batch")
    ctx, spec = start_run(POD_FLOW, BatchCompute)
    backend = BatchCompute(ctx)
    seen = run_jobs_locally(backend, batch.server, tmp_path)
    output = []
    try:
        backend.start(spec, None)
        events = []
        while not any(type(e).__name__ == "TaskExited" for e in events):
            events += backend.wait(5)
        output = [e.data for e in events if type(e).__name__ == "TaskOutput"]
    finally:
        backend.close()
    assert events[-1].result is not None and events[-1].result.ok
    detail = seen[0][0]
    assert detail["tags"]["headwater:stack"] == "hw-dev"
    client = batch.server.client("batch")
    definition = client.describe_job_definitions(jobDefinitions=[detail["jobDefinition"]])[
        "jobDefinitions"][0]
    assert definition["jobDefinitionName"].startswith(
        batch.queues["ec2"].rsplit("/", 1)[-1] + "_PodFlow-")
    assert definition["tags"]["headwater:stack"] == "hw-dev"
    assert definition["containerProperties"]["logConfiguration"] == {
        "logDriver": "awslogs", "options": {"awslogs-group": "/headwater/hw-dev/batch"}}
    stream = detail["container"]["logStreamName"]
    logged = batch.server.client("logs").get_log_events(
        logGroupName="/headwater/hw-dev/batch", logStreamName=stream)["events"]
    assert logged and [e["message"].encode() for e in logged] == output


def test_malformed_default_tags_are_refused_before_any_job(batch, monkeypatch):
    monkeypatch.setenv("METAFLOW_BATCH_DEFAULT_TAGS", "headwater:stack=hw-dev")
    with pytest.raises(RemoteComputeError, match="METAFLOW_BATCH_DEFAULT_TAGS=.* is not a "
                                                 "JSON object of strings"):
        start_run(POD_FLOW, BatchCompute)
