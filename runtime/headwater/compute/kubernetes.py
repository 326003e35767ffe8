"""Kubernetes: one ``batch/v1`` Job per task attempt, through the official client.

The cluster comes from the kubeconfig (``$KUBECONFIG`` or ``~/.kube/config``, context
``METAFLOW_KUBERNETES_CONTEXT`` or the current one) or, inside a pod, from the in-cluster
service account. Each Job runs the container entry point (``compute/container.py``) on the
run's code package with the profile's settings as environment; credentials reach the task
through workload identity / IRSA (the service account and its labels) or the Secrets named
in ``secrets=`` (``envFrom``), never as values in the manifest.

One thread lists the run's pods every ``poll_seconds`` and maps what it sees: a container
that terminates ends the attempt (``OOMKilled``, ``Evicted`` and other reasons are passed
on); an image that cannot be pulled, or a pod the scheduler cannot place for longer than
``unschedulable_grace`` seconds, ends it with the cluster's message. One thread per running
pod follows its log for the console. The attempt's outcome is what the task recorded in the
datastore (``ComputeContext.read_result``); finished Jobs are deleted (propagation
``Background``), with ``ttlSecondsAfterFinished`` as the backstop.
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
from .errors import (ClusterUnreachable, KubernetesObjectMissing, RemoteComputeError,
                     require_remote_storage)

if TYPE_CHECKING:
    from ..package import CodePackage
    from ..settings import Settings
    from ..task import TaskSpec

CONTAINER_NAME = "main"
LABEL_PREFIX = "headwater.dev"
IMAGE_PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                       "ErrImageNeverPull")
CONFIG_FAILURES = ("CreateContainerConfigError", "CreateContainerError")
LOG_DRAIN_SECONDS = 30.0  # how long a finished pod's log may take to end


def api_client(settings: "Settings"):
    """A ``kubernetes.client.ApiClient`` for the profile's cluster."""
    import os

    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    context = settings.get("METAFLOW_KUBERNETES_CONTEXT")
    try:
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not context and not os.path.exists(
                os.path.expanduser(os.environ.get("KUBECONFIG") or "~/.kube/config")):
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        # The client reads $KUBECONFIG once, at import; read it on every call.
        return config.new_client_from_config(
            config_file=os.environ.get("KUBECONFIG") or "~/.kube/config", context=context)
    except ConfigException as exc:
        raise ClusterUnreachable(
            f"no Kubernetes cluster configured: {exc}",
            "get credentials (az aks get-credentials / aws eks update-kubeconfig), or set "
            "KUBECONFIG and METAFLOW_KUBERNETES_CONTEXT") from None
    except OSError as exc:
        raise ClusterUnreachable(f"cannot read the kubeconfig: {exc}",
                                 "check KUBECONFIG") from None


