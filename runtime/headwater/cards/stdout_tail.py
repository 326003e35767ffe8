"""The last lines a task printed, kept while it runs (for the default card's stdout)."""

from __future__ import annotations

import collections
import sys
import threading
from typing import Any, TextIO


class StdoutTail:
    """Wraps ``sys.stdout``: everything is written through unchanged, and the last
    ``max_lines`` lines (each cut at ``max_line_chars``) are remembered."""

    def __init__(self, stream: TextIO, max_lines: int = 200, max_line_chars: int = 1000):
        self._stream = stream
        self._lines: collections.deque[str] = collections.deque(maxlen=max_lines)
        self._partial = ""
        self._max_line_chars = max_line_chars
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        with self._lock:
            pieces = (self._partial + text).split("\n")
            self._partial = pieces.pop()[-self._max_line_chars:]
            self._lines.extend(p[:self._max_line_chars] for p in pieces)
        return written

    def text(self) -> str:
        with self._lock:
            lines = list(self._lines) + ([self._partial] if self._partial else [])
        return "\n".join(lines)

    def __getattr__(self, name: str) -> Any:
        # Everything else (flush, fileno, encoding, isatty ...) is the real stream's.
        return getattr(self._stream, name)

    @classmethod
    def install(cls) -> "StdoutTail":
        tail = cls(sys.stdout)
        sys.stdout = tail
        return tail

    def uninstall(self) -> None:
        if sys.stdout is self:
            sys.stdout = self._stream
