"""Azurite (Azure Blob Storage emulator) for ``headwater dev up --cloud azure``.

Installed once with npm into ``<dir>/npm`` (never globally): ``npm install azurite@3.35.0``
(3.36 and later need Node 22). ``HEADWATER_DEV_AZURITE`` may name an ``azurite-blob``
executable already on the machine instead (the test suite points it at the repository's
``node_modules``). Blobs are kept in ``<dir>/azurite/data``.

Azurite's account key is a published development key, but a connection string is a secret
by Headwater's rules: it is written to ``<dir>/azurite/connection-string`` (0600) and the
profile names that file (``METAFLOW_AZURE_STORAGE_CONNECTION_STRING_FILE``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from . import process
from .errors import DevStackError

VERSION = "3.35.0"
BIN_ENV = "HEADWATER_DEV_AZURITE"
ACCOUNT = "devstoreaccount1"
# Azurite's published development key: the same in every installation.
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")
CONTAINER = "headwater"


def endpoint(port: int) -> str:
    return f"http://{process.LOOPBACK}:{port}/{ACCOUNT}"


def connection_string(port: int) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={endpoint(port)};")


def needs_install(npm_prefix: Path) -> bool:
    """Whether ``executable`` will run ``npm install`` first."""
    return not os.environ.get(BIN_ENV) and not (
        npm_prefix / "node_modules" / ".bin" / "azurite-blob").exists()


def executable(npm_prefix: Path, log: Path) -> tuple[Path, bool]:
    """The ``azurite-blob`` to run, installing it into ``npm_prefix`` on first use; and
    whether it was installed now."""
    given = os.environ.get(BIN_ENV)
    if given:
        path = Path(given).expanduser()
        if not path.exists():
            raise DevStackError(f"{BIN_ENV}={given} does not exist",
                                f"point it at an azurite-blob executable, or unset it to "
                                f"install Azurite {VERSION} under the stack's folder")
        return path, False
    installed = npm_prefix / "node_modules" / ".bin" / "azurite-blob"
    if installed.exists():
        return installed, False
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        missing = " and ".join(n for n, p in (("node", node), ("npm", npm)) if not p)
        raise DevStackError(f"Azurite (the Azure Storage emulator) needs Node.js 20+ and npm; "
                            f"{missing} not found on PATH",
                            "install Node.js 20 (e.g. `apt-get install nodejs npm`), or use "
                            "`headwater dev up --cloud aws` (moto, no Node needed)")
    npm_prefix.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        done = subprocess.run([npm, "install", "--prefix", str(npm_prefix), "--no-audit",
                               "--no-fund", "--loglevel", "error", f"azurite@{VERSION}"],
                              stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if done.returncode != 0 or not installed.exists():
        raise DevStackError(f"`npm install azurite@{VERSION}` failed:\n{process.tail(log, 8)}",
                            f"check the network access to the npm registry; full output in {log}")
    return installed, True


def start(binary: Path, data: Path, port: int, log: Path) -> int:
    """Start Azurite's blob server and create the stack's container; returns the pid."""
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    pid = process.start_detached(
        [str(binary), "--blobHost", process.LOOPBACK, "--blobPort", str(port),
         "--location", str(data), "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
        log)
    try:
        process.wait_until(process.listening(port), pid, "Azurite", log)
        create_container(port)
    except BaseException:
        process.stop(pid)
        raise
    return pid


def create_container(port: int) -> None:
    try:
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient
    except ImportError:
        raise DevStackError("the Azure dev stack needs azure-storage-blob",
                            "pip install 'headwater[azure]'") from None
    service = BlobServiceClient.from_connection_string(connection_string(port))
    try:
        service.create_container(CONTAINER)
    except ResourceExistsError:
        pass