def _api_error(exc: Exception, server: str, what: str) -> Exception:
    """A clear error for a failed API call (never the raw body or a token)."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        if exc.status in (401, 403):
            return ClusterUnreachable(
                f"the cluster at {server} refused to {what} (HTTP {exc.status} {exc.reason})",
                "refresh your credentials (az aks get-credentials / aws eks "
                "update-kubeconfig) and check your RBAC role in the namespace")
        detail = ""
        try:  # the API's Status message says what was wrong (it holds no credentials)
            detail = ": " + json.loads(exc.body or "{}").get("message", "")
        except (ValueError, AttributeError):
            pass
        return RemoteComputeError(f"the cluster at {server} refused to {what} "
                                  f"(HTTP {exc.status} {exc.reason}){detail.rstrip(': ')}")
    return ClusterUnreachable(f"the cluster at {server} is unreachable ({type(exc).__name__}) "
                              f"while trying to {what}",
                              "check the network/VPN and `kubectl cluster-info`; the "
                              "kubeconfig context may be stale")


def _label(value: str) -> str:
    value = re.sub(r"[^A-Za-z0-9_.-]", "-", str(value))[:63]
    return value.strip("-_.") or "x"


def job_name(spec: "TaskSpec") -> str:
    """A DNS-1123 name, unique per attempt, at most 63 characters (it becomes a label)."""
    base = f"{spec.flow_name}-{spec.run_id}-{spec.step_name}-{spec.task_id}-{spec.attempt}"
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    clean = re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")
    return f"hw-{clean[:50].rstrip('-')}-{digest}"


def job_manifest(spec: "TaskSpec", package: "CodePackage", settings: "Settings",
                 resolved: dict[str, Any], timeout: float | None,
                 with_specs: tuple[str, ...] = (), config_files: dict[str, str] | None = None,
                 ttl_seconds: int = 600) -> dict[str, Any]:
    """The Job (as the API's JSON) that runs attempt ``spec``. ``resolved`` is
    ``KubernetesDecorator.resolve``'s result."""
    from .container import container_command

    name = job_name(spec)
    labels = {**{str(k): _label(v) for k, v in resolved["labels"].items()},
              f"{LABEL_PREFIX}/flow": _label(spec.flow_name),
              f"{LABEL_PREFIX}/run-id": _label(spec.run_id),
              f"{LABEL_PREFIX}/step": _label(spec.step_name),
              f"{LABEL_PREFIX}/task-id": _label(spec.task_id),
              f"{LABEL_PREFIX}/attempt": str(spec.attempt),
              f"{LABEL_PREFIX}/job": name,
              "app.kubernetes.io/name": "headwater-task",
              "app.kubernetes.io/managed-by": "headwater"}
    annotations = {**{str(k): str(v) for k, v in resolved["annotations"].items()},
                   f"{LABEL_PREFIX}/pathspec":
                       f"{spec.flow_name}/{spec.run_id}/{spec.step_name}/{spec.task_id}",
                   f"{LABEL_PREFIX}/user": spec.user,
                   f"{LABEL_PREFIX}/code-package-sha": package.sha}
    container, pod_fields = task_pod(resolved, container_command(package, spec, with_specs,
                                                                 config_files), settings)
    pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container],
                                **pod_fields}
    job_spec: dict[str, Any] = {
        "backoffLimit": 0,  # retries are the scheduler's (@retry), one Job per attempt
        "ttlSecondsAfterFinished": ttl_seconds,
        "template": {"metadata": {"labels": labels, "annotations": annotations},
                     "spec": pod_spec}}
    if timeout:
        job_spec["activeDeadlineSeconds"] = int(math.ceil(timeout))
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": resolved["namespace"], "labels": labels,
                         "annotations": annotations},
            "spec": job_spec}


