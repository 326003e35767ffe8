"""Postgres for the dev stack: the server binaries of the ``pgserver`` wheel (PostgreSQL 16),
a database cluster under ``<dir>/postgres/data``, listening on loopback TCP only.

``pgserver``'s own start-up helper is not used: it keeps its own handle bookkeeping and stops
the server when the Python process that started it exits, while the dev stack's servers
outlive ``headwater dev up``. Only its binaries are, run as a plain supervised process.

Postgres refuses to run as root. As root the server runs as the OS user ``pgserver`` (made
with ``useradd`` if missing, as the ``pgserver`` wheel itself does), which owns the data
folder; the folders above it and above pgserver's binaries get the "others may traverse"
bit (``o+x``) so that user can reach them.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import stat
import subprocess
import time
from pathlib import Path

from . import process
from .errors import DevStackError

DATABASE = "headwater"
SUPERUSER = "postgres"
OS_USER_AS_ROOT = "pgserver"


def binaries() -> Path:
    """The folder of pgserver's PostgreSQL binaries."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise DevStackError("no Postgres for the dev stack: the pgserver wheel is not installed",
                            "pip install 'headwater[dev]' (or pass --database-url URL)")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def url(port: int, database: str = DATABASE) -> str:
    return f"postgresql://{SUPERUSER}@{process.LOOPBACK}:{port}/{database}"


def _os_user() -> str | None:
    """The OS user the server runs as: None (the current user) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(OS_USER_AS_ROOT)
    except KeyError:
        done = subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/bin/false",
                               OS_USER_AS_ROOT], capture_output=True, text=True)
        if done.returncode != 0:
            raise DevStackError(f"running as root, and cannot create the OS user "
                                f"{OS_USER_AS_ROOT!r} Postgres must run as: "
                                f"{done.stderr.strip()}",
                                "run `headwater dev up` as a normal user, or pass "
                                "--database-url URL") from None
    return OS_USER_AS_ROOT


def _traversable(path: Path) -> None:
    """Give the folders above ``path`` the "others may traverse" bit (not read)."""
    for folder in [*path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def _hand_over(data: Path, user: str) -> None:
    """Let ``user`` own ``data`` and reach it and the server's binaries (which may sit in a
    venv under root's home, e.g. CI's)."""
    entry = pwd.getpwnam(user)
    _traversable(data)
    _traversable(binaries())
    for root, dirs, files in os.walk(data):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(data, entry.pw_uid, entry.pw_gid)


def start(root: Path, port: int, log: Path) -> int:
    """Initialise the cluster on first use, start the server, create the database; returns
    the server's pid."""
    bin_dir = binaries()
    data = root / "postgres" / "data"
    user = _os_user()
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        data.chmod(0o700)
        if user:
            _hand_over(data, user)
        done = subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "--auth=trust",
                               "-U", SUPERUSER, "--encoding=UTF8", "--no-instructions"],
                              capture_output=True, text=True, cwd=data,
                              **process.as_user(user))
        if done.returncode != 0:
            raise DevStackError(f"initdb failed: {done.stderr.strip()[-500:]}",
                                f"remove {data} and run `headwater dev up` again")
    elif user:
        _hand_over(data, user)
    # Loopback TCP only; no Unix socket (its path length limit bites deep folders).
    pid = process.start_detached(
        [str(bin_dir / "postgres"), "-D", str(data), "-h", process.LOOPBACK, "-p", str(port),
         "-k", "", "-c", "synchronous_commit=off"],
        log, user=user, cwd=data)
    try:
        process.wait_until(lambda: _accepts(port), pid, "Postgres", log)
        _create_database(port)
    except BaseException:
        stop(pid)
        raise
    return pid


def _accepts(port: int) -> bool:
    import psycopg

    try:
        with psycopg.connect(url(port, "postgres"), connect_timeout=1):
            return True
    except psycopg.OperationalError:
        time.sleep(0.05)
        return False


def _create_database(port: int) -> None:
    import psycopg

    with psycopg.connect(url(port, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            return
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def stop(pid: int) -> bool:
    """Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit)."""
    return process.stop(pid, signal_name="SIGINT", group=False)
