"""@pypi end to end against the real PyPI index with the real uv: steps pinning different
versions of six each see their own; a second run resolves nothing; with the index
unreachable, ``resume`` and a remote-style task (the hidden ``step`` command on a machine
with an empty environment cache) rebuild the environments from the datastore snapshot.

What this does not prove: a different platform than this one (the remote task runs here,
just without the cache and the index), or a datastore other than the local one (the
snapshot goes through the same ``StorageBackend`` calls every backend implements)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

FLOWS = Path(__file__).parent / "flows"

pytestmark = pytest.mark.slow


@pytest.fixture
def pins_flow(tmp_path) -> Path:
    path = tmp_path / "pins_flow.py"
    shutil.copy(FLOWS / "pins_flow.py", path)
    return path


def test_steps_run_in_their_pinned_environments_and_reruns_resolve_nothing(
        pins_flow, run_flow, env_cache, uv_calls, hw_env):
    from headwater import Flow

    first = run_flow(pins_flow, "run")
    assert "start sees six 1.16.0" in first.stdout
    assert "middle sees six 1.17.0" in first.stdout
    assert "end sees six: False" in first.stdout  # base env only: nothing leaks in
    assert len(uv_calls("pip compile")) == 3  # one per distinct spec
    # six 1.16.0, six 1.17.0 and idna 3.7: each wheel stored once for the three locks
    assert len(list((hw_env / "environments" / "wheels").iterdir())) == 3
    assert len(list((hw_env / "environments" / "locks").iterdir())) == 3
    assert first.stderr.count("Resolving environment") + first.stdout.count(
        "Resolving environment") == 3
    run = Flow("PinsFlow").latest_run
    assert run.successful
    start_prefix, middle_prefix = run["start"].task["start_prefix"].data, \
        run["middle"].task["middle_prefix"].data
    assert start_prefix != middle_prefix
    assert Path(start_prefix).parent == env_cache

    second = run_flow(pins_flow, "run")
    log = second.stdout + second.stderr
    assert uv_calls("pip compile") == uv_calls("pip compile")[:3]  # no new resolution
    assert len(uv_calls("pip compile")) == 3
    assert "Resolving environment" not in log
    assert log.count("from the snapshot (no resolution)") == 3
    assert log.count("Reusing cached environment") == 3
    assert "middle sees six 1.17.0" in second.stdout

    shown = run_flow(pins_flow, "environment", "show", "middle").stdout
    assert "six==1.17.0  six-1.17.0-py2.py3-none-any.whl  sha256:" in shown
    assert "idna==3.7" in shown
    lock_hash = Path(middle_prefix).name
    assert f"lock {lock_hash}" in shown


def test_resume_and_remote_task_rebuild_from_the_snapshot_without_the_index(
        pins_flow, run_flow, env_cache, uv_calls, tmp_path, monkeypatch, dead_index):
    from headwater import Flow
    from headwater.task import InputRef, TaskSpec

    online = {"UV_INDEX_URL": "https://pypi.org/simple", "PIP_INDEX_URL":
              "https://pypi.org/simple"}
    run_flow(pins_flow, "run", env=online)
    origin = Flow("PinsFlow").latest_run
    compiles = len(uv_calls("pip compile"))

    # resume on a machine whose cache is empty, with the index unreachable
    monkeypatch.setenv("HEADWATER_ENV_CACHE", str(tmp_path / "fresh-cache"))
    resumed = run_flow(pins_flow, "resume", "start", "--origin-run-id", origin.id)
    log = resumed.stdout + resumed.stderr
    assert "start sees six 1.16.0" in resumed.stdout
    assert "middle sees six 1.17.0" in resumed.stdout
    assert log.count("Built environment") == 3
    assert "Resolving environment" not in log
    assert len(uv_calls("pip compile")) == compiles

    # a remote task: only the hidden step command, another empty cache, no index
    monkeypatch.setenv("HEADWATER_ENV_CACHE", str(tmp_path / "container-cache"))
    middle = origin["middle"].task
    spec = TaskSpec(flow_name="PinsFlow", run_id=origin.id, step_name="middle",
                    task_id=middle.id, attempt=1,
                    inputs=[InputRef("start", origin["start"].task.id, 0)], user="tester")
    elsewhere = tmp_path / "container"
    elsewhere.mkdir()
    remote = run_flow(pins_flow, "step", "--spec", json.dumps(spec.to_json()), cwd=elsewhere)
    assert "middle sees six 1.17.0" in remote.stdout
    assert "Built environment" in remote.stderr
    assert (tmp_path / "container-cache").is_dir()
    assert json.loads(remote.stdout.strip().splitlines()[-1])["ok"] is True


def test_environment_imports_the_running_headwater_without_pythonpath(env_cache):
    """The support path (not PYTHONPATH, not an install) makes headwater importable inside,
    after the environment's own packages."""
    import os
    import subprocess
    import tempfile

    import headwater
    from headwater.environments.cache import EnvironmentCache
    from headwater.environments.resolver import resolve
    from headwater.environments.spec import EnvironmentSpec

    import urllib3

    assert urllib3.__version__ != "2.2.3"  # the pin below differs from the scheduler's
    spec = EnvironmentSpec.build("pypi", None, {"six": "1.16.0", "urllib3": "2.2.3"})
    wheels = tempfile.mkdtemp()
    lock = resolve(spec, wheels)
    cache = EnvironmentCache()
    python, built = cache.ensure(lock, lambda d: [shutil.copy(os.path.join(wheels, p.filename), d)
                                                  for p in lock.packages])
    assert built
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HEADWATER_SUPPORT_PATH"] = cache.support_path()
    out = subprocess.run([python, "-c", "import headwater, six, click, os, urllib3; "
                          "import headwater.metadata.service; "
                          "print(os.path.realpath(headwater.__file__)); print(six.__version__); "
                          "print(urllib3.__version__)"],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == os.path.realpath(headwater.__file__)
    assert out[1] == "1.16.0"
    assert out[2] == "2.2.3"  # the step's pin wins over headwater's own urllib3
    assert cache.ensure(lock, lambda d: None) == (python, False)


PLAIN = """
import sys

from headwater import FlowSpec, step


class PlainFlow(FlowSpec):
    @step
    def start(self):
        try:
            import six
            self.six = six.__version__
        except ImportError:
            self.six = None
        self.prefix = sys.prefix
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PlainFlow()
"""


def test_environment_option_and_with_pypi(write_flow, run_flow, env_cache, uv_calls):
    """``--environment=pypi`` puts every step in an environment (here: Python only);
    ``--with pypi:packages=...`` adds the packages to every step."""
    import sys

    from headwater import Flow

    flow = write_flow(PLAIN)
    # before any run: the spec, then what `environment resolve` stored
    missing = "pypi:packages={'idna': '3.7'}"
    assert "Not resolved yet" in run_flow(flow, "--with", missing, "environment", "show",
                                          "start").stdout
    resolved = run_flow(flow, "--with", missing, "environment", "resolve")
    assert "Resolving environment for step(s) start, end" in resolved.stdout + resolved.stderr
    assert "The snapshot holds lock" in run_flow(flow, "--with", missing, "environment",
                                                 "show", "start").stdout

    run_flow(flow, "--environment=pypi", "run")
    task = Flow("PlainFlow").latest_run["start"].task
    assert Path(task["prefix"].data).parent == env_cache
    assert task["prefix"].data != sys.prefix
    assert task["six"].data is None

    run_flow(flow, "run", "--with", "pypi:packages={'six': '1.16.0'}")
    task = Flow("PlainFlow").latest_run["start"].task
    assert task["six"].data == "1.16.0"
    shown = run_flow(flow, "environment", "show", "start").stdout
    assert "six==1.16.0" in shown

    run_flow(flow, "run")  # no environment asked for: the fork path, the scheduler's python
    assert Flow("PlainFlow").latest_run["start"].task["prefix"].data == sys.prefix
    assert "has no environment" in run_flow(flow, "environment", "show", "start").stdout
