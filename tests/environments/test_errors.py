"""Each way an environment can fail stops the run before it starts, in one line naming the
problem (and a Fix line), with no traceback and no run created. Resolution errors come from
the real uv against the real PyPI index; the unreachable index is a dead local port."""

from __future__ import annotations

import json
import re

import pytest

FLOW = """
from headwater import FlowSpec, step, {deco}


class BadEnvFlow(FlowSpec):
    @{deco}({field}={packages!r}{extra})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadEnvFlow()
"""


def _fails(write_flow, run_flow, packages, deco="pypi", field="packages", env=None,
           extra="") -> str:
    flow = write_flow(FLOW.format(deco=deco, field=field, packages=packages, extra=extra))
    proc = run_flow(flow, "run", check=False, env=env)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "starting (run-id" not in proc.stdout + proc.stderr  # refused before the run
    # status lines carry a timestamp; the error is the one other line (and its Fix)
    lines = [line for line in proc.stderr.splitlines()
             if line.strip() and not re.match(r"\d{4}-\d\d-\d\d ", line)]
    message = [line for line in lines if not line.strip().startswith("Fix:")]
    assert len(message) == 1, proc.stderr
    return proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("packages, expected", [
    ({"headwater-no-such-package-zzq": "1.0"},
     "package 'headwater-no-such-package-zzq' does not exist on the package index"),
    ({"six": "99.0.1"}, "six has no version ==99.0.1 on the package index"),
    ({"requests": "2.31.0", "urllib3": "1.20"}, "conflicting pins in the environment"),
    ({"pywin32": "306"}, "pywin32==306 has no wheel for linux-"),
], ids=["no-such-package", "no-such-version", "conflicting-pins", "no-wheel-for-platform"])
def test_resolution_errors(write_flow, run_flow, env_cache, hw_env, packages, expected):
    assert expected in _fails(write_flow, run_flow, packages)
    assert not (hw_env / "environments").exists()  # nothing half-stored in the snapshot
    assert not env_cache.exists() or not any(env_cache.iterdir())


@pytest.mark.slow
def test_unreachable_index_without_snapshot(write_flow, run_flow, env_cache, dead_index):
    err = _fails(write_flow, run_flow, {"six": "1.16.0"})
    assert "the package index (http://127.0.0.1:9/simple) cannot be reached and no " \
           "snapshot of the environment python" in err


def test_remote_task_without_snapshot(write_flow, run_flow, env_cache, dead_index):
    from headwater.task import TaskSpec

    flow = write_flow(FLOW.format(deco="pypi", field="packages", packages={"six": "1.16.0"},
                                  extra=""))
    spec = TaskSpec(flow_name="BadEnvFlow", run_id="1", step_name="start", task_id="1",
                    attempt=0, inputs=[], user="tester")
    proc = run_flow(flow, "step", "--spec", json.dumps(spec.to_json()), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no snapshot of the environment python" in proc.stderr
    assert "where the package index is reachable first" in proc.stderr


def test_bad_packages_argument(write_flow, run_flow):
    err = _fails(write_flow, run_flow, ["six"])
    assert "@pypi(packages=...) on step 'start' takes a dict of package names to versions" in err


def test_python_version_not_installed(write_flow, run_flow, env_cache, hw_env, uv_calls):
    flow = write_flow(FLOW.format(deco="pypi", field="packages", packages={"six": "1.16.0"},
                                  extra="")
                      .replace("{'six': '1.16.0'})", "{'six': '1.16.0'}, python='3.99')"))
    proc = run_flow(flow, "run", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no Python 3.99 interpreter is installed for the environment" in proc.stderr
    assert not uv_calls("pip compile")  # refused before resolving
    assert not (hw_env / "environments").exists()
