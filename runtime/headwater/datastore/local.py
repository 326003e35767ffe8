"""The local backend: plain files under a folder (``METAFLOW_DATASTORE_SYSROOT_LOCAL``).

Cards go to ``METAFLOW_CARD_LOCALROOT``, else ``<sysroot>/mf.cards`` (``for_cards``).
Default sysroot (as Metaflow does with ``.metaflow``): the nearest ``.headwater/`` folder in the
current directory or one of its parents, else a new ``.headwater/`` in the current directory;
runs and the Client API resolve it the same way, so runs started in a project are read back
from anywhere inside it. Writes go
to a temporary file in the same folder and are renamed into place, so a crash never leaves
a partial object.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..atomic import TEMP_PREFIX, atomic_write, temp_file_beside, write_atomic
from ..exceptions import DataNotFound
from .base import StorageBackend, check_key

if TYPE_CHECKING:
    from ..settings import Settings

DEFAULT_DIRNAME = ".headwater"
CARD_ROOT_KEY = "METAFLOW_CARD_LOCALROOT"
#: Where cards go when ``METAFLOW_CARD_LOCALROOT`` is not set (Metaflow's layout).
DEFAULT_CARD_DIRNAME = "mf.cards"


def local_root(settings: "Settings") -> str:
    """The local sysroot: the setting, else the nearest ``.headwater/`` from the current
    directory upwards, else ``./.headwater``."""
    root = settings.get("METAFLOW_DATASTORE_SYSROOT_LOCAL")
    if root:
        return os.path.abspath(os.path.expanduser(root))
    folder = os.getcwd()
    while True:
        candidate = os.path.join(folder, DEFAULT_DIRNAME)
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return os.path.join(os.getcwd(), DEFAULT_DIRNAME)
        folder = parent


class LocalBackend(StorageBackend):
    """Objects are files; keys are paths relative to ``root``."""

    TYPE = "local"
    IS_LOCAL = True

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    @classmethod
    def from_settings(cls, settings: "Settings", root: str | None = None) -> "LocalBackend":
        return cls(root or local_root(settings))

    @classmethod
    def for_cards(cls, settings: "Settings", **kwargs) -> "LocalBackend":
        """The backend for cards: ``METAFLOW_CARD_LOCALROOT``, else ``<sysroot>/mf.cards``."""
        root = settings.get(CARD_ROOT_KEY)
        if root:
            return cls(os.path.expanduser(root))
        return cls(os.path.join(local_root(settings), DEFAULT_CARD_DIRNAME))

    def file_path(self, key: str) -> str:
        """The file that holds (or will hold) ``key``: lets logs be appended in place."""
        return self._path(key)

    def _path(self, key: str) -> str:
        return os.path.join(self.root, check_key(key))

    def exists(self, key: str) -> bool:
        return os.path.exists(self._path(key))

    def put_bytes(self, key: str, data: bytes | memoryview, overwrite: bool = True) -> None:
        path = self._path(key)
        if not overwrite and os.path.exists(path):
            return
        write_atomic(path, data)

    def put_file(self, key: str, path: str, overwrite: bool = True, move: bool = False) -> None:
        dest = self._path(key)
        if not overwrite and os.path.exists(dest):
            if move:
                _unlink(path)
            return
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if move:
            try:
                os.replace(path, dest)  # same filesystem: free and atomic
                return
            except OSError:
                pass  # different filesystem: copy below
        with atomic_write(dest, "wb") as out, open(path, "rb") as src:
            while chunk := src.read(8 << 20):
                out.write(chunk)
        if move:
            _unlink(path)

    def get_bytes(self, key: str) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise DataNotFound(f"no object {key!r} in {self.root}") from None

    def local_path(self, key: str) -> str:
        path = self._path(key)
        if not os.path.exists(path):
            raise DataNotFound(f"no object {key!r} in {self.root}")
        return path

    def list(self, prefix: str) -> list[str]:
        # A prefix may end in "/" (a folder); the rest of it is checked like a key.
        stem = prefix.rstrip("/")
        base = self._path(stem) if stem else self.root
        folder = base if os.path.isdir(base) else os.path.dirname(base)
        keys = []
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                if name.startswith(TEMP_PREFIX):
                    continue
                key = os.path.relpath(os.path.join(dirpath, name), self.root).replace(os.sep, "/")
                if key.startswith(prefix):
                    keys.append(key)
        return keys

    def delete(self, key: str) -> None:
        _unlink(self._path(key))

    def tempfile_for(self, key: str) -> tuple[int, str]:
        """A temporary file on the same filesystem as ``key``, so ``put_file(move=True)``
        is a rename."""
        return temp_file_beside(self._path(key))


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
