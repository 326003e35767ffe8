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

from headwater import Flow
from headwater.compute.base import TaskExited, TaskOutput
from headwater.compute.kubernetes import KubernetesCompute

from .bridge import run_remote, start_run

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
