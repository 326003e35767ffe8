"""Ctrl-C stops every task cleanly and leaves a run that resume can continue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headwater import Flow

FLOWS = Path(__file__).parent / "flows"


@pytest.mark.xfail(strict=False, reason=(
    "flaky in full parallel suite runs since the engine refactor: now and then the run has "
    "not exited 30 s after Ctrl-C (passes alone and under artificial load); open in issue 9"))
def test_ctrl_c_stops_tasks_and_run_is_resumable(tmp_path):
    marker = tmp_path / "fixed"
    proc = subprocess.Popen([sys.executable, str(FLOWS / "faults_flow.py"), "run", "--fail",
                             "sleep", "--marker", str(marker)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    pid_file_seen = False
    while time.monotonic() < deadline and not pid_file_seen:
        time.sleep(0.2)
        pid_file_seen = any(True for _ in Path(os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"])
                            .glob("FaultsFlow/*/middle/*/0.stdout"))
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "interrupted" in err and "resume --origin-run-id" in err
    # no task process is left behind
    leftover = subprocess.run(["pgrep", "-f", f"faults_flow.py run --fail sleep --marker {marker}"],
                              capture_output=True, text=True).stdout.split()
    assert [p for p in leftover if int(p) != proc.pid] == []
    marker.touch()
    subprocess.run([sys.executable, str(FLOWS / "faults_flow.py"), "resume"], check=True,
                   capture_output=True, timeout=60)
    assert Flow("FaultsFlow").latest_run.successful
