"""Flows and a Client script written only with Metaflow's API (``from metaflow import ...``)
run on Headwater through an alias: a ``sitecustomize.py`` first on PYTHONPATH sets
``sys.modules["metaflow"] = headwater`` (and ``metaflow.exception``). This proves the names
and behaviours these files use exist and agree with Metaflow's; it does not run Metaflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "metaflow_flows"


@pytest.fixture
def shimmed(tmp_path):
    """A working folder with the flows, and an environment whose ``metaflow`` is Headwater."""
    for name in os.listdir(HERE):
        if name.endswith(".py"):
            shutil.copy(HERE / name, tmp_path / name)
    (tmp_path / "notes.txt").write_text("  included through IncludeFile  \n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=180)
        if check and proc.returncode != 0:
            raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run


def test_the_alias_is_in_place(shimmed):
    proc = shimmed("-c", "import metaflow, headwater; print(metaflow is headwater)")
    assert proc.stdout.strip() == "True"


def test_metaflow_flows_and_client_script_run_on_headwater(shimmed):
    shimmed("surface_flow.py", "run", "--alpha", "0.25", "--tag", "parity-tag")
    shimmed("faults_flow.py", "run")
    out = json.loads(shimmed("read_client.py").stdout)
    summary = out.pop("summary")
    assert summary.pop("pathspec").startswith("SurfaceFlow/")
    assert summary == {"alpha": 0.25, "mode": "fast", "notes": "included through IncludeFile",
                       "total": 0 + 1 + 4, "common": "same everywhere",
                       "sides": ["left", "right"], "chosen": "small", "flow": "SurfaceFlow",
                       "task_is_client": True}
    assert out == {
        "successful": True,
        # the switch went to "small": "big" never ran, so the run has no such step
        "steps": ["end", "gather", "left", "meet", "right", "small", "square", "start"],
        "square_tasks": 3, "index_values": [0, 1, 2], "tagged": out["tagged"],
        "by_pathspec": True, "gather_parents": True, "end_task": True,
        "task_by_pathspec": 5, "flows": ["MfFaultsFlow", "SurfaceFlow"], "namespace": True,
        "not_found": True, "mismatch": True, "global_sees": True,
        "faults_successful": True, "attempts_seen": 1, "start_attempt": 1,
        "problem": ["builtins.ValueError", "always fails", True], "had_problem": True,
    }
    assert len(out["tagged"]) == 1


def test_metaflow_cli_habits(shimmed):
    shown = shimmed("surface_flow.py", "show").stdout
    assert "Step start" in shown and "foreach over 'items'" in shown
    helped = shimmed("surface_flow.py", "run", "--help").stdout
    assert "--alpha" in helped and "--notes PATH" in helped
    bad = shimmed("surface_flow.py", "run", "--alpha", "fast", check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "parameter --alpha expects a number" in bad.stderr


def test_recursive_switch_and_parallel_in_metaflow_form(shimmed):
    shimmed("loop_gang_flow.py", "run")
    read = ("import json; from metaflow import Flow; run = Flow('MfLoopGangFlow').latest_run; "
            "print(json.dumps([run.successful, len(list(run['grow'])), run.data.count, "
            "run.data.wheres]))")
    assert json.loads(shimmed("-c", read).stdout) == [True, 4, 4, [[0, 2], [1, 2]]]


def test_runner_loglines_and_deployer_names_in_metaflow_form(shimmed):
    out = json.loads(shimmed("runner_script.py").stdout)
    assert out == {"status": "successful", "successful": True,
                   "lines": ["line 0", "line 1", "line 2"], "timed": True,
                   "deployers": [True, True], "lookups": [True] * 5}
