"""The metadata service for the dev stack: the schema brought up to date (the same
migrations as ``headwater-service db upgrade``), then ``headwater-service serve`` on
loopback with one API key.

The key is generated on the first ``up`` and kept in ``<dir>/service/api-key`` (mode 0600);
the service reads it through ``HEADWATER_SERVICE_API_KEYS_FILE`` and the runtime through the
profile's ``METAFLOW_SERVICE_AUTH_KEY_FILE``, so the key itself is in no profile, command
line or log. Only its first characters are ever shown.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from . import process
from .errors import DevStackError
from .state import write_private

KEY_PREFIX = "hwdev_"


def redact_url(url: str) -> str:
    """``url`` without its password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def upgrade_schema(database_url: str) -> list[str]:
    """Apply pending migrations; returns their names."""
    try:
        import psycopg

        from headwater_service import migrations
    except ImportError:
        raise DevStackError("the dev stack needs the metadata service's dependencies",
                            "pip install 'headwater[dev]'") from None
    try:
        with psycopg.connect(database_url, connect_timeout=10,
                             application_name="headwater-dev") as conn:
            applied = migrations.upgrade(conn)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DevStackError(f"cannot prepare the database at {redact_url(database_url)}: "
                            f"{reason}", "check --database-url and that the server runs") from None
    except migrations.MigrationError as exc:
        raise DevStackError(str(exc)) from None
    return [f"{m.version:04d}_{m.name}" for m in applied]


def api_key(path: Path) -> str:
    """The stack's API key, generated (and stored 0600) on first use."""
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if not key:
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        write_private(path, key + "\n")
    return key


def shown(key: str) -> str:
    """What may be printed of a key: its prefix and a few characters."""
    return key[:len(KEY_PREFIX) + 4] + "…"


def start(database_url: str, port: int, key_file: Path, log: Path) -> int:
    """Start the service; returns its pid once ``/ping`` answers."""
    from headwater_service.faults import CRASH_FILE_ENV

    env = {k: v for k, v in os.environ.items() if not k.startswith(("METAFLOW_", "HEADWATER_"))}
    env.update({"HEADWATER_DATABASE_URL": database_url,
                "HEADWATER_SERVICE_API_KEYS_FILE": str(key_file)})
    if os.environ.get(CRASH_FILE_ENV):  # the crash tests' fault injection point
        env[CRASH_FILE_ENV] = os.environ[CRASH_FILE_ENV]
    pid = process.start_detached(
        [sys.executable, "-m", "headwater_service.cli", "serve", "--host", process.LOOPBACK,
         "--port", str(port)], log, env=env)
    try:
        process.wait_until(process.http_ok(url(port) + "/ping"), pid, "the metadata service",
                           log)
    except BaseException:
        process.stop(pid)
        raise
    return pid


def url(port: int) -> str:
    return f"http://{process.LOOPBACK}:{port}"
