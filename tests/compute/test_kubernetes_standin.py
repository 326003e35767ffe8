"""@kubernetes against the Kubernetes API stand-in (``kube_standin.py``): the official
client submits real Jobs (each validated against the 1.30 schema by the stand-in), the
stand-in runs each pod's container command as a local process with exactly the Job's
environment, and the backend maps what the pods report. What this proves: submission, log
streaming, state mapping and cleanup through the client's real HTTP calls, and that the
container entry point completes tasks against a shared datastore and the metadata service.
What it does not: a real kubelet, scheduler, image pulls or memory limits (see the
stand-in's docstring for what is simulated)."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.compute.base import TaskExited, TaskOutput
from headwater.compute.kubernetes import KubernetesCompute

from .bridge import start_run

FLOWS = Path(__file__).parent / "flows"
POD_FLOW = FLOWS / "pod_flow.py"


def _drain(backend, until_exit=True, timeout=90.0):
    import time

    events, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = backend.wait(0.5)
        events += batch
        if until_exit and any(isinstance(e, TaskExited) for e in batch):
            return events
    raise AssertionError(f"no exit within {timeout} s: {events}")


@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_a_task_succeeds_and_its_log_streams(shared, kube):
    """A Job runs the start step to success: its output reaches the console events, the
    outcome comes from the task's record, the Job is deleted afterwards, and the stored log
    is the task's own output (without the step command's result line)."""
    ctx, spec = start_run(POD_FLOW, KubernetesCompute)
    backend = KubernetesCompute(ctx)
    try:
        backend.start(spec, None)
        events = _drain(backend)
    finally:
        backend.close()
    out = b"\n".join(e.data for e in events if isinstance(e, TaskOutput))
    assert b"hello from the pod" in out
    exit_event = events[-1]
    assert exit_event.result is not None and exit_event.result.ok, events
    assert exit_event.result.targets == ["end"]
    assert kube.deleted == [kube.accepted[0]["metadata"]["name"]]
    from headwater.datastore.task_store import TaskDataStore

    store = TaskDataStore(ctx.env.backend, spec.flow_name, spec.run_id, "start", spec.task_id)
    assert store.load_log(0, "stdout") == "hello from the pod\n"


def _one_attempt(kube, params, configure=None, timeout=None):
    ctx, spec = start_run(POD_FLOW, KubernetesCompute, params)
    backend = KubernetesCompute(ctx)
    if configure:
        configure(backend)
    try:
        backend.start(spec, timeout)
        events = _drain(backend)
    finally:
        backend.close()
    return ctx, spec, events[-1], events


@pytest.mark.parametrize("shared", ["s3"], indirect=True)
def test_a_failing_step_is_a_recorded_failure(shared, kube):
    """The step raises in the pod: the attempt's record says failed (result.ok False), so
    @retry/@catch see it as they do locally; the traceback is in the stored stderr log."""
    ctx, spec, exited, _ = _one_attempt(kube, {"mode": "raise"})
    assert exited.result is not None and not exited.result.ok
    from headwater.datastore.task_store import TaskDataStore

    store = TaskDataStore(ctx.env.backend, spec.flow_name, spec.run_id, "start", spec.task_id)
    assert "RuntimeError: boom in start" in store.load_log(0, "stderr")


@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_oom_killed_names_the_memory_limit(shared, kube):
    """The task process dies by SIGKILL, the container exits 137 and the stand-in reports
    ``OOMKilled`` as the kubelet would: the reason names OOMKilled, the limit and the fix.
    (The kernel's OOM killer itself is simulated.)"""
    _, _, exited, _ = _one_attempt(kube, {"mode": "oom"})
    assert exited.result is None
    assert exited.reason.startswith("OOMKilled: the container used more than its memory "
                                    "limit of 4096 MB")
    assert "@resources(memory=...)" in exited.reason


@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_unschedulable_pod_fails_with_the_schedulers_message(shared, kube):
    """A pod asking for more CPU than any node has stays Pending with PodScheduled=False;
    after the grace period the attempt ends with the scheduler's message and the Job is
    deleted."""
    kube.node_cpu = 0.5
    _, _, exited, events = _one_attempt(
        kube, {}, configure=lambda b: setattr(b, "unschedulable_grace", 2.0))
    assert exited.result is None
    assert exited.reason.startswith("Unschedulable: 0/1 nodes are available: 1 Insufficient "
                                    "cpu."), exited.reason
    notes = b"".join(e.data for e in events if isinstance(e, TaskOutput))
    assert b"is not scheduled yet" in notes
    assert kube.deleted and not kube.jobs


@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_image_that_cannot_be_pulled(shared, kube, monkeypatch):
    """An image the registry does not have: ImagePullBackOff ends the attempt at once with
    the image's name and the kubelet's message."""
    monkeypatch.setenv("METAFLOW_KUBERNETES_CONTAINER_IMAGE", "example.io/no/such:1")
    _, _, exited, _ = _one_attempt(kube, {})
    assert exited.result is None
    assert exited.reason.startswith("image example.io/no/such:1 cannot be pulled "
                                    "(ImagePullBackOff: "), exited.reason


@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_timeout_is_the_jobs_active_deadline(shared, kube):
    """A step's @timeout becomes activeDeadlineSeconds; the cluster stops the pod and the
    attempt ends as timed out."""
    _, _, exited, _ = _one_attempt(kube, {"mode": "sleep"}, timeout=3)
    assert kube.accepted[0]["spec"]["activeDeadlineSeconds"] == 3
    assert exited.result is None
    assert exited.reason.startswith("timed out: the Job ran longer than its "
                                    "activeDeadlineSeconds (3 s"), exited.reason


@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_kill_deletes_the_job_and_stops_the_pod(shared, kube):
    """Ctrl-C: kill_all deletes the Job (the stand-in sends the pod SIGTERM, the entry point
    passes it on to the task), reports the attempt with the given reason and returns once
    the Job is gone."""
    import time

    ctx, spec = start_run(POD_FLOW, KubernetesCompute, {"mode": "sleep"})
    backend = KubernetesCompute(ctx)
    try:
        backend.start(spec, None)
        seen = b""
        deadline = time.monotonic() + 60
        while b"hello from the pod" not in seen and time.monotonic() < deadline:
            seen += b"".join(e.data for e in backend.wait(0.5) if isinstance(e, TaskOutput))
        assert b"hello from the pod" in seen  # streamed while the pod still runs
        pod = next(iter(kube.jobs.values())).pod
        backend.kill_all("interrupted (Ctrl-C)")
        exited = [e for e in backend.wait(1) if isinstance(e, TaskExited)]
        assert backend.running == 0
    finally:
        backend.close()
    assert exited and exited[0].result is None and exited[0].reason == "interrupted (Ctrl-C)"
    assert not kube.jobs and kube.deleted
    pod.proc.wait(10)  # the process really ended
    assert pod.proc.returncode is not None


@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_an_invalid_job_is_one_line_with_its_reason(shared, kube):
    """A toleration with a field Kubernetes does not know: the official client's model check
    refuses the body before sending it (the stand-in's strict schema check would refuse it
    too), and start raises one line naming the field. Nothing is created."""
    from headwater.compute.errors import RemoteComputeError

    ctx, spec = start_run(POD_FLOW, KubernetesCompute)
    for node in ctx.graph:
        node.decorators.append(__import__("headwater.decorators.kubernetes", fromlist=["x"])
                               .KubernetesDecorator({"tolerations": [{"key": "a",
                                                                      "bogus": "1"}]}))
    backend = KubernetesCompute(ctx)
    try:
        with pytest.raises(RemoteComputeError, match=r"is not a valid Kubernetes Job: .*tolerations.0.bogus"):
            backend.start(spec, None)
    finally:
        backend.close()
    assert not kube.accepted


@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_a_job_the_api_refuses_carries_the_apis_message(shared, kube):
    """The same attempt submitted twice: the API answers 409 with a Status, and start raises
    one line with the API's message (the first Job is then cleaned up by kill_all)."""
    from headwater.compute.errors import RemoteComputeError

    ctx, spec = start_run(POD_FLOW, KubernetesCompute, {"mode": "sleep"})
    backend = KubernetesCompute(ctx)
    try:
        backend.start(spec, None)
        with pytest.raises(RemoteComputeError,
                           match=r"refused to create Job .*\(HTTP 409 Conflict\): jobs.batch "
                                 r'"hw-podflow-.*" already exists'):
            backend.start(spec, None)
        backend.kill_all("test over")
    finally:
        backend.close()
    assert not kube.jobs


@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_an_evicted_pod_says_evicted_with_the_kubelets_message(shared, kube):
    """The node runs short of memory and the kubelet evicts the running pod: the attempt
    ends with ``Evicted`` and the kubelet's message. (The eviction is triggered by the test,
    not by real node pressure.)"""
    import time

    ctx, spec = start_run(POD_FLOW, KubernetesCompute, {"mode": "sleep"})
    backend = KubernetesCompute(ctx)
    try:
        backend.start(spec, None)
        seen, deadline = b"", time.monotonic() + 60
        while b"hello from the pod" not in seen and time.monotonic() < deadline:
            seen += b"".join(e.data for e in backend.wait(0.5) if isinstance(e, TaskOutput))
        assert b"hello from the pod" in seen
        kube.evict(kube.accepted[0]["metadata"]["name"],
                   "The node was low on resource: memory.")
        exited = _drain(backend)[-1]
    finally:
        backend.close()
    assert exited.result is None
    assert exited.reason == "Evicted: The node was low on resource: memory."
