"""The storage backend interface: a flat store of keys to bytes.

A backend knows nothing about flows or artifacts; ``ContentAddressedStore`` and
``TaskDataStore`` (``artifacts.py``, ``task_store.py``) build on it. Implementing a new
backend means one file with one ``StorageBackend`` subclass and one line in
``datastore/__init__.py``'s registry.

Keys are relative, ``/``-separated paths (``MyFlow/data/ab/abcdef...``), never starting
with ``/``. Every write is atomic: a reader sees the whole object or nothing, never a part.
"""

from __future__ import annotations

import abc
import tempfile
from typing import TYPE_CHECKING, Iterable, Iterator

from ..exceptions import DataStoreError

if TYPE_CHECKING:
    from ..settings import Settings


def check_key(key: str) -> str:
    """Reject keys that could escape the sysroot or are not relative paths."""
    if not key or key.startswith("/") or ".." in key.split("/") or "//" in key:
        raise DataStoreError(f"invalid datastore key {key!r}",
                             "keys are relative paths like 'MyFlow/data/ab/abcdef'")
    return key


class StorageBackend(abc.ABC):
    """A place to keep bytes under keys. Subclasses set ``TYPE`` and implement the methods."""

    #: The value of ``METAFLOW_DEFAULT_DATASTORE`` that selects this backend.
    TYPE: str = ""

    #: True when ``local_path`` returns the stored file itself (no download); the artifact
    #: layer then memory-maps large artifacts in place.
    IS_LOCAL: bool = False

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: "Settings", root: str | None = None) -> "StorageBackend":
        """Build the backend from settings; ``root`` overrides the configured sysroot."""

    @classmethod
    def for_cards(cls, settings: "Settings", **kwargs) -> "StorageBackend":
        """The backend cards (and other non-artifact files) are kept in. By default the
        datastore itself; backends with a card-root setting override this."""
        return cls.from_settings(settings, **kwargs)

    #: A string that identifies where the data lives (shown to users, recorded as ``ds-root``).
    root: str = ""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes | memoryview, overwrite: bool = True) -> None:
        """Store ``data`` under ``key`` atomically. With ``overwrite=False`` an existing
        object is kept as it is (content-addressed writes are idempotent)."""

    @abc.abstractmethod
    def put_file(self, key: str, path: str, overwrite: bool = True, move: bool = False) -> None:
        """Store the file at ``path`` under ``key`` atomically, streaming it (a large file is
        never read into memory whole). With ``move=True`` the caller gives the file away:
        the backend may rename it into place or delete it after uploading."""

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The object under ``key``; raises ``DataNotFound`` if there is none."""

    @abc.abstractmethod
    def local_path(self, key: str) -> str:
        """A local file holding the object's bytes, for memory-mapping large objects.

        A local backend returns the stored file itself; a remote one downloads into a
        per-process cache (in parallel chunks) and returns the cached file. Raises
        ``DataNotFound`` if there is no such object."""

    @abc.abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Keys that start with ``prefix`` (recursively), in no particular order."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if present; no error if it is absent."""

    # Optional capabilities. The defaults suit any backend; a backend overrides one when it
    # can do better (the local backend does both).

    def file_path(self, key: str) -> str | None:
        """The file that holds (or will hold) ``key`` when the backend stores objects as
        plain local files, so a writer may append to it in place (task logs stream there
        with nothing to upload afterwards). ``None`` by default: objects must be written
        with ``put_bytes``/``put_file``."""
        return None

    def tempfile_for(self, key: str) -> tuple[int, str]:
        """An open temporary file ``(fd, path)`` to write an object that will be stored
        under ``key`` with ``put_file(move=True)``. By default in the system temporary
        folder; a backend overrides it to place the file where the move is cheap (a rename
        on the same filesystem) or swept when the process dies."""
        return tempfile.mkstemp(prefix="hw-art-")

    # Batch operations. The defaults loop; remote backends override them to run
    # requests concurrently, which is what makes many small artifacts fast.

    def put_many(self, items: Iterable[tuple[str, bytes]], overwrite: bool = True) -> None:
        """Store many small objects."""
        for key, data in items:
            self.put_bytes(key, data, overwrite=overwrite)

    def get_many(self, keys: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """Yield ``(key, bytes)`` for each key; raises ``DataNotFound`` for a missing one."""
        for key in keys:
            yield key, self.get_bytes(key)

    def exists_many(self, keys: Iterable[str]) -> dict[str, bool]:
        """Which of ``keys`` exist."""
        return {key: self.exists(key) for key in keys}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"
