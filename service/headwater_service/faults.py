"""A fault injection point for crash tests: the service dying after a write committed and
before its answer left, which no outside ``kill -9`` can time.

``HEADWATER_SERVICE_CRASH_FILE`` names a file; while it exists and holds a handler's name
(e.g. ``create_task``), the next request to that handler commits its write and then the
process exits at once, as under ``kill -9``, without answering. The file is removed first,
so the crash happens once. Unset (always, outside tests): nothing is checked.
"""

from __future__ import annotations

import os

CRASH_FILE_ENV = "HEADWATER_SERVICE_CRASH_FILE"
_EXIT_CODE = 137  # what a shell reports for a process killed by SIGKILL


def crash_point(handler: str) -> None:
    """Exit here if the crash file asks for ``handler``."""
    path = os.environ.get(CRASH_FILE_ENV)
    if not path:
        return
    try:
        with open(path, encoding="utf-8") as f:
            wanted = f.read().strip()
    except OSError:
        return
    if wanted == handler:
        os.unlink(path)
        os._exit(_EXIT_CODE)
