"""A live metadata service with the UI, runs made by the runtime in shared mode (local
datastore in a temporary folder the service is configured to read), and a headless
Chromium driven through ``browser.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

FLOWS = Path(__file__).parent / "flows"
ARTEFACTS = Path(os.environ.get("HEADWATER_UI_ARTEFACTS",
                                Path(__file__).resolve().parents[2] / "build" / "ui-screenshots"))
USER = "ui-tester"


@dataclass
class World:
    """One service and the environment that makes runs against it."""

    service: object
    env: dict
    base: Path
    runs: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.service.url

    def run(self, flow: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, str(FLOWS / flow), "run", *args], env=self.env,
                              cwd=self.base, capture_output=True, text=True, timeout=180)
        if check and proc.returncode != 0:
            raise AssertionError(f"{flow} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        return proc

    def start(self, flow: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(FLOWS / flow), "run", *args], env=self.env,
                                cwd=self.base, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def latest_run(self, flow: str) -> str:
        runs = httpx.get(f"{self.url}/flows/{flow}/runs").json()
        return str(runs[0]["run_id"] or runs[0]["run_number"])


def _world(make_database, start_service, base: Path, api_keys: tuple[str, ...] = ()) -> World:
    sysroot, home = base / "sysroot", base / "home"
    env_common = {"METAFLOW_DATASTORE_SYSROOT_LOCAL": str(sysroot),
                  "METAFLOW_HOME": str(home)}
    service = start_service(make_database(), api_keys=api_keys, env=env_common)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METAFLOW_", "HEADWATER_"))}
    env.update(env_common, METAFLOW_DEFAULT_METADATA="service", METAFLOW_SERVICE_URL=service.url,
               METAFLOW_USER=USER)
    if api_keys:
        env["METAFLOW_SERVICE_AUTH_KEY"] = api_keys[0]
    return World(service, env, base)


@pytest.fixture(scope="module")
def world(make_database, start_service, tmp_path_factory) -> World:
    """Runs of FanoutFlow: one that succeeded (tag ``smoke``), one whose last item failed.

    The failed run has one worker, so items 0-2 succeed before item 3 fails: with several,
    the scheduler's kill after the failure could stop its siblings before any had finished."""
    w = _world(make_database, start_service, tmp_path_factory.mktemp("ui"))
    w.run("fanout_flow.py", "--width", "3", "--tag", "smoke")
    w.runs["ok"] = w.latest_run("FanoutFlow")
    w.run("fanout_flow.py", "--width", "4", "--fail-on", "3", "--max-workers", "1", check=False)
    w.runs["failed"] = w.latest_run("FanoutFlow")
    return w


@pytest.fixture(scope="module")
def keyed_world(make_database, start_service, tmp_path_factory) -> World:
    """A service with API keys, and one run made with the key."""
    w = _world(make_database, start_service, tmp_path_factory.mktemp("ui-keyed"),
               api_keys=("ui-right-key",))
    w.run("fanout_flow.py", "--width", "2")
    return w


@pytest.fixture(scope="module")
def browser():
    from .browser import Browser, chromium_missing

    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    b = Browser(ARTEFACTS)
    yield b
    b.close()
