"""Process supervision for the dev stack: start a server detached from the terminal with its
output in a log file, wait until it answers, stop it by pid.

Servers run in their own session (``start_new_session``), so a Ctrl-C in the terminal that
ran ``headwater dev up`` does not reach them once ``up`` has finished; while ``up`` runs,
it stops whatever it has started itself if interrupted.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Callable, Mapping, Sequence

from . import interrupts
from .errors import DevStackError

LOOPBACK = "127.0.0.1"


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """Whether something already listens on ``host:port``."""
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def require_free_port(port: int, component: str, option: str) -> None:
    if port_in_use(port):
        raise DevStackError(f"port {port} (for {component}) is already in use on {LOOPBACK}",
                            f"stop what listens there, or pick other ports with {option}")


def start_detached(args: Sequence[str], log: Path, env: Mapping[str, str] | None = None,
                   cwd: Path | None = None, user: str | None = None) -> int:
    """Start ``args`` in a new session with stdout and stderr appended to ``log``; returns
    the pid. Never a pipe: nobody reads it, and a full pipe would block the server."""
    log.parent.mkdir(parents=True, exist_ok=True)
    # A Ctrl-C between the fork and remembering the child would leave it running unseen.
    with open(log, "ab") as out, interrupts.deferred():
        try:
            proc = subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=dict(env) if env else None,
                                    cwd=cwd, start_new_session=True, **as_user(user))
        except FileNotFoundError:
            raise DevStackError(f"cannot run {args[0]}: no such program",
                                "install it (see docs/dev-stack.md)") from None
        _children[proc.pid] = proc
    return proc.pid


def as_user(user: str | None) -> dict:
    """``subprocess`` arguments that run a program as ``user`` with only that user's own
    group (root's groups kept would let root-group permissions decide access)."""
    if user is None:
        return {}
    return {"user": user, "group": user, "extra_groups": []}


# Popen objects of the servers this process started: polled to reap them (a zombie would
# still look alive to ``os.kill(pid, 0)``), and stopped by ``stop_strays``.
_children: dict[int, subprocess.Popen] = {}


def stop_strays(known: set[int]) -> list[int]:
    """Stop every server this process started that is still running and not in ``known``
    (one interrupted between its start and being recorded); returns their pids."""
    strays = [pid for pid in _children if pid not in known and alive(pid)]
    for pid in reversed(strays):
        stop(pid)
    return strays


def alive(pid: int | None) -> bool:
    """Whether process ``pid`` is running (a reaped or zombie process is not)."""
    if not pid:
        return False
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def stop(pid: int | None, timeout: float = 10.0, signal_name: str = "SIGTERM",
         group: bool = True) -> bool:
    """Stop process ``pid`` (and, with ``group``, its session's other processes): the
    signal ``signal_name``, then SIGKILL after ``timeout``. Returns whether it was running."""
    if not alive(pid):
        return False
    assert pid is not None
    for sig, wait in ((signal.Signals[signal_name], timeout), (signal.SIGKILL, 5.0)):
        try:
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except PermissionError:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid):
                return True
            time.sleep(0.05)
    return True


def wait_until(check: Callable[[], bool], pid: int, what: str, log: Path,
               timeout: float = 30.0) -> None:
    """Wait until ``check()`` is true; the process exiting or the timeout is an error that
    quotes the end of its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            raise DevStackError(f"{what} exited while starting:\n{tail(log, 15)}",
                                f"see {log}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise DevStackError(f"{what} did not answer within {timeout:g} s", f"see {log}")


def listening(port: int) -> Callable[[], bool]:
    return lambda: port_in_use(port)


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    return check


def tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def folder_size(path: Path) -> int:
    """Bytes in the files under ``path`` (0 when it does not exist)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total
