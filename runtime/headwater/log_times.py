"""When each line of a task's log was written: a sidecar beside each log.

A task's ``<attempt>.stdout`` / ``<attempt>.stderr`` stay exactly what the task printed (the
Client's ``.stdout``, cards and ``logs`` read them unchanged). Beside each, whoever copies
the task's output into the log (the local scheduler's ``LogSink``, the container entry
point's ``LogTee``) writes ``<attempt>.<stream>.times``: one ASCII line per log line, the
time the line's first byte arrived, in milliseconds since the epoch. A line is stamped as it
is read from the task's pipe, which the task writes line-buffered, so the time is when the
task printed it (Metaflow's MFLOG puts the same time inside each line; a sidecar keeps the
log plain and older logs readable). Logs stored without a sidecar (before it existed, or
copied from a pod's log after the container died) read back with ``None`` times. The
sidecar is stored and read with its log by ``TaskDataStore`` (``save_log``/``load_log_times``).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Iterator


class LineClock:
    """Stamps the lines that start in each chunk of one stream."""

    def __init__(self) -> None:
        self.at_line_start = True

    def stamps(self, chunk: bytes, now_ms: int | None = None) -> bytes:
        """The sidecar lines for ``chunk``: one per line that begins in it."""
        if not chunk:
            return b""
        begun = chunk.count(b"\n") + self.at_line_start - chunk.endswith(b"\n")
        self.at_line_start = chunk.endswith(b"\n")
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        return b"%d\n" % ms * begun


def timed_lines(text: str, times: bytes | None) -> Iterator[tuple[datetime | None, str]]:
    """``(time, line)`` for each line of ``text`` (local time, like the Client's other
    datetimes); ``None`` for a line the sidecar has no time for."""
    stamps = times.split() if times else []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no new one
    for i, line in enumerate(lines):
        stamp = datetime.fromtimestamp(int(stamps[i]) / 1000.0) if i < len(stamps) else None
        yield stamp, line
