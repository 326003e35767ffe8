"""Where a run talks to the user: task output with ``[run/step/task (where)]`` prefixes on
stdout/stderr, progress of large foreaches, and time-stamped status lines on stderr."""

from __future__ import annotations

import sys
import time


class Console:
    """The scheduler's output; ``quiet`` hides task output and progress, not status."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._progress_shown = False

    def _clear_progress(self) -> None:
        if self._progress_shown:
            sys.stderr.write("\r\033[K")
            self._progress_shown = False

    def task_output(self, run_id: str, step: str, task_id: str, where: str, stream: str,
                    data: bytes) -> None:
        """Print ``data`` (one or more lines) with the task's prefix on each line."""
        if self.quiet or not data:
            return
        self._clear_progress()
        prefix = f"[{run_id}/{step}/{task_id}" + (f" ({where})] " if where else "] ")
        lines = data.decode("utf-8", errors="replace").split("\n")
        if len(lines) > 1 and lines[-1] == "":
            lines.pop()
        out = sys.stdout if stream == "stdout" else sys.stderr
        out.write("".join(f"{prefix}{line}\n" for line in lines))
        out.flush()

    def status(self, message: str) -> None:
        self._clear_progress()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        sys.stderr.write(f"{stamp} {message}\n")
        sys.stderr.flush()

    def progress(self, step: str, done: int, total: int, running: int) -> None:
        if self.quiet:
            return
        text = f"  {step}: {done}/{total} tasks done, {running} running"
        if self.tty:
            sys.stderr.write("\r\033[K" + text)
            sys.stderr.flush()
            self._progress_shown = True
        elif done == total or done % max(1, total // 10) == 0:
            self.status(text.strip())