def task_pod(resolved: dict[str, Any], command: list[str], settings: "Settings"
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The task's container and the pod-level fields (service account, node selector,
    tolerations, volumes) for ``@kubernetes``' resolved settings: what a Job's pod and an
    Argo Workflows step template both hold."""
    from .container import container_environment

    env: list[dict[str, Any]] = [{"name": k, "value": v}
                                 for k, v in sorted(container_environment(settings).items())]
    env.append({"name": "METAFLOW_KUBERNETES_POD_NAME",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    memory = int(math.ceil(resolved["memory"]))
    requests = {"cpu": _quantity(resolved["cpu"]), "memory": f"{memory}M",
                "ephemeral-storage": f"{int(math.ceil(resolved['disk']))}M"}
    limits: dict[str, str] = {"memory": f"{memory}M"}
    if resolved["gpu"]:
        limits[f"{resolved['gpu_vendor']}.com/gpu"] = str(resolved["gpu"])
    mounts: list[dict] = []
    volumes: list[dict] = []
    if resolved["use_tmpfs"] or resolved["tmpfs_size"]:
        tmpfs = {"medium": "Memory"}
        if resolved["tmpfs_size"]:
            tmpfs["sizeLimit"] = f"{int(resolved['tmpfs_size'])}M"
        volumes.append({"name": "tmpfs", "emptyDir": tmpfs})
        mounts.append({"name": "tmpfs", "mountPath": resolved["tmpfs_path"]})
        env.append({"name": "METAFLOW_TEMPDIR", "value": resolved["tmpfs_path"]})
    if resolved["shared_memory"]:
        volumes.append({"name": "dshm", "emptyDir": {
            "medium": "Memory", "sizeLimit": f"{int(resolved['shared_memory'])}M"}})
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    for i, (claim, path) in enumerate(sorted(resolved["persistent_volume_claims"].items())):
        volumes.append({"name": f"pvc-{i}", "persistentVolumeClaim": {"claimName": claim}})
        mounts.append({"name": f"pvc-{i}", "mountPath": path})
    container: dict[str, Any] = {
        "name": CONTAINER_NAME, "image": resolved["image"],
        "command": command,
        "env": env, "resources": {"requests": requests, "limits": limits},
        # The last log lines become the termination message when the container fails.
        "terminationMessagePolicy": "FallbackToLogsOnError"}
    if resolved["secrets"]:
        container["envFrom"] = [{"secretRef": {"name": s}} for s in resolved["secrets"]]
    if resolved["image_pull_policy"]:
        container["imagePullPolicy"] = resolved["image_pull_policy"]
    if mounts:
        container["volumeMounts"] = mounts
    pod: dict[str, Any] = {}
    if resolved["service_account"]:
        pod["serviceAccountName"] = resolved["service_account"]
    if resolved["node_selector"]:
        pod["nodeSelector"] = dict(resolved["node_selector"])
    if resolved["tolerations"]:
        pod["tolerations"] = resolved["tolerations"]
    if volumes:
        pod["volumes"] = volumes
    return container, pod


def _quantity(cpu: float) -> str:
    return str(int(cpu)) if float(cpu).is_integer() else f"{int(math.ceil(cpu * 1000))}m"


@dataclass
class _Attempt:
    spec: "TaskSpec"
    key: TaskKey
    name: str
    namespace: str
    memory_mb: int
    image: str
    submitted: float = field(default_factory=time.monotonic)
    pod: str | None = None
    log_thread: threading.Thread | None = None
    log_done: bool = False
    logs: bytearray = field(default_factory=bytearray)
    partial: bytes = b""
    terminal: tuple[str | None] | None = None  # (reason,) once the pod is done
    terminal_at: float = 0.0
    unschedulable_since: float | None = None
    finished: bool = False


class KubernetesCompute(Compute):
    """Runs each attempt as a Kubernetes Job."""

    name = "kubernetes"
    poll_seconds = 1.0
    #: How long a pod may stay unschedulable (waiting for the autoscaler) before the
    #: attempt fails with the scheduler's message.
    unschedulable_grace = 600.0
    ttl_seconds = 600

    # --- before the run ------------------------------------------------------------------

    @classmethod
    def check(cls, ctx: ComputeContext, steps: list[str]) -> None:
        from kubernetes import client

        settings = ctx.env.settings
        require_remote_storage(settings, cls.name)
        targets = {(r["namespace"], r["service_account"])
                   for r in (_resolved(ctx, s) for s in steps)}
        api = api_client(settings)
        server = api.configuration.host
        core = client.CoreV1Api(api)
        try:
            for namespace, account in sorted(targets, key=str):
                _require(lambda: core.read_namespace(namespace), server,
                         f"namespace {namespace!r} does not exist in the cluster at {server}",
                         "create it (the stack's Kubernetes component does) or set "
                         "METAFLOW_KUBERNETES_NAMESPACE / @kubernetes(namespace=...)",
                         f"read namespace {namespace!r}")
                if account:
                    _require(lambda: core.read_namespaced_service_account(account, namespace),
                             server,
                             f"service account {account!r} does not exist in namespace "
                             f"{namespace!r}",
                             "create it (the stack's Kubernetes component does) or set "
                             "METAFLOW_KUBERNETES_SERVICE_ACCOUNT / "
                             "@kubernetes(service_account=...)",
                             f"read service account {account!r}")
        finally:
            api.close()

    # --- running -------------------------------------------------------------------------

    def __init__(self, ctx: ComputeContext):
        super().__init__(ctx)
        from kubernetes import client

        self.api = api_client(ctx.env.settings)
        self.server = self.api.configuration.host
        self.core = client.CoreV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.events: queue.Queue[ComputeEvent] = queue.Queue()
        self.attempts: dict[TaskKey, _Attempt] = {}
        self.lock = threading.RLock()
        self.package: "CodePackage | None" = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def code_package(self) -> "CodePackage":
        """The run's code package, made and uploaded on first use."""
        if self.package is None:
            from ..package import package_for_run

            self.package = package_for_run(self.ctx)
        return self.package

    def manifest(self, spec: "TaskSpec", timeout: float | None) -> dict[str, Any]:
        """The Job for ``spec`` (also what tests validate against the Kubernetes schema)."""
        from ..package import package_paths

        options = self.ctx.options
        configs = package_paths(self.ctx)
        return job_manifest(spec, self.code_package(), self.ctx.env.settings,
                            _resolved(self.ctx, spec.step_name), timeout,
                            tuple(options.get("with_specs", ())), configs, self.ttl_seconds)

    def start(self, spec: "TaskSpec", timeout: float | None) -> None:
        body = self.manifest(spec, timeout)
        namespace = body["metadata"]["namespace"]
        try:
            self.batch.create_namespaced_job(namespace, body)
        except Exception as exc:
            if isinstance(exc, _client_model_error()):
                first = str(exc).strip().splitlines()
                raise RemoteComputeError(
                    f"the Job {body['metadata']['name']} is not a valid Kubernetes Job: "
                    f"{' '.join(line.strip() for line in first[1:3])}",
                    "check the @kubernetes attributes (tolerations, labels, volumes)"
                ) from None
            raise _api_error(exc, self.server, f"create Job {body['metadata']['name']}")
        container = body["spec"]["template"]["spec"]["containers"][0]
        attempt = _Attempt(spec, task_key(spec), body["metadata"]["name"], namespace,
                           int(container["resources"]["limits"]["memory"][:-1]),
                           container["image"])
        with self.lock:
            self.attempts[attempt.key] = attempt
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll_loop, name="headwater-k8s-poll",
                                            daemon=True)
            self._poller.start()

    def wait(self, timeout: float) -> list[ComputeEvent]:
        return drain(self.events, timeout)

    def kill(self, key: TaskKey, reason: str) -> None:
        with self.lock:
            attempt = self.attempts.get(key)
        if attempt is None or attempt.finished:
            return
        self._delete(attempt)
        self._finish(attempt, reason)

    @property
    def running(self) -> int:
        with self.lock:
            return sum(1 for a in self.attempts.values() if not a.finished)

    def kill_all(self, reason: str) -> None:
        with self.lock:
            active = [a for a in self.attempts.values() if not a.finished]
        for attempt in active:
            self.kill(attempt.key, reason)
        deadline = time.monotonic() + 30
        for attempt in active:  # wait until the cluster has let go of them
            while time.monotonic() < deadline and self._job_exists(attempt):
                time.sleep(0.2)

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(5)
        self.api.close()

    # --- watching ------------------------------------------------------------------------

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            with self.lock:
                active = [a for a in self.attempts.values() if not a.finished]
            if not active:
                continue
            run = active[0].spec
            selector = (f"{LABEL_PREFIX}/flow={_label(run.flow_name)},"
                        f"{LABEL_PREFIX}/run-id={_label(run.run_id)}")
            pods: dict[str, Any] = {}
            jobs: dict[str, Any] = {}
            try:
                for namespace in sorted({a.namespace for a in active}):
                    for pod in self.core.list_namespaced_pod(
                            namespace, label_selector=selector).items:
                        name = (pod.metadata.labels or {}).get(f"{LABEL_PREFIX}/job")
                        if name and (name not in pods or _newer(pod, pods[name])):
                            pods[name] = pod
                    for job in self.batch.list_namespaced_job(
                            namespace, label_selector=selector).items:
                        jobs[job.metadata.name] = job
            except Exception as exc:  # a blip in the API: try again next round
                self._say(active[0], f"headwater: cannot read pod status from "
                                     f"{self.server}: {type(exc).__name__}")
                continue
            for attempt in active:
                try:
                    self._update(attempt, pods.get(attempt.name), jobs.get(attempt.name))
                except Exception as exc:
                    self._finish(attempt, f"headwater could not follow the Job: {exc}")

    def _update(self, attempt: _Attempt, pod, job) -> None:
        if attempt.finished:
            return
        if attempt.terminal is not None:
            # The pod is done; a log stream that does not end must not hold the attempt.
            if time.monotonic() - attempt.terminal_at > LOG_DRAIN_SECONDS:
                self._finish(attempt, attempt.terminal[0])
            return
        deadline = _job_failure(job)
        if deadline is not None:
            self._terminal(attempt, deadline)
            return
        if pod is None:
            if job is None and time.monotonic() - attempt.submitted > 30:
                self._terminal(attempt, "the Job was deleted outside headwater")
            return
        attempt.pod = pod.metadata.name
        status = pod.status
        phase = status.phase if status else None
        state = _container_state(pod)
        if phase == "Pending":
            waiting = state.waiting if state else None
            if waiting and waiting.reason in IMAGE_PULL_FAILURES:
                self._terminal(attempt, f"image {attempt.image} cannot be pulled "
                                        f"({waiting.reason}: {waiting.message or 'no detail'}); "
                                        f"check the image name and that the cluster may pull "
                                        f"from the registry")
            elif waiting and waiting.reason in CONFIG_FAILURES:
                self._terminal(attempt, f"the container could not be created "
                                        f"({waiting.reason}: {waiting.message or 'no detail'})")
            else:
                message = _unschedulable(pod)
                if message is None:
                    attempt.unschedulable_since = None
                elif attempt.unschedulable_since is None:
                    attempt.unschedulable_since = time.monotonic()
                    self._say(attempt, f"headwater: pod {attempt.pod} is not scheduled yet: "
                                       f"{message} (waiting up to {self.unschedulable_grace:g} s "
                                       f"for capacity)")
                elif time.monotonic() - attempt.unschedulable_since >= self.unschedulable_grace:
                    self._terminal(attempt, f"Unschedulable: {message}; ask for less "
                                            f"(@kubernetes/@resources cpu, memory, gpu) or "
                                            f"add capacity that matches node_selector and "
                                            f"tolerations")
            return
        if phase in ("Running", "Succeeded", "Failed") and attempt.log_thread is None and (
                state is None or state.waiting is None):
            attempt.log_thread = threading.Thread(target=self._follow_log, args=(attempt,),
                                                  daemon=True)
            attempt.log_thread.start()
        if phase in ("Succeeded", "Failed"):
            self._terminal(attempt, _failure_reason(pod, state, attempt.memory_mb)
                           if phase == "Failed" else None)

    def _terminal(self, attempt: _Attempt, reason: str | None) -> None:
        with self.lock:
            attempt.terminal, attempt.terminal_at = (reason,), time.monotonic()
            ready = attempt.log_done or attempt.log_thread is None
        if ready:
            self._finish(attempt, reason)

    def _follow_log(self, attempt: _Attempt) -> None:
        try:
            response = self.core.read_namespaced_pod_log(
                attempt.pod, attempt.namespace, container=CONTAINER_NAME, follow=True,
                _preload_content=False)
            try:
                for chunk in response.stream(None):
                    self._output(attempt, chunk)
            finally:
                response.release_conn()
        except Exception as exc:
            if not attempt.finished:
                self._say(attempt, f"headwater: the log stream of pod {attempt.pod} ended: "
                                   f"{type(exc).__name__}")
        self._output(attempt, b"", final=True)
        with self.lock:
            attempt.log_done = True
            terminal = attempt.terminal
        if terminal is not None:
            self._finish(attempt, terminal[0])

    def _output(self, attempt: _Attempt, data: bytes, final: bool = False) -> None:
        if attempt.finished:
            return
        attempt.logs += data
        lines = (attempt.partial + data).split(b"\n")
        attempt.partial = b"" if final else lines.pop()
        for line in lines:
            if line or not final:
                self.events.put(TaskOutput(attempt.key, Stream.STDOUT, line))

    def _say(self, attempt: _Attempt, message: str) -> None:
        self.events.put(TaskOutput(attempt.key, Stream.STDERR, message.encode()))

    def _finish(self, attempt: _Attempt, reason: str | None) -> None:
        with self.lock:
            if attempt.finished:
                return
            attempt.finished = True
        result = self.ctx.read_result(attempt.spec)
        if result is None:
            self._keep_streamed_log(attempt)
            if reason is None:
                reason = "the container exited without recording a result"
            last = _last_line(bytes(attempt.logs))
            if last and last not in reason and reason.startswith("the container exited"):
                reason += f": {last}"
        elif result.ok:
            reason = None
        self._delete(attempt)
        self.events.put(TaskExited(attempt.key, result, reason if result is None else None))

    def _keep_streamed_log(self, attempt: _Attempt) -> None:
        """The container stores the attempt's logs itself; if it died before it could, keep
        what the pod's log showed."""
        from ..datastore.task_store import TaskDataStore

        spec = attempt.spec
        store = TaskDataStore(self.ctx.env.backend, spec.flow_name, spec.run_id,
                              spec.step_name, spec.task_id)
        try:
            if attempt.logs and not store.backend.exists(store.log_key(spec.attempt,
                                                                       "stdout")):
                store.save_log(spec.attempt, "stdout", bytes(attempt.logs))
        except Exception:  # the log is a convenience; the outcome must still be reported
            pass

    def _delete(self, attempt: _Attempt) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.batch.delete_namespaced_job(attempt.name, attempt.namespace,
                                             propagation_policy="Background")
        except ApiException as exc:
            if exc.status != 404:
                self._say(attempt, f"headwater: could not delete Job {attempt.name} "
                                   f"(HTTP {exc.status}); its TTL removes it")
        except Exception as exc:
            self._say(attempt, f"headwater: could not delete Job {attempt.name}: "
                               f"{type(exc).__name__}; its TTL removes it")

    def _job_exists(self, attempt: _Attempt) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.batch.read_namespaced_job(attempt.name, attempt.namespace)
        except ApiException as exc:
            return exc.status != 404
        except Exception:
            return False
        return True


