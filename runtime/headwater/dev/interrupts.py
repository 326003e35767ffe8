"""Ctrl-C and SIGTERM while ``headwater dev up`` starts servers: always an interrupt that
stops what this ``up`` started.

Python turns SIGINT into ``KeyboardInterrupt`` only if the process inherited the default
disposition: a process started in the background by a non-interactive shell (``cmd &``, as
CI runners and scripts do) inherits SIGINT *ignored*, so a Ctrl-C sent to it did nothing
and ``up`` went on to finish (and exit 0). SIGTERM's default kills the process without any
clean-up, leaving the servers started so far running. ``handled()`` installs one handler for
both while ``up`` runs. ``deferred()`` holds an interrupt back across a step that must not
be cut in two (a server spawned but not yet remembered), raising it when the step is done.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    depth = 0  # nested deferred() blocks
    pending: int | None = None  # a signal that arrived inside one


def _interrupt(signum: int, frame: object) -> None:
    if _State.depth:
        _State.pending = signum
        return
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``KeyboardInterrupt`` inside the block, whatever the process
    inherited; the previous handlers are restored after it."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """An interrupt arriving inside the block is raised when the block ends."""
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1
        if not _State.depth and _State.pending is not None:
            signum, _State.pending = _State.pending, None
            raise KeyboardInterrupt(signal.Signals(signum).name)
