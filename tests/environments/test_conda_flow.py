"""@conda end to end with the rattler backend against a local conda channel built in the
test (no conda channel can be reached from these machines): steps pinning different
versions of tinyver each see their own; a second run resolves nothing; with the channel
folder deleted, ``resume`` and a remote-style task rebuild the environments from the
datastore snapshot.

What this does not prove: the micromamba and conda backends (neither tool is installable
here), a channel served over HTTP, or packages with compiled code (the environment is
layered onto this interpreter; see docs/environments.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

FLOWS = Path(__file__).parent / "flows"


@pytest.fixture
def conda_flow(tmp_path) -> Path:
    path = tmp_path / "conda_pins_flow.py"
    shutil.copy(FLOWS / "conda_pins_flow.py", path)
    return path


def test_steps_run_in_their_pinned_conda_environments_and_reruns_resolve_nothing(
        conda_flow, conda_channel, run_flow, env_cache, hw_env):
    from headwater import Flow

    first = run_flow(conda_flow, "run")
    log = first.stdout + first.stderr
    assert "start sees tinyver 1.0.0" in first.stdout
    assert "middle sees tinyver 2.0.0 and tinydep 0.1" in first.stdout
    assert "end sees tinyver: False" in first.stdout  # base libraries only: nothing leaks in
    assert log.count("Resolving environment") == 3  # one per distinct spec
    assert log.count("(rattler)") == 3
    # tinyver 1.0.0 and 2.0.0, tinydep, tinyextra: each package file stored once
    assert len(list((hw_env / "environments" / "wheels").iterdir())) == 4
    assert len(list((hw_env / "environments" / "locks").iterdir())) == 3
    run = Flow("CondaPinsFlow").latest_run
    assert run.successful
    start_prefix = run["start"].task["start_prefix"].data
    middle_prefix = run["middle"].task["middle_prefix"].data
    assert start_prefix != middle_prefix and Path(start_prefix).parent == env_cache

    second = run_flow(conda_flow, "run")
    log = second.stdout + second.stderr
    assert "Resolving environment" not in log
    assert log.count("from the snapshot (no resolution)") == 3
    assert log.count("Reusing cached environment") == 3
    assert "middle sees tinyver 2.0.0" in second.stdout

    shown = run_flow(conda_flow, "environment", "show", "middle").stdout
    assert f"lock {Path(middle_prefix).name}, conda" in shown
    assert "resolved by rattler" in shown
    assert "tinyver=2.0.0=py_0  tinyver-2.0.0-py_0.tar.bz2  sha256:" in shown
    assert "tinydep=0.1=py_0" in shown and "tinyextra=0.3=py_0" in shown
    assert conda_channel.as_uri() in shown  # where each package came from


def test_resume_and_remote_task_rebuild_from_the_snapshot_without_the_channel(
        conda_flow, conda_channel, run_flow, tmp_path, monkeypatch, env_cache):
    from headwater import Flow
    from headwater.task import InputRef, TaskSpec

    run_flow(conda_flow, "run")
    origin = Flow("CondaPinsFlow").latest_run
    shutil.rmtree(conda_channel)

    # resume on a machine whose cache is empty, with the channel gone
    monkeypatch.setenv("HEADWATER_ENV_CACHE", str(tmp_path / "fresh-cache"))
    resumed = run_flow(conda_flow, "resume", "start", "--origin-run-id", origin.id)
    log = resumed.stdout + resumed.stderr
    assert "start sees tinyver 1.0.0" in resumed.stdout
    assert "middle sees tinyver 2.0.0" in resumed.stdout
    assert log.count("Built environment") == 3
    assert "Resolving environment" not in log

    # a remote task: only the hidden step command, another empty cache, no channel
    monkeypatch.setenv("HEADWATER_ENV_CACHE", str(tmp_path / "container-cache"))
    middle = origin["middle"].task
    spec = TaskSpec(flow_name="CondaPinsFlow", run_id=origin.id, step_name="middle",
                    task_id=middle.id, attempt=1,
                    inputs=[InputRef("start", origin["start"].task.id, 0)], user="tester")
    elsewhere = tmp_path / "container"
    elsewhere.mkdir()
    remote = run_flow(conda_flow, "step", "--spec", json.dumps(spec.to_json()), cwd=elsewhere)
    assert "middle sees tinyver 2.0.0" in remote.stdout
    assert "Built environment" in remote.stderr
    assert json.loads(remote.stdout.strip().splitlines()[-1])["ok"] is True