def _resolved(ctx: ComputeContext, step: str) -> dict[str, Any]:
    from ..decorators.kubernetes import KubernetesDecorator

    decorators = list(ctx.graph[step].decorators)
    deco = next((d for d in decorators if isinstance(d, KubernetesDecorator)), None)
    if deco is None:  # the step was sent here without @kubernetes: profile defaults
        deco = KubernetesDecorator()
    return deco.resolve(ctx.env.settings, decorators)


def _require(call, server: str, missing: str, fix: str, what: str) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        call()
    except ApiException as exc:
        if exc.status == 404:
            raise KubernetesObjectMissing(missing, fix) from None
        if exc.status == 403:
            return  # not allowed to look: the Job's creation will tell
        raise _api_error(exc, server, what) from None
    except Exception as exc:
        raise _api_error(exc, server, what) from None


def _client_model_error() -> tuple[type[BaseException], ...]:
    """The error the client raises when a body does not fit its models (recent clients
    check bodies with pydantic before sending them)."""
    try:
        from pydantic import ValidationError
    except ImportError:
        return ()
    return (ValidationError,)


def _last_line(data: bytes) -> str:
    lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def _newer(pod, other) -> bool:
    a, b = pod.metadata.creation_timestamp, other.metadata.creation_timestamp
    return a is not None and (b is None or a > b)


