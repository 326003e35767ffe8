"""The dev stack as a user runs it: ``python -m headwater.cli dev up`` in a temporary folder,
flows run with its profile (``METAFLOW_HOME`` + ``METAFLOW_PROFILE=dev``), ``dev down``.

- ``dev_stack`` (function): ``dev_stack(cloud)`` -> a ``DevStack`` that is up; its profile is
  active in this process's environment (so the Client API reads from it) and in every
  subprocess the test starts. Stopped (``dev down``) at the end of the test.

Azurite is the repository's ``node_modules`` install (``HEADWATER_DEV_AZURITE``), not a
fresh ``npm install`` per test: the install path itself needs the network. Postgres is the
``pgserver`` wheel's, started by the stack, so these tests do not use the CI server. The
stack's folder is made with ``mkdtemp`` in the system temp folder, not under pytest's
``tmp_path``: as root Postgres runs as the ``pgserver`` user, which must traverse the
folders above its data, and pytest resets its own root folder to 0700 whenever a session
starts.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = ROOT / "node_modules" / ".bin" / "azurite-blob"


def free_port_triple() -> int:
    """A port P with P, P+1 and P+2 free on loopback."""
    for _ in range(200):
        base = random.randrange(20000, 60000)
        ok = True
        for port in (base, base + 1, base + 2):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no three consecutive free ports")


class DevStack:
    """One stack folder and the environment that selects its profile."""

    def __init__(self, folder: Path, home: Path, cloud: str, port: int):
        self.folder = folder
        self.home = home
        self.cloud = cloud
        self.port = port

    def cli(self, *args: str, check: bool = True, timeout: float = 180
            ) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "headwater.cli", "dev", *args,
                               "--dir", str(self.folder)], capture_output=True, text=True,
                              timeout=timeout, env=dict(os.environ))
        if check and proc.returncode != 0:
            raise AssertionError(f"dev {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def up(self) -> subprocess.CompletedProcess:
        return self.cli("up", "--cloud", self.cloud, "--port", str(self.port))

    def down(self, *args: str) -> subprocess.CompletedProcess:
        return self.cli("down", *args)

    @property
    def state(self) -> dict:
        return json.loads((self.folder / "state.json").read_text())

    def pid(self, component: str) -> int:
        return self.state["processes"][component]["pid"]

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_key(self) -> str:
        return (self.folder / "service" / "api-key").read_text().strip()

    @property
    def profile(self) -> dict:
        return json.loads((self.home / "config_dev.json").read_text())

    def service_log(self) -> str:
        return (self.folder / "logs" / "service.log").read_text(errors="replace")


@pytest.fixture
def dev_stack(tmp_path, monkeypatch, hw_env):
    started: list[DevStack] = []

    def make(cloud: str) -> DevStack:
        if cloud == "azure":
            if not AZURITE_BIN.exists():
                pytest.skip("Azurite is not installed: run `npm install` in the repository root")
            monkeypatch.setenv("HEADWATER_DEV_AZURITE", str(AZURITE_BIN))
        home = tmp_path / "mfhome"
        folder = Path(tempfile.mkdtemp(prefix="hw-e2e-")) / "stack"
        monkeypatch.setenv("METAFLOW_HOME", str(home))
        monkeypatch.setenv("METAFLOW_PROFILE", "dev")
        monkeypatch.delenv("METAFLOW_DATASTORE_SYSROOT_LOCAL", raising=False)
        for var in [k for k in os.environ if k.startswith("AWS_")]:
            monkeypatch.delenv(var)
        if cloud == "aws":
            monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "aws" / "config"))
            monkeypatch.setenv("AWS_PROFILE", "headwater-dev")
            monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
            monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        stack = DevStack(folder, home, cloud, free_port_triple())
        started.append(stack)
        stack.up()
        return stack

    yield make
    for stack in started:
        stack.cli("down", check=False)
        shutil.rmtree(stack.folder.parent, ignore_errors=True)
