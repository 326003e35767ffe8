"""Reading logs, task indexes, artifact blobs and cards from the datastore, with the
runtime's own backends (``headwater.datastore``: local, azure, s3) configured from the
service's environment or profile (``METAFLOW_DEFAULT_DATASTORE``,
``METAFLOW_DATASTORE_SYSROOT_*``, ``METAFLOW_CARD_*ROOT``), with the service's identity.

The service reads only the root it is configured with for each datastore type. A task
records where it wrote (``ds-type`` / ``ds-root`` metadata, which any client can set); data
recorded under another root is reported as out of reach, never read from there. Every key
is built from checked path ids, a checked stream name and a checked sha.

Backends are blocking (the cloud SDKs are synchronous): callers run these in a thread.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.datastore.base import StorageBackend
    from headwater.settings import Settings

SHA = re.compile(r"[0-9a-f]{64}\Z")
#: Bytes of a log shown first (its end); the rest on demand.
TAIL_BYTES = 64 * 1024
#: The most a "full log" request returns at once (the page then asks for the next part).
MAX_LOG_BYTES = 8 * 1024 * 1024


class OutOfReach(Exception):
    """The data exists (or should) but this service cannot read it; the message says why."""


@dataclass(frozen=True)
class LogPart:
    text: str
    start: int  # byte offset of ``text`` in the log
    end: int  # byte offset after ``text``
    size: int  # the log's size now


class LruCache:
    """A small thread-safe LRU for values that never change under their key."""

    def __init__(self, size: int):
        self.size, self.lock = size, threading.Lock()
        self.items: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


class DatastoreReader:
    """The service's read-only view of the datastore(s)."""

    def __init__(self, settings: "Settings | None" = None):
        self._settings = settings
        self._backends: dict[str, "StorageBackend"] = {}
        self._card_backends: dict[str, "StorageBackend"] = {}
        self._indexes = LruCache(4096)
        self._lock = threading.Lock()

    @property
    def settings(self) -> "Settings":
        if self._settings is None:
            from headwater.settings import Settings

            self._settings = Settings()
        return self._settings

    def backend(self, ds_type: str | None, ds_root: str | None) -> "StorageBackend":
        """The configured backend of ``ds_type``, if the task's ``ds_root`` is its root."""
        from headwater.datastore import BACKENDS, get_backend

        if not ds_type:
            raise OutOfReach("the task recorded no datastore (it has not started)")
        if ds_type not in BACKENDS:
            raise OutOfReach(f"the task used datastore type {ds_type[:40]!r}, which this "
                             f"service does not know")
        with self._lock:
            backend = self._backends.get(ds_type)
            if backend is None:
                try:
                    backend = self._backends[ds_type] = get_backend(self.settings, ds_type)
                except Exception as exc:  # a missing setting or SDK: say which
                    raise OutOfReach(f"the service cannot open the {ds_type} datastore: "
                                     f"{_message(exc)}") from None
        if ds_root and ds_root.rstrip("/") != backend.root.rstrip("/"):
            raise OutOfReach(f"the task's data is in {ds_root[:200]}, but this service reads "
                             f"{ds_type} data from {backend.root} only (set the service's "
                             f"METAFLOW_DATASTORE_SYSROOT_{ds_type.upper()})")
        return backend

    # --- task files ----------------------------------------------------------------------

    def index(self, backend: "StorageBackend", prefix: str, attempt: int):
        """The task index of one attempt (cached: an index never changes once written)."""
        from headwater.datastore.task_store import TaskIndex

        key = (backend.root, prefix, attempt)
        found = self._indexes.get(key)
        if found is None:
            found = TaskIndex.from_json(backend.get_bytes(f"{prefix}/{attempt}.index.json"))
            self._indexes.put(key, found)
        return found

    def log(self, backend: "StorageBackend", prefix: str, attempt: int, stream: str,
            offset: int | None, full: bool) -> LogPart:
        """Part of a log: from ``offset`` (live updates), else the whole log (``full``, up
        to ``MAX_LOG_BYTES``) or its last ``TAIL_BYTES``. A missing log is empty."""
        from headwater.datastore.local import LocalBackend
        from headwater.exceptions import DataNotFound

        key = f"{prefix}/{attempt}.{stream}"
        if isinstance(backend, LocalBackend):
            # the local backend's file is the live log the scheduler appends to
            try:
                with open(backend.file_path(key), "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    start, count = _window(size, offset, full)
                    f.seek(start)
                    data = f.read(count)
            except FileNotFoundError:
                return LogPart("", 0, 0, 0)
        else:
            try:
                blob = backend.get_bytes(key)
            except DataNotFound:
                return LogPart("", 0, 0, 0)
            size = len(blob)
            start, count = _window(size, offset, full)
            data = blob[start:start + count]
        return LogPart(data.decode("utf-8", errors="replace"), start, start + len(data), size)

    def blob(self, backend: "StorageBackend", flow: str, sha: str) -> bytes:
        if not SHA.match(sha):
            raise OutOfReach("the artifact's recorded sha is not a SHA-256 hex digest")
        return backend.get_bytes(f"{flow}/data/{sha[:2]}/{sha}")

    # --- cards ---------------------------------------------------------------------------

    def card_backend(self, ds_type: str) -> "StorageBackend":
        """Where cards of ``ds_type`` runs are kept (``METAFLOW_CARD_*ROOT``)."""
        from headwater.datastore import backend_class
        from headwater.datastore.local import LocalBackend, local_root

        with self._lock:
            backend = self._card_backends.get(ds_type)
            if backend is None:
                if ds_type == "local":
                    root = self.settings.get("METAFLOW_CARD_LOCALROOT") or os.path.join(
                        local_root(self.settings), "mf.cards")
                    backend = LocalBackend(root)
                else:
                    try:
                        backend = backend_class(ds_type).for_cards(self.settings)
                    except Exception as exc:
                        raise OutOfReach(f"the service cannot open the {ds_type} card root: "
                                         f"{_message(exc)}") from None
                self._card_backends[ds_type] = backend
        return backend


def _window(size: int, offset: int | None, full: bool) -> tuple[int, int]:
    if offset is not None:
        start = min(max(offset, 0), size)
        return start, min(size - start, MAX_LOG_BYTES)
    if full:
        return 0, min(size, MAX_LOG_BYTES)
    start = max(0, size - TAIL_BYTES)
    return start, size - start


def _message(exc: BaseException) -> str:
    from headwater.exceptions import HeadwaterException

    if isinstance(exc, HeadwaterException):
        return exc.message
    return type(exc).__name__