def _container_state(pod):
    for status in (pod.status.container_statuses or []) if pod.status else []:
        if status.name == CONTAINER_NAME:
            return status.state
    return None


def _unschedulable(pod) -> str | None:
    for condition in (pod.status.conditions or []) if pod.status else []:
        if condition.type == "PodScheduled" and condition.status == "False":
            return condition.message or condition.reason or "no node fits"
    return None


def _job_failure(job) -> str | None:
    if job is None or job.status is None:
        return None
    for condition in job.status.conditions or []:
        if condition.type == "Failed" and condition.status == "True" and \
                condition.reason == "DeadlineExceeded":
            limit = job.spec.active_deadline_seconds if job.spec else None
            return (f"timed out: the Job ran longer than its activeDeadlineSeconds ({limit} s, "
                    f"from @timeout) and Kubernetes stopped it")
    return None


def _failure_reason(pod, state, memory_mb: int) -> str:
    status = pod.status
    if status.reason == "Evicted":
        return f"Evicted: {status.message or 'the node ran out of resources'}"
    terminated = state.terminated if state else None
    if terminated is None:
        return f"the pod failed ({status.reason or 'no reason given'}: {status.message or ''})"
    if terminated.reason == "OOMKilled":
        return (f"OOMKilled: the container used more than its memory limit of {memory_mb} MB; "
                f"ask for more with @kubernetes(memory=...) or @resources(memory=...)")
    detail = f" ({terminated.reason})" if terminated.reason not in (None, "Error") else ""
    message = f"the container exited with code {terminated.exit_code}{detail}"
    last = _last_line((terminated.message or "").encode())
    if last:
        message += f": {last}"
    return message
