"""@pypi (and @conda) steps on Kubernetes through the compute tests' API stand-in: each
Job's container command runs as a local process with only the Job's environment and a fresh
HOME (so an empty environment cache), with the package index pointed at a dead port. The
environments were resolved and snapshotted to Azurite (or moto S3) first (what ``run`` does
before any task), so each pod builds its step's environment from the snapshot alone and
runs the task inside it. What this does not prove: a real image or kubelet (see
tests/compute/kube_standin.py), or another platform than this machine's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.compute.conftest import kube, shared  # noqa: F401  (fixtures)

from .conftest import DEAD_INDEX

FLOWS = Path(__file__).parent / "flows"


@pytest.mark.slow
@pytest.mark.parametrize("shared", ["azure", "s3"], indirect=True)
def test_pypi_steps_on_kubernetes_build_from_the_snapshot(shared, kube, tmp_path,  # noqa: F811
                                                          env_cache, run_flow):
    from headwater import Flow

    flow = tmp_path / "pins_flow.py"
    shutil.copy(FLOWS / "pins_flow.py", flow)
    kube.image_env.update(UV_INDEX_URL=DEAD_INDEX, PIP_INDEX_URL=DEAD_INDEX)
    # the launcher resolves (index reachable here); the pods only build from the snapshot
    proc = run_flow(flow, "--with", "kubernetes", "run", cwd=tmp_path)
    assert (proc.stdout + proc.stderr).count("Resolving environment") == 3
    run = Flow("PinsFlow").latest_run
    assert run.successful
    assert "start sees six 1.16.0" in run["start"].task.stdout
    assert "middle sees six 1.17.0" in run["middle"].task.stdout
    # boto3 needs six (through python-dateutil), so with S3 the support path provides it
    # (after the environment's own packages); Azure's SDK does not need it
    assert f"end sees six: {shared == 's3'}" in run["end"].task.stdout
    assert len(kube.accepted) == 3
    pod_cache = tmp_path / "pod-home" / ".cache" / "headwater" / "envs"
    built = [p for p in pod_cache.iterdir() if p.name != "support"]
    assert len(built) == 3  # built in the pods, from the snapshot
    middle = run["middle"].task
    assert Path(middle["middle_prefix"].data).parent == pod_cache


@pytest.mark.slow
@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_conda_steps_on_kubernetes_build_from_the_snapshot(shared, kube, tmp_path,  # noqa: F811
                                                           env_cache, run_flow, conda_channel):
    """The same for @conda (rattler backend, local channel): the pods get no channel
    setting at all, so they can only build from the snapshot."""
    from headwater import Flow

    flow = tmp_path / "conda_pins_flow.py"
    shutil.copy(FLOWS / "conda_pins_flow.py", flow)
    assert "HEADWATER_CONDA_CHANNELS" not in kube.image_env
    proc = run_flow(flow, "--with", "kubernetes", "run", cwd=tmp_path)
    assert (proc.stdout + proc.stderr).count("Resolving environment") == 3
    run = Flow("CondaPinsFlow").latest_run
    assert run.successful
    assert "start sees tinyver 1.0.0" in run["start"].task.stdout
    assert "middle sees tinyver 2.0.0 and tinydep 0.1" in run["middle"].task.stdout
    pod_cache = tmp_path / "pod-home" / ".cache" / "headwater" / "envs"
    built = [p for p in pod_cache.iterdir() if p.name not in ("support", "conda-repodata")]
    assert len(built) == 3
    assert Path(run["middle"].task["middle_prefix"].data).parent == pod_cache
