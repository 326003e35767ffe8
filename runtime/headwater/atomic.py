"""Atomic file writes: a temporary file beside the target, renamed over it when complete.

A reader sees the old content or the new, never a part; a write that fails (an exception, a
full disk, Ctrl-C) leaves the old content and no temporary file. A process killed outright
can leave a temporary file, named ``TEMP_PREFIX...`` so listings skip it.

There is no ``fsync``: these writes guard against a process dying mid-write, which the rename
covers. After a power loss the newest writes may be missing (an artifact, a profile),
which a rerun restores; syncing every artifact of a run would cost a disk flush each.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import IO, Iterator, Literal, overload

TEMP_PREFIX = ".tmp-"

StrPath = str | os.PathLike[str]


def temp_file_beside(path: StrPath) -> tuple[int, str]:
    """``(fd, path)`` of a new temporary file (0600) in ``path``'s folder, which is created
    when missing; on the same filesystem, so renaming it over ``path`` is atomic."""
    folder = os.path.dirname(os.fspath(path)) or "."
    try:
        return tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        return tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX)


@contextlib.contextmanager
def replacing(path: StrPath, permissions: int | None = None) -> Iterator[str]:
    """A temporary path for the caller to fill (a download writes to it); it replaces
    ``path`` when the block ends without an exception, else it is removed.

    ``permissions``: the file's mode bits (default 0600, as the temporary file is made)."""
    fd, tmp = temp_file_beside(path)
    os.close(fd)
    try:
        yield tmp
        if permissions is not None:
            os.chmod(tmp, permissions)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


@overload
def atomic_write(path: StrPath, mode: Literal["w"], *,
                 permissions: int | None = None) -> contextlib.AbstractContextManager[IO[str]]:
    ...


@overload
def atomic_write(path: StrPath, mode: Literal["wb"] = "wb", *,
                 permissions: int | None = None) -> contextlib.AbstractContextManager[IO[bytes]]:
    ...


def atomic_write(path: StrPath, mode: str = "wb", *,
                 permissions: int | None = None) -> contextlib.AbstractContextManager[IO]:
    """``with atomic_write(path, "w") as f: f.write(text)``: the file, open for writing
    (``"w"``: text in UTF-8, ``"wb"``: bytes), replaces ``path`` once the block ends without
    an exception. ``permissions`` as in ``replacing``."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write opens files for writing only ('w' or 'wb'), not {mode!r}")
    return _atomic_write(path, mode, permissions)


@contextlib.contextmanager
def _atomic_write(path: StrPath, mode: str, permissions: int | None) -> Iterator[IO]:
    with replacing(path, permissions) as tmp:
        with open(tmp, mode, encoding="utf-8" if mode == "w" else None) as f:
            yield f


def write_atomic(path: StrPath, data: str | bytes | memoryview, *,
                 permissions: int | None = None) -> None:
    """Write all of ``data`` (text in UTF-8, or bytes) to ``path`` atomically."""
    if isinstance(data, str):
        with atomic_write(path, "w", permissions=permissions) as f:
            f.write(data)
    else:
        with atomic_write(path, "wb", permissions=permissions) as fb:
            fb.write(data)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


__all__ = ["TEMP_PREFIX", "atomic_write", "replacing", "temp_file_beside", "write_atomic"]
