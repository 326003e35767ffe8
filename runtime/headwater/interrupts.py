"""Ctrl-C in the run process: never lost, never splitting a step that must happen whole.

Python raises ``KeyboardInterrupt`` wherever the main thread is when SIGINT's handler runs.
Two places make that wrong for a scheduler that forks:

- Python code that runs inside ``os.fork()`` (the at-fork hooks: ``logging`` takes and
  releases its module lock around every fork) or in a finalizer swallows the exception
  ("Exception ignored in ..."), so a Ctrl-C that arrives during a fork is lost and the run
  goes on to the end. A foreach forks all the time: there, many Ctrl-Cs arrive in a fork.
- Between a fork and the bookkeeping of the child, an interrupt leaves a task process that
  nothing will stop; in the child before it has reset SIGINT, the exception would run the
  scheduler's own interrupt handling in the task process.

``watched()`` (around the scheduler's loop) installs a handler that records each SIGINT
before raising, so ``check()`` raises again one that was swallowed; inside ``deferred()``
the handler only records, and the interrupt is raised when the block ends. Outside
``watched()`` (or off the main thread, or when SIGINT is not Python's default handler), both
are no-ops and Python's own behaviour stands.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_pending = False  # a SIGINT arrived that no KeyboardInterrupt has acted on yet
_depth = 0  # nesting of deferred() blocks


def _on_sigint(signum: int, frame: object) -> None:
    global _pending
    _pending = True
    if not _depth:
        raise KeyboardInterrupt


@contextmanager
def watched() -> Iterator[None]:
    """Record every SIGINT while the block runs (see the module's text)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    acknowledge()
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def acknowledge() -> None:
    """The interrupt received so far is being acted on: ``check`` stops raising it."""
    global _pending
    _pending = False


def check() -> None:
    """Raise ``KeyboardInterrupt`` for a SIGINT that arrived and was not acted on."""
    if _pending and not _depth:
        acknowledge()
        raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """Hold Ctrl-C until the block ends, then raise it. A process forked inside the block
    inherits the holding handler: it must reset SIGINT before it can be interrupted."""
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        check()
