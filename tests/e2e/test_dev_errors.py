"""``headwater dev`` on bad input and unfriendly machines: one clear line, nothing left
running; and the ``<SECRET>_FILE`` settings the dev profile relies on. Quick: no stack is
brought fully up here."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from headwater.exceptions import ConfigurationError
from headwater.settings import Settings

from .conftest import free_port_triple


def dev(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "headwater.cli", "dev", *args],
                          capture_output=True, text=True, timeout=120, env=full_env)


def one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Traceback" not in output, output
    for fragment in fragments:
        assert fragment in output, output
    return output


def test_a_port_in_use_is_one_line_and_starts_nothing(tmp_path):
    port = free_port_triple()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port + 2))
        busy.listen()
        proc = dev("up", "--cloud", "aws", "--dir", str(tmp_path / "stack"), "--port", str(port))
    one_line_error(proc, f"port {port + 2}", "already in use", "--port")
    assert not (tmp_path / "stack" / "state.json").exists()
    assert not (tmp_path / "stack" / "postgres").exists()


def test_an_unreachable_database_url_is_one_line_and_starts_nothing(tmp_path):
    proc = dev("up", "--cloud", "aws", "--dir", str(tmp_path / "stack"),
               "--port", str(free_port_triple()),
               "--database-url", "postgresql://postgres:pw0rd@127.0.0.1:1/none")
    output = one_line_error(proc, "cannot prepare the database", "--database-url")
    assert "pw0rd" not in output
    assert not (tmp_path / "stack" / "state.json").exists()


def test_azurite_install_needs_node_and_npm(tmp_path, monkeypatch):
    from headwater.dev import azurite
    from headwater.dev.errors import DevStackError

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(azurite.BIN_ENV, raising=False)
    with pytest.raises(DevStackError) as err:
        azurite.executable(tmp_path / "npm", tmp_path / "install.log")
    assert "needs Node.js 20+ and npm" in err.value.message
    assert "--cloud aws" in err.value.fix


def test_a_foreign_profile_is_never_overwritten(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    theirs = {"METAFLOW_DEFAULT_DATASTORE": "s3", "METAFLOW_DATASTORE_SYSROOT_S3": "s3://prod"}
    (home / "config_dev.json").write_text(json.dumps(theirs))
    proc = dev("up", "--cloud", "aws", "--dir", str(tmp_path / "stack"),
               "--port", str(free_port_triple()), env={"METAFLOW_HOME": str(home)})
    one_line_error(proc, "was not written by `headwater dev up`", "--profile")
    assert json.loads((home / "config_dev.json").read_text()) == theirs


def test_status_and_down_without_a_stack(tmp_path):
    status = dev("status", "--dir", str(tmp_path))
    assert status.returncode == 0 and "no dev stack" in status.stdout
    down = dev("down", "--dir", str(tmp_path))
    assert down.returncode == 0 and "nothing running" in down.stdout
    logs = dev("logs", "nosuch", "--dir", str(tmp_path))
    one_line_error(logs, "no component 'nosuch'", "postgres, service, azurite, moto")


def test_a_secret_setting_is_read_from_the_file_the_profile_names(tmp_path):
    key_file = tmp_path / "api-key"
    key_file.write_text("hwdev_abc123\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "config_dev.json").write_text(json.dumps({
        "METAFLOW_SERVICE_URL": "http://127.0.0.1:1",
        "METAFLOW_SERVICE_AUTH_KEY_FILE": str(key_file)}))
    env = {"METAFLOW_HOME": str(home), "METAFLOW_PROFILE": "dev"}
    settings = Settings(env=env)
    assert settings.get("METAFLOW_SERVICE_AUTH_KEY") == "hwdev_abc123"
    assert settings.source("METAFLOW_SERVICE_AUTH_KEY") == "file"
    # the environment still wins over the file
    assert Settings(env={**env, "METAFLOW_SERVICE_AUTH_KEY": "from-env"}).get(
        "METAFLOW_SERVICE_AUTH_KEY") == "from-env"
    key_file.unlink()
    with pytest.raises(ConfigurationError) as err:
        Settings(env=env).get("METAFLOW_SERVICE_AUTH_KEY")
    assert "METAFLOW_SERVICE_AUTH_KEY_FILE" in err.value.message
    assert "hwdev_abc123" not in str(err.value)


def test_the_secret_value_itself_in_a_profile_is_still_ignored(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text(json.dumps({"METAFLOW_SERVICE_AUTH_KEY": "leaked"}))
    assert Settings(env={"METAFLOW_HOME": str(home)}).get("METAFLOW_SERVICE_AUTH_KEY") is None


FAKE_AZURITE = """#!/bin/sh
# stands in for azurite-blob: says it started, then never listens (so `up` waits for it)
echo $$ > "$HW_TEST_MARKER.tmp" && mv "$HW_TEST_MARKER.tmp" "$HW_TEST_MARKER"
exec sleep 600
"""


def _ignore_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.slow
@pytest.mark.parametrize("signal_name,inherited", [
    # what a terminal sends; and the same with SIGINT ignored by inheritance, as for a
    # process a non-interactive shell started in the background (CI): `up` once ran on
    # to exit 0 there
    ("SIGINT", "default"), ("SIGINT", "ignored"), ("SIGTERM", "default")])
def test_ctrl_c_during_up_leaves_nothing_running(tmp_path, signal_name, inherited):
    import shutil
    import signal
    import tempfile
    import time

    folder = Path(tempfile.mkdtemp(prefix="hw-e2e-")) / "stack"  # see conftest: not tmp_path
    port = free_port_triple()
    fake = tmp_path / "azurite-blob"
    fake.write_text(FAKE_AZURITE)
    fake.chmod(0o755)
    marker = tmp_path / "storage-started"
    env = dict(os.environ, METAFLOW_HOME=str(tmp_path / "home"), HEADWATER_DEV_AZURITE=str(fake),
               HW_TEST_MARKER=str(marker))
    proc = subprocess.Popen([sys.executable, "-m", "headwater.cli", "dev", "up", "--cloud",
                             "azure", "--dir", str(folder), "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=_ignore_sigint if inherited == "ignored" else None)
    try:
        deadline = time.monotonic() + 300
        # Postgres and the service are up and recorded; `up` now waits for the storage
        # emulator, which will never answer: the interrupt lands mid-`up`, every time
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        state_file = folder / "state.json"
        recorded = json.loads(state_file.read_text())["processes"]
        assert set(recorded) == {"postgres", "service"}, recorded
        pids = [rec["pid"] for rec in recorded.values()] + [int(marker.read_text())]
        proc.send_signal(getattr(signal, signal_name))
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 130, output
        assert "Traceback" not in output, output
        for pid in pids:
            assert not _alive(pid), (pid, output)
        assert not state_file.exists()
        assert not (tmp_path / "home" / "config_dev.json").exists()
        for p in (port, port + 1, port + 2):
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", p)) != 0, f"port {p} still answers"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run([sys.executable, "-m", "headwater.cli", "dev", "down", "--dir",
                        str(folder)], capture_output=True, env=env)
        shutil.rmtree(folder.parent, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def test_moto_restores_every_object_written_concurrently(tmp_path):
    """moto records requests from several threads; every line must stay whole, so a
    restart replays every object (a bare moto interleaves long lines and loses some)."""
    import concurrent.futures

    import boto3

    from headwater.dev import moto, process

    port = free_port_triple()
    pid, _ = moto.start(tmp_path / "moto", port, tmp_path / "moto.log")
    try:
        s3 = boto3.session.Session().client(
            "s3", endpoint_url=moto.endpoint(port), region_name=moto.REGION,
            aws_access_key_id="x", aws_secret_access_key="y")
        blobs = {f"k{i}": os.urandom(40000 + i) for i in range(48)}
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda kv: s3.put_object(Bucket=moto.BUCKET, Key=kv[0], Body=kv[1]),
                          blobs.items()))
    finally:
        process.stop(pid)
    for line in moto.recording(tmp_path / "moto").read_text().splitlines():
        json.loads(line)  # whole
    pid, replayed = moto.start(tmp_path / "moto", port, tmp_path / "moto.log")
    try:
        assert replayed >= len(blobs)
        for key, value in blobs.items():
            assert s3.get_object(Bucket=moto.BUCKET, Key=key)["Body"].read() == value
    finally:
        process.stop(pid)
