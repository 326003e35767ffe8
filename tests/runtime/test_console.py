"""The `headwater` console script and the hidden `step` command remote compute runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from headwater import Flow

FLOWS = Path(__file__).parent / "flows"


def headwater(*args, env=None):
    return subprocess.run([sys.executable, "-m", "headwater.cli", *args], capture_output=True,
                          text=True, env=env)


def test_status_shows_mode_and_sources(monkeypatch, tmp_path):
    proc = headwater("status")
    assert proc.returncode == 0, proc.stderr
    assert "datastore: local (default)" in proc.stdout
    assert "namespace: user:tester" in proc.stdout
    home = Path(__import__("os").environ["METAFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.json").write_text(json.dumps({"METAFLOW_DEFAULT_METADATA": "service",
                                                  "METAFLOW_SERVICE_URL": "http://md:8080"}))
    proc = headwater("status")
    assert "metadata:  service (profile)  http://md:8080" in proc.stdout


def test_help_lists_commands():
    proc = headwater("--help")
    assert proc.returncode == 0 and "status" in proc.stdout


def test_step_command_runs_one_task_from_a_spec(run_flow):
    run_flow(FLOWS / "faults_flow.py", "run")
    run = Flow("FaultsFlow").latest_run
    middle = run["middle"].task
    spec = {"flow_name": "FaultsFlow", "run_id": run.id, "step_name": "middle",
            "task_id": middle.id, "attempt": 1,
            "inputs": [["start", run["start"].task.id, 0]], "stack": [], "max_retries": 0,
            "user": "tester", "namespace": None, "tags": [], "origin_run_id": None,
            "crashed": None}
    proc = run_flow(FLOWS / "faults_flow.py", "step", "--spec", json.dumps(spec))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"ok": True, "targets": ["end"], "foreach_count": None,
                      "foreach_var": None, "error": None}
    assert Flow("FaultsFlow")[run.id]["middle"].task.current_attempt == 1
