"""Where the client reads from: chosen from settings, cached per process, import stays light."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from headwater import Flow, get_metadata
from headwater.client import _services
from headwater.exceptions import ConfigurationError, ObjectNotFound
from headwater.settings import Settings


def test_services_are_cached_and_follow_the_environment(make_run, monkeypatch, tmp_path):
    first = _services.services()
    assert _services.services() is first
    assert first.provider is first.provider and first.backend() is first.backend()
    make_run("HereFlow").linear({"start": {}, "end": {}})
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_LOCAL", str(elsewhere))
    assert _services.services() is not first
    assert get_metadata() == f"local@{elsewhere}"
    with pytest.raises(ObjectNotFound, match=f"does not exist in local@{elsewhere}"):
        Flow("HereFlow")


def test_services_are_rebuilt_after_a_fork():
    parent = _services.services()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report whether it got fresh services, then leave at once
        try:
            fresh = _services.services() is not parent and _services.services() is not None
            os.write(write, b"fresh" if fresh else b"stale")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as f:
        assert f.read() == b"fresh"
    assert _services.services() is parent


def test_pinned_settings_win_over_the_environment(tmp_path, hw_env):
    settings = Settings(env={"METAFLOW_DATASTORE_SYSROOT_LOCAL": str(tmp_path / "pinned"),
                             "METAFLOW_USER": "pinned-user", "METAFLOW_HOME": str(tmp_path)})
    with _services.pinned(settings):
        assert get_metadata() == f"local@{tmp_path / 'pinned'}"
        from headwater import get_namespace

        assert get_namespace() == "user:pinned-user"
    assert get_metadata() == f"local@{hw_env}"


def test_unknown_metadata_provider_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("METAFLOW_DEFAULT_METADATA", "nosuch")
    with pytest.raises(ConfigurationError, match="unknown metadata provider 'nosuch'"):
        get_metadata()


def test_importing_the_client_pulls_in_no_heavy_module():
    code = ("import sys, headwater.client; from headwater import Flow, namespace; "
            "heavy = ('azure', 'boto3', 'botocore', 'pulumi', 'fastapi', 'httpx', 'numpy', "
            "'cloudpickle', 'headwater.metadata.local', 'headwater.datastore.local'); "
            "print(sorted(m for m in sys.modules if m.startswith(heavy)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
