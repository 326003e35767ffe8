"""Real runs of real flow files, read back through the Client API and the flow CLI's
``logs`` / ``dump`` / ``tag`` commands. The flows run once per module (a few seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from headwater import Flow, Metaflow, Run, Task, get_namespace, namespace
from headwater.exceptions import NamespaceMismatch

# Every test reads runs made by real flow processes.
pytestmark = pytest.mark.slow

FLOWS = Path(__file__).parent / "flows"
DEMO = FLOWS / "client_demo_flow.py"
EXPERIMENT = FLOWS / "experiment_flow.py"


def _env(base: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "HEADWATER_"))}
    env.update(METAFLOW_HOME=str(base / "home"), METAFLOW_USER="tester",
               METAFLOW_DATASTORE_SYSROOT_LOCAL=str(base / "sysroot"))
    env.update(extra)
    return env


def _python(path: Path, *args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(path), *args], env=env, capture_output=True,
                          text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"{path.name} {' '.join(args)} exited {proc.returncode}\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run 1 fails at `end`; run 2 resumes it; run 3 is alice's in namespace `production`;
    ExperimentFlow runs once under its @namespace decorator."""
    base = tmp_path_factory.mktemp("client-real")
    env = _env(base)
    marker = base / "marker"
    failed = _python(DEMO, "run", "--n", "3", "--marker", str(marker), "--tag", "first",
                     env=env, check=False)
    assert failed.returncode == 1 and "end fails until the marker exists" in failed.stderr
    marker.touch()
    _python(DEMO, "resume", env=env)
    _python(DEMO, "run", "--n", "2", env=_env(base, METAFLOW_USER="alice",
                                               METAFLOW_USER_NAMESPACE="production"))
    _python(EXPERIMENT, "run", env=env)
    return base, env


@pytest.fixture
def sysroot(runs, hw_env, monkeypatch):
    base, _ = runs
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_LOCAL", str(base / "sysroot"))
    return base / "sysroot"


def test_read_back_a_failed_and_a_resumed_run(sysroot):
    flow = Flow("ClientDemoFlow")
    assert [r.id for r in flow.runs()] == ["2", "1"]  # alice's run 3 is not in my namespace
    failed, resumed = flow["1"], flow["2"]
    assert failed.finished and not failed.successful and "first" in failed.tags
    assert failed.end_task.exception.type == "builtins.RuntimeError"
    assert "end fails until the marker exists" in failed.end_task.exception.message
    assert "end fails until the marker exists" in failed.end_task.stderr
    assert resumed.successful and flow.latest_successful_run == resumed
    assert resumed.data.total == 0 + 1 + 4 + (0 + 1 + 2)
    assert resumed.data.n == 3 and resumed.data.values == [0, 1, 4]
    assert resumed.finished_at >= resumed.created_at >= failed.created_at
    # the resumed run reused the successful tasks of run 1 by reference
    squares = resumed["square"].tasks()
    assert sorted((t.index, t.data.value) for t in squares) == [(0, 0), (1, 1), (2, 4)]
    for task in squares:
        assert task.origin_pathspec.startswith("ClientDemoFlow/1/square/")
        origin = Task(task.origin_pathspec)
        assert origin.index == task.index
        assert origin.artifacts.value.sha == task.artifacts.value.sha
    assert resumed["end"].task.origin_pathspec is None
    # the caught failure is an artifact; the step counts as successful
    fragile = resumed["fragile"].task
    assert fragile.successful and fragile.data.problem.message == "expected failure in fragile"
    start = resumed["start"].task
    assert "starting with n=3" in start.stdout and "a warning on stderr" in start.stderr
    assert start.index is None and start.current_attempt == 0
    assert start.metadata_dict["ds-root"] == str(sysroot)


def test_large_array_and_lazy_artifacts_of_a_real_run(sysroot):
    task = Run("ClientDemoFlow/2")["start"].task
    array = task.data.array
    assert isinstance(array, np.ndarray) and array.shape == (1_000_000,)
    assert not array.flags.owndata and int(array[-1]) == 999_999
    assert task.artifacts.array.type == "numpy.ndarray" and task.artifacts.array.size > 8e6
    assert sorted(dir(task.data)) == ["array", "items", "marker", "n"]


