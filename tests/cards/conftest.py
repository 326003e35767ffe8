"""One run of ``flows/report_flow.py`` shared by the card tests that only read its cards.

``report_run`` (session): the run's local sysroot, made once in a temp folder.
``use_report_run`` (function): points this test's settings at that sysroot.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FLOWS = Path(__file__).with_name("flows")


def run_flow_file(path: Path, sysroot: Path, *args: str, extra_env: dict | None = None,
                  check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "HEADWATER_"))}
    env.update({"METAFLOW_HOME": str(sysroot.parent / "home"),
                "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(sysroot), "METAFLOW_USER": "tester",
                "MPLBACKEND": "Agg"})
    env.update(extra_env or {})
    proc = subprocess.run([sys.executable, str(path), *args], env=env, capture_output=True,
                          text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{path.name} {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def report_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("report-run")
    sysroot = base / "sysroot"
    proc = run_flow_file(FLOWS / "report_flow.py", sysroot, "run")
    return {"sysroot": sysroot, "proc": proc, "base": base}


@pytest.fixture
def use_report_run(report_run, monkeypatch):
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_LOCAL", str(report_run["sysroot"]))
    monkeypatch.setenv("METAFLOW_HOME", str(report_run["base"] / "home"))
    return report_run
