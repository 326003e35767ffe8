"""A small stand-in for the Kubernetes API server, at the HTTP level the official client
talks to, that runs each Job's pod as a local process.

What it implements (the routes ``headwater.compute.kubernetes`` uses, with the API's JSON
shapes and ``Status`` errors): reading namespaces and service accounts; creating, reading,
listing (equality label selectors) and deleting ``batch/v1`` Jobs; listing pods; a pod's log,
streamed with chunked encoding while it runs (``follow=true``). Every Job it accepts is
first validated against the Kubernetes 1.30 schema (``kubernetes_validate``, strict): an
invalid Job is rejected with HTTP 422 as a real API server would.

How a pod "runs": one node with ``node_cpu``/``node_memory_mb`` capacity and
``node_labels``/``node_taints``. A pod that does not fit stays ``Pending`` with the
condition ``PodScheduled=False, reason=Unschedulable`` and the scheduler's kind of message;
an image not in ``images`` stays ``Pending`` with ``ErrImagePull``/``ImagePullBackOff``; a
missing Secret in ``envFrom`` gives ``CreateContainerConfigError``. Otherwise the
container's command runs as a local process with exactly the Job's environment (``env``
values plus the keys of the Secrets in ``envFrom``) on top of the image's own environment
(``image_env``: ``PATH``, ``PYTHONPATH``, ``HOME``, as the task image sets them). Exit code
137 is reported as ``OOMKilled`` (what the kubelet reports when the kernel's OOM killer ends
the container; the memory limit itself is not enforced here). ``activeDeadlineSeconds`` kills
the process and fails the Job with ``DeadlineExceeded``; ``evict()`` stops a pod the way
the kubelet does under node pressure (phase Failed, reason Evicted); deleting a Job sends the process
SIGTERM (SIGKILL after ``grace_seconds``); ``ttlSecondsAfterFinished`` removes finished Jobs.

It also stores Argo Workflows' custom objects (WorkflowTemplate, CronWorkflow, Workflow:
create, get, list, replace with resourceVersion, delete), validated with Argo's own models
as the CRD schema would, for the deployer; no controller runs them.

What it does not do: authentication, watches, resource versions, field selectors, more than
one container per pod, restarts, real resource limits, images (the command runs on this
machine's Python).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quantity_mb(text: str) -> float:
    units = {"": 1e-6, "k": 1e-3, "M": 1, "G": 1e3, "T": 1e6, "Ki": 1024 / 1e6,
             "Mi": 1.048576, "Gi": 1073.741824}
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text).groups()
    return float(number) * units[unit]


def _cpu(text: str) -> float:
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


@dataclass
class Pod:
    name: str
    namespace: str
    job: str
    labels: dict[str, str]
    created: str = field(default_factory=_now)
    phase: str = "Pending"
    conditions: list[dict] = field(default_factory=list)
    state: dict = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    reason: str | None = None
    message: str | None = None
    proc: subprocess.Popen | None = None
    log_path: str | None = None
    image: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        status: dict[str, Any] = {"phase": self.phase, "conditions": self.conditions,
                                  "containerStatuses": [{
                                      "name": "main", "image": self.image, "imageID": "",
                                      "ready": self.phase == "Running", "restartCount": 0,
                                      "state": self.state}]}
        if self.reason:
            status["reason"], status["message"] = self.reason, self.message
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": self.name, "namespace": self.namespace,
                             "labels": self.labels, "uid": str(uuid.uuid4()),
                             "creationTimestamp": self.created},
                "spec": {"containers": [{"name": "main", "image": self.image}]},
                "status": status}


@dataclass
class Job:
    body: dict
    created: str = field(default_factory=_now)
    started: float = field(default_factory=time.monotonic)
    conditions: list[dict] = field(default_factory=list)
    finished_at: float | None = None
    pod: Pod | None = None

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    def to_json(self) -> dict:
        body = json.loads(json.dumps(self.body))
        body["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=self.created)
        status: dict[str, Any] = {"conditions": self.conditions} if self.conditions else {}
        pod = self.pod
        if pod is not None:
            status["active"] = 1 if pod.phase in ("Pending", "Running") else 0
            status["succeeded"] = 1 if pod.phase == "Succeeded" else 0
            status["failed"] = 1 if pod.phase == "Failed" else 0
        body["status"] = status
        return body


class KubernetesStandIn:
    """The server's state and behaviour; ``url`` is what a kubeconfig points at."""

    def __init__(self, workdir: str, image_env: dict[str, str]):
        self.workdir = workdir
        self.image_env = dict(image_env)
        self.namespaces = {"default"}
        self.service_accounts: set[tuple[str, str]] = set()
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.images = {"headwater-task:test"}
        self.node_cpu = 4.0
        self.node_memory_mb = 16000.0
        self.node_labels = {"kubernetes.io/os": "linux"}
        self.node_taints: list[dict] = []
        self.grace_seconds = 5.0
        self.jobs: dict[tuple[str, str], Job] = {}
        self.accepted: list[dict] = []  # every Job body accepted, in order
        self.rejected: list[str] = []  # validation errors of refused Jobs
        self.deleted: list[str] = []  # names of Jobs deleted by a client
        # Argo's custom objects, as an API server with the Argo CRDs installed stores them:
        # (namespace, plural, name) -> object
        self.custom_objects: dict[tuple[str, str, str], dict] = {}
        self._versions = iter(range(1, 10**9))
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._threads = [threading.Thread(target=self.server.serve_forever, daemon=True),
                         threading.Thread(target=self._controller, daemon=True)]
        for t in self._threads:
            t.start()

    # --- set-up helpers for tests --------------------------------------------------------

    def write_kubeconfig(self, path: str, namespace: str = "default") -> str:
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "standin",
                  "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
                  "users": [{"name": "tester", "user": {"token": "not-a-real-token"}}],
                  "contexts": [{"name": "standin", "context": {
                      "cluster": "standin", "user": "tester", "namespace": namespace}}]}
        with open(path, "w") as f:
            json.dump(config, f)
        return path

    def stop(self) -> None:
        self._stop.set()
        with self.lock:
            jobs = list(self.jobs.values())
        for job in jobs:
            self._kill(job.pod, signal.SIGKILL)
        self.server.shutdown()
        self.server.server_close()

    # --- the controller: scheduling, process exits, deadlines, TTL ------------------------

    def _controller(self) -> None:
        while not self._stop.wait(0.05):
            with self.lock:
                jobs = list(self.jobs.items())
            for key, job in jobs:
                self._step(key, job)

    def _step(self, key, job: Job) -> None:
        pod = job.pod
        spec = job.body["spec"]
        if job.finished_at is not None:
            ttl = spec.get("ttlSecondsAfterFinished")
            if ttl is not None and time.monotonic() - job.finished_at >= ttl:
                with self.lock:
                    self.jobs.pop(key, None)
            return
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is not None and time.monotonic() - job.started >= deadline:
            self._kill(pod, signal.SIGKILL)
            pod.phase, pod.reason = "Failed", "DeadlineExceeded"
            pod.message = "Pod was active on the node longer than the specified deadline"
            job.conditions = [{"type": "Failed", "status": "True",
                               "reason": "DeadlineExceeded",
                               "message": "Job was active longer than specified deadline",
                               "lastTransitionTime": _now()}]
            job.finished_at = time.monotonic()
            return
        with self.lock:
            running = pod.phase == "Running"
        if pod.proc is not None and pod.proc.poll() is not None and running:
            code = pod.proc.returncode
            code = 128 - code if code < 0 else code
            terminated = {"exitCode": code, "startedAt": job.created, "finishedAt": _now(),
                          "reason": "OOMKilled" if code == 137 else
                          ("Completed" if code == 0 else "Error")}
            if code:
                with open(pod.log_path, "rb") as f:
                    tail = f.read()[-2048:].decode("utf-8", "replace")
                terminated["message"] = tail
            pod.state = {"terminated": terminated}
            pod.phase = "Succeeded" if code == 0 else "Failed"
            job.conditions = [{"type": "Complete" if code == 0 else "Failed", "status": "True",
                               "reason": None if code == 0 else "BackoffLimitExceeded",
                               "lastTransitionTime": _now()}]
            job.finished_at = time.monotonic()

    def _admit(self, job: Job) -> None:
        """What the scheduler and the kubelet do with a new Job's pod."""
        body = job.body
        template = body["spec"]["template"]
        pod_spec = template["spec"]
        container = pod_spec["containers"][0]
        namespace = body["metadata"]["namespace"]
        pod = Pod(name=f"{job.name}-{uuid.uuid4().hex[:5]}", namespace=namespace, job=job.name,
                  labels={**template["metadata"].get("labels", {}), "job-name": job.name},
                  image=container["image"])
        job.pod = pod
        requests = container.get("resources", {}).get("requests", {})
        problems = []
        if _cpu(requests.get("cpu", "0")) > self.node_cpu:
            problems.append("Insufficient cpu")
        if _quantity_mb(requests.get("memory", "0")) > self.node_memory_mb:
            problems.append("Insufficient memory")
        limits = container.get("resources", {}).get("limits", {})
        for name in limits:
            if name.endswith(".com/gpu"):
                problems.append(f"Insufficient {name}")
        selector = pod_spec.get("nodeSelector", {})
        if any(self.node_labels.get(k) != v for k, v in selector.items()):
            problems.append("node(s) didn't match Pod's node affinity/selector")
        tolerated = {t.get("key") for t in pod_spec.get("tolerations", [])}
        for taint in self.node_taints:
            if taint["key"] not in tolerated:
                problems.append(f"node(s) had untolerated taint {{{taint['key']}: "
                                f"{taint.get('value', '')}}}")
        if problems:
            pod.conditions = [{"type": "PodScheduled", "status": "False",
                               "reason": "Unschedulable",
                               "message": f"0/1 nodes are available: 1 {problems[0]}. "
                                          f"preemption: 0/1 nodes are available: 1 No "
                                          f"preemption victims found for incoming pod.",
                               "lastTransitionTime": _now()}]
            return
        pod.conditions = [{"type": "PodScheduled", "status": "True",
                           "lastTransitionTime": _now()}]
        if container["image"] not in self.images:
            pod.state = {"waiting": {"reason": "ImagePullBackOff", "message": (
                f'Back-off pulling image "{container["image"]}": ErrImagePull: failed to '
                f'pull and unpack image "{container["image"]}": not found')}}
            return
        env = dict(self.image_env)
        for ref in container.get("envFrom", []):
            name = ref["secretRef"]["name"]
            secret = self.secrets.get((namespace, name))
            if secret is None:
                pod.state = {"waiting": {"reason": "CreateContainerConfigError",
                                         "message": f'secret "{name}" not found'}}
                return
            env.update(secret)
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
            elif "fieldRef" in item.get("valueFrom", {}):
                env[item["name"]] = pod.name
        pod.env = env
        cwd = tempfile.mkdtemp(prefix=f"{pod.name}-", dir=self.workdir)
        pod.log_path = os.path.join(cwd, "container.log")
        with open(pod.log_path, "wb") as log:
            pod.proc = subprocess.Popen(container["command"], env=env, cwd=cwd, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        pod.phase = "Running"
        pod.state = {"running": {"startedAt": _now()}}

    def evict(self, job_name: str, message: str) -> None:
        """What the kubelet does under node pressure: stop the pod and mark it Evicted."""
        job = next(j for j in self.jobs.values() if j.name == job_name)
        pod = job.pod
        self._kill(pod, signal.SIGKILL)
        with self.lock:
            pod.phase, pod.reason, pod.message = "Failed", "Evicted", message
            pod.state = {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                                        "finishedAt": _now()}}
            job.conditions = [{"type": "Failed", "status": "True",
                               "reason": "BackoffLimitExceeded", "lastTransitionTime": _now()}]
            job.finished_at = time.monotonic()

    def _kill(self, pod: Pod | None, sig: int) -> None:
        if pod is None or pod.proc is None or pod.proc.poll() is not None:
            return
        try:
            os.killpg(pod.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _terminate(self, job: Job) -> None:
        pod = job.pod
        self._kill(pod, signal.SIGTERM)
        if pod is not None and pod.proc is not None:
            try:
                pod.proc.wait(self.grace_seconds)
            except subprocess.TimeoutExpired:
                self._kill(pod, signal.SIGKILL)
                pod.proc.wait()

    # --- requests ------------------------------------------------------------------------

    def create_job(self, namespace: str, body: dict) -> tuple[int, dict]:
        import kubernetes_validate

        if namespace not in self.namespaces:
            return 404, _status(404, "NotFound", f'namespaces "{namespace}" not found')
        try:
            kubernetes_validate.validate(body, "1.30", strict=True)
        except kubernetes_validate.ValidationError as exc:
            self.rejected.append(str(exc))
            return 422, _status(422, "Invalid", f"Job is invalid: {exc}")
        body.setdefault("metadata", {})["namespace"] = namespace
        key = (namespace, body["metadata"]["name"])
        with self.lock:
            if key in self.jobs:
                return 409, _status(409, "AlreadyExists",
                                    f'jobs.batch "{key[1]}" already exists')
            job = Job(body)
            self.jobs[key] = job
            self.accepted.append(json.loads(json.dumps(body)))
            self._admit(job)
        return 201, job.to_json()

    def delete_job(self, namespace: str, name: str) -> tuple[int, dict]:
        with self.lock:
            job = self.jobs.pop((namespace, name), None)
        if job is None:
            return 404, _status(404, "NotFound", f'jobs.batch "{name}" not found')
        self.deleted.append(name)
        threading.Thread(target=self._terminate, args=(job,), daemon=True).start()
        return 200, _status(200, None, None, success=True)

    def pods(self, namespace: str) -> list[Pod]:
        with self.lock:
            return [j.pod for (ns, _), j in self.jobs.items() if ns == namespace and j.pod]

    def pod(self, namespace: str, name: str) -> Pod | None:
        return next((p for p in self.pods(namespace) if p.name == name), None)


ARGO_KINDS = {"workflowtemplates": "WorkflowTemplate", "cronworkflows": "CronWorkflow",
              "workflows": "Workflow"}


def _argo_invalid(plural: str, body: dict) -> str | None:
    """What the Argo CRD schema would refuse in ``body`` (checked with Argo's own models)."""
    from hera.workflows import models
    from pydantic import ValidationError

    try:
        getattr(models, ARGO_KINDS[plural]).model_validate(body)
    except ValidationError as exc:
        return str(exc).splitlines()[0]
    return None


def _custom_object(api: "KubernetesStandIn", method: str, ns: str, plural: str,
                   name: str | None, body: dict, selector: str | None) -> tuple[int, dict]:
    """Create (409 if it exists), read, list, replace (409 on a stale resourceVersion) and
    delete Argo objects."""
    with api.lock:
        if method == "POST" and name is None:
            invalid = _argo_invalid(plural, body)
            if invalid:
                return 422, _status(422, "Invalid", invalid)
            meta = body.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            key = (ns, plural, meta["name"])
            if key in api.custom_objects:
                return 409, _status(409, "AlreadyExists",
                                    f'{plural}.argoproj.io "{meta["name"]}" already exists')
            meta.update(namespace=ns, resourceVersion=str(next(api._versions)),
                        uid=str(uuid.uuid4()), creationTimestamp=_now())
            api.custom_objects[key] = body
            return 201, body
        if name is None:
            items = [o for (n, p, _), o in api.custom_objects.items() if n == ns and p == plural
                     and _matches(o["metadata"].get("labels", {}), selector)]
            return 200, {"apiVersion": "argoproj.io/v1alpha1", "kind": "List",
                         "metadata": {}, "items": items}
        key = (ns, plural, name)
        current = api.custom_objects.get(key)
        if current is None:
            return 404, _status(404, "NotFound", f'{plural}.argoproj.io "{name}" not found')
        if method == "GET":
            return 200, current
        if method == "DELETE":
            del api.custom_objects[key]
            return 200, _status(200, None, None, success=True)
        if method == "PUT":
            if body.get("metadata", {}).get("resourceVersion") != \
                    current["metadata"]["resourceVersion"]:
                return 409, _status(409, "Conflict", "the object has been modified")
            invalid = _argo_invalid(plural, body)
            if invalid:
                return 422, _status(422, "Invalid", invalid)
            body["metadata"]["resourceVersion"] = str(next(api._versions))
            api.custom_objects[key] = body
            return 200, body
    return 405, _status(405, "MethodNotAllowed", method)


def _status(code: int, reason: str | None, message: str | None, success: bool = False) -> dict:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Success" if success else "Failure", "code": code}
    if reason:
        body["reason"] = reason
    if message:
        body["message"] = message
    return body


def _matches(labels: dict[str, str], selector: str | None) -> bool:
    for part in (selector or "").split(","):
        if part:
            key, _, value = part.partition("=")
            if labels.get(key) != value:
                return False
    return True


def _handler(api: KubernetesStandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length)) if length else {}

        def _route(self, method: str) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            parts = url.path.strip("/").split("/")
            body = self._body() if method in ("POST", "PUT", "DELETE") else {}
            m = re.fullmatch(r"api/v1/namespaces/([^/]+)", url.path.strip("/"))
            if m and method == "GET":
                ns = m.group(1)
                if ns not in api.namespaces:
                    return self._send(404, _status(404, "NotFound",
                                                   f'namespaces "{ns}" not found'))
                return self._send(200, {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": ns}})
            m = re.fullmatch(r"api/v1/namespaces/([^/]+)/serviceaccounts/([^/]+)",
                             url.path.strip("/"))
            if m and method == "GET":
                if (m.group(1), m.group(2)) not in api.service_accounts:
                    return self._send(404, _status(404, "NotFound", f'serviceaccounts '
                                                                     f'"{m.group(2)}" not found'))
                return self._send(200, {"apiVersion": "v1", "kind": "ServiceAccount",
                                        "metadata": {"name": m.group(2),
                                                     "namespace": m.group(1)}})
            m = re.fullmatch(r"apis/batch/v1/namespaces/([^/]+)/jobs(?:/([^/]+))?",
                             url.path.strip("/"))
            if m:
                ns, name = m.groups()
                if method == "POST" and name is None:
                    return self._send(*api.create_job(ns, body))
                if method == "DELETE" and name:
                    return self._send(*api.delete_job(ns, name))
                if method == "GET" and name:
                    job = api.jobs.get((ns, name))
                    if job is None:
                        return self._send(404, _status(404, "NotFound",
                                                       f'jobs.batch "{name}" not found'))
                    return self._send(200, job.to_json())
                if method == "GET":
                    with api.lock:
                        items = [j.to_json() for (n, _), j in api.jobs.items() if n == ns
                                 and _matches(j.body["metadata"].get("labels", {}),
                                              query.get("labelSelector"))]
                    return self._send(200, {"apiVersion": "batch/v1", "kind": "JobList",
                                            "metadata": {}, "items": items})
            m = re.fullmatch(r"apis/argoproj\.io/v1alpha1/namespaces/([^/]+)/"
                             r"(workflowtemplates|cronworkflows|workflows)(?:/([^/]+))?",
                             url.path.strip("/"))
            if m:
                return self._send(*_custom_object(api, method, m.group(1), m.group(2),
                                                  m.group(3), body, query.get("labelSelector")))
            m = re.fullmatch(r"api/v1/namespaces/([^/]+)/pods", url.path.strip("/"))
            if m and method == "GET":
                items = [p.to_json() for p in api.pods(m.group(1))
                         if _matches(p.labels, query.get("labelSelector"))]
                return self._send(200, {"apiVersion": "v1", "kind": "PodList",
                                        "metadata": {}, "items": items})
            m = re.fullmatch(r"api/v1/namespaces/([^/]+)/pods/([^/]+)/log", url.path.strip("/"))
            if m and method == "GET":
                return self._log(api.pod(m.group(1), m.group(2)), m.group(2),
                                 query.get("follow") == "true")
            return self._send(404, _status(404, "NotFound", f"no route {method} {url.path}"))

        def _log(self, pod: Pod | None, name: str, follow: bool) -> None:
            if pod is None:
                return self._send(404, _status(404, "NotFound", f'pods "{name}" not found'))
            if pod.proc is None:
                return self._send(400, _status(400, "BadRequest", f'container "main" in pod '
                                                                  f'"{name}" is waiting to start'))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            with open(pod.log_path, "rb") as f:
                while True:
                    data = f.read(65536)
                    if data:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                        continue
                    if not follow or pod.proc.poll() is not None:
                        rest = f.read()
                        if rest:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(rest), rest))
                        break
                    time.sleep(0.05)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def do_PUT(self) -> None:
            self._route("PUT")

    return Handler