def test_reading_works_from_any_directory(sysroot, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # artifacts and logs come from the task's recorded ds-root
    assert Run("ClientDemoFlow/2").data.total == 8
    assert "total 8" in Run("ClientDemoFlow/2")["end"].task.stdout


def test_namespaces_of_real_runs(sysroot, monkeypatch):
    assert get_namespace() == "user:tester"
    with pytest.raises(NamespaceMismatch, match="started by user:alice"):
        Run("ClientDemoFlow/3")
    with namespace("production"):
        assert [r.id for r in Flow("ClientDemoFlow").runs()] == ["3"]
        assert Run("ClientDemoFlow/3").data.n == 2
    with namespace("ml-experiments"):
        experiment = Flow("ExperimentFlow").latest_run
        assert experiment.successful
        assert experiment["start"].task.data.seen_namespace == "ml-experiments"
        assert Flow("ClientDemoFlow").runs() == []
        assert [f.id for f in Metaflow()] == ["ExperimentFlow"]
    with namespace(None):
        assert [r.id for r in Flow("ClientDemoFlow")] == ["3", "2", "1"]
        assert sorted(f.id for f in Metaflow()) == ["ClientDemoFlow", "ExperimentFlow"]
    monkeypatch.setenv("METAFLOW_USER_NAMESPACE", "production")
    assert [r.id for r in Flow("ClientDemoFlow").runs()] == ["3"]


def test_logs_and_dump_through_the_flow_cli(runs):
    _, env = runs
    out = _python(DEMO, "logs", "2/start", env=env)
    assert "starting with n=3" in out.stdout and "a warning on stderr" in out.stderr
    fan = _python(DEMO, "logs", "2/square", "--stdout", env=env).stdout
    assert fan.count("==> 2/square/") == 3
    assert all(f"square of {i} is {i * i}" in fan for i in range(3))
    err = _python(DEMO, "logs", "1/end", "--stderr", env=env)
    # one chosen stream goes to stdout (as in Metaflow), so it can be piped
    assert "RuntimeError: end fails until the marker exists" in err.stdout and err.stderr == ""
    dumped = _python(DEMO, "dump", "2/end", "--include", "total,values", env=env).stdout
    assert dumped.splitlines()[1:] == ["  total (int) = 8", "  values (list) = [0, 1, 4]"]
    failed = _python(DEMO, "dump", "1/end", "--private", "--include", "_exception,_success",
                     env=env).stdout
    assert "(attempt 0, failed)" in failed and "_success (bool) = False" in failed
    bad = _python(DEMO, "logs", "2", env=env, check=False)
    assert bad.returncode == 1 and "Invalid pathspec: '2' is not RUN/STEP" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = _python(DEMO, "dump", "9/end", env=env, check=False)
    assert missing.returncode == 1 and "run ClientDemoFlow/9 does not exist" in missing.stderr
    assert "recent runs: 3, 2, 1" in missing.stderr


def test_tag_commands_through_the_flow_cli(runs, sysroot):
    _, env = runs
    added = _python(DEMO, "tag", "add", "reviewed", "v1", env=env).stdout  # my latest: run 2
    assert "Run ClientDemoFlow/2 (tester," in added and "reviewed, v1" in added
    assert {"reviewed", "v1"} <= Run("ClientDemoFlow/2").user_tags
    _python(DEMO, "tag", "remove", "v1", env=env)
    _python(DEMO, "tag", "replace", "--run-id", "1", "first", "broken", env=env)
    assert Run("ClientDemoFlow/2").user_tags == {"reviewed"}
    assert Run("ClientDemoFlow/1").user_tags == {"broken"}
    listed = _python(DEMO, "tag", "list", env=env).stdout
    assert "Run ClientDemoFlow/2" in listed and "Run ClientDemoFlow/3" not in listed
    every = _python(DEMO, "tag", "list", "--all", env=env).stdout
    assert "Run ClientDemoFlow/3 (alice," in every and "production" in every
    refused = _python(DEMO, "tag", "remove", "--run-id", "2", "runtime:dev", env=env,
                      check=False)
    assert refused.returncode == 1 and "system tags cannot be removed" in refused.stderr
    assert "runtime:dev" in Run("ClientDemoFlow/2").system_tags
    assert [r.id for r in Flow("ClientDemoFlow").runs("reviewed")] == ["2"]
