"""What the cloud backends (Azure Blob, S3) share: per-process clients, concurrent batches,
and a per-process download cache for ``local_path``.

Fork safety: the local scheduler starts tasks with ``fork()``. SDK clients, HTTP connection
pools and thread pools made before a fork must not be used after it (their sockets and
threads belong to the parent), so everything process-bound lives in a ``_ProcessState``
that is rebuilt whenever ``os.getpid()`` changes.

SDK sessions are the exception: a boto3 session holds no sockets, only the service models it
loaded and the credentials it resolved, and building one costs a task process 100+ ms (most
of a small task's time in shared mode). ``shared_boto3_session()`` makes one per program,
before the scheduler forks, and task processes build their clients (their own connection
pools) from it.

Downloads for ``local_path`` go to ``$TMPDIR/headwater-cache-<uid>/<pid>-*/<store>/``, one
folder per process shared by its backends. It is removed when the process exits normally; task processes end with ``os._exit`` (no exit
handlers), so each new cache also removes the folders of processes that no longer exist.
"""

from __future__ import annotations

import abc
import atexit
import hashlib
import itertools
import os
import shutil
import tempfile
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator, TypeVar

from ..atomic import replacing
from ..exceptions import DataStoreError
from .base import StorageBackend, check_key

T = TypeVar("T")
R = TypeVar("R")

#: Concurrent requests per process for batches and for the chunks of one large transfer.
DEFAULT_MAX_WORKERS = 16
#: Chunk size of parallel uploads and downloads; memory in flight is about
#: ``max_workers * CHUNK_BYTES`` whatever the object's size.
CHUNK_BYTES = 8 << 20


class _ProcessState:
    """Clients, thread pool and cache folder of one process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.clients: Any = None
        self.inherited: Any = None  # the parent's clients, after a fork
        self.pool: ThreadPoolExecutor | None = None
        self.cache_dir: str | None = None
        self.cached_versions: dict[str, str | None] = {}


class RemoteBackend(StorageBackend):
    """Base of backends that talk to an object store over the network.

    Subclasses implement the single-object methods of ``StorageBackend`` using
    ``self.clients`` (built by ``_connect``), plus ``_download`` and ``_version`` which
    ``local_path`` needs. Batch methods run single-object calls on a thread pool.
    """

    IS_LOCAL = False

    def __init__(self, max_workers: int = DEFAULT_MAX_WORKERS):
        if max_workers < 1:
            raise DataStoreError(f"max_workers must be at least 1, not {max_workers}")
        self.max_workers = max_workers
        self._state: _ProcessState | None = None

    # --- per-process state ---------------------------------------------------------------

    def _process(self) -> _ProcessState:
        state = self._state
        if state is None or state.pid != os.getpid():
            # First use, or first use after fork(): never touch the parent's objects (its
            # clients are handed to ``_reconnect``, which decides what may be kept).
            inherited = state.clients if state is not None else None
            state = self._state = _ProcessState()
            state.inherited = inherited
        return state

    @property
    def clients(self) -> Any:
        """This process's SDK clients, built on first use."""
        state = self._process()
        if state.clients is None:
            with state.lock:
                if state.clients is None:
                    inherited, state.inherited = state.inherited, None
                    state.clients = (self._connect() if inherited is None
                                     else self._reconnect(inherited))
        return state.clients

    def _pool(self) -> ThreadPoolExecutor:
        state = self._process()
        if state.pool is None:
            with state.lock:
                if state.pool is None:
                    state.pool = ThreadPoolExecutor(self.max_workers,
                                                    thread_name_prefix=f"headwater-{self.TYPE}")
        return state.pool

    @abc.abstractmethod
    def _connect(self) -> Any:
        """Build the SDK clients for the current process."""

    def _reconnect(self, inherited: Any) -> Any:
        """Clients for a forked process, given the parent's. The default builds new ones;
        a backend whose clients can drop their connections (and so hold nothing of the
        parent's) may return them instead: building a client is most of a small task's
        cost in shared mode."""
        return self._connect()

    # --- batches -------------------------------------------------------------------------

    def _map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``fn`` over ``items`` on the pool, results in order. At most ``2 * max_workers``
        calls are in flight, so a long batch never holds every result in memory at once.
        Every started call finishes before an error is raised (the first, in order).
        A batch of one runs in the calling thread: most of a small task's batches are one
        object, and starting a pool thread for it costs more than the request."""
        items = iter(items)
        head = list(itertools.islice(items, 2))
        if not head:
            return
        if len(head) == 1:
            yield fn(head[0])
            return
        items = itertools.chain(head, items)
        pool = self._pool()
        window: deque[Future] = deque()
        limit = 2 * self.max_workers
        error: BaseException | None = None
        try:
            for item in items:
                window.append(pool.submit(fn, item))
                if len(window) >= limit:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        except BaseException as exc:
            error = exc
            raise
        finally:
            if error is not None or window:
                for future in window:
                    future.cancel()
                for future in window:
                    if not future.cancelled():
                        try:
                            future.result()
                        except BaseException:
                            pass

    def put_many(self, items: Iterable[tuple[str, bytes]], overwrite: bool = True) -> None:
        """Store many small objects concurrently."""
        for _ in self._map(lambda kv: self.put_bytes(kv[0], kv[1], overwrite=overwrite),
                           items):
            pass

    def get_many(self, keys: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """Fetch many objects concurrently; yields ``(key, bytes)`` in the order given."""
        return self._map(lambda key: (key, self.get_bytes(key)), keys)

    def exists_many(self, keys: Iterable[str]) -> dict[str, bool]:
        """Which of ``keys`` exist, asked concurrently."""
        return dict(self._map(lambda key: (key, self.exists(key)), keys))

    # --- local_path ----------------------------------------------------------------------

    @abc.abstractmethod
    def _download(self, key: str, dest: str) -> str | None:
        """Download ``key`` into the file ``dest`` (parallel chunks); return its version
        tag (ETag). Raises ``DataNotFound`` if there is no such object."""

    @abc.abstractmethod
    def _version(self, key: str) -> str | None:
        """The version tag (ETag) of ``key``; raises ``DataNotFound`` if absent."""

    def cache_dir(self) -> str:
        """This backend's folder in this process's download cache."""
        state = self._process()
        if state.cache_dir is None:
            where = hashlib.sha256(f"{self.TYPE}\0{self.root}\0{self._cache_identity()}"
                                   .encode()).hexdigest()[:16]
            state.cache_dir = os.path.join(process_cache_dir(), where)
            os.makedirs(state.cache_dir, exist_ok=True)
        return state.cache_dir

    def _cache_identity(self) -> str:
        """What, besides the root, tells two stores apart (e.g. the account endpoint)."""
        return ""

    def local_path(self, key: str) -> str:
        check_key(key)
        state = self._process()
        path = os.path.join(self.cache_dir(), *key.split("/"))
        cached = state.cached_versions.get(key)
        if cached is not None and os.path.exists(path) and self._version(key) == cached:
            return path  # unchanged since this process downloaded it
        # Rename, never overwrite in place: a previous copy may be memory-mapped.
        with replacing(path) as tmp:
            version = self._download(key, tmp)
        state.cached_versions[key] = version
        return path

    def tempfile_for(self, key: str) -> tuple[int, str]:
        """A temporary file for a large object about to be uploaded with
        ``put_file(move=True)``: in the cache folder, so it is swept if the process dies."""
        return tempfile.mkstemp(dir=self.cache_dir(), prefix=".upload-")


# --- SDK sessions shared across fork -------------------------------------------------------

_boto3_session: tuple[tuple, Any] | None = None  # (the AWS_* environment it was made in, session)
_boto3_session_lock = threading.Lock()


def shared_boto3_session() -> Any:
    """The program's boto3 session, made on first use and inherited by forked processes.

    Only sessions are shared: every process builds its own clients from it, so no
    connection crosses a fork. Credentials are resolved here, in the process that makes
    the session, so a child never inherits a half-done resolution (or its lock). A change
    to the ``AWS_*`` environment (profile, credentials, region) makes a new session."""
    global _boto3_session
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    with _boto3_session_lock:
        if _boto3_session is None or _boto3_session[0] != environment:
            import boto3

            session = boto3.session.Session()
            session.get_credentials()
            _boto3_session = (environment, session)
        return _boto3_session[1]


# --- cache folders ------------------------------------------------------------------------


def _cache_parent() -> str:
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), f"headwater-cache-{uid}")


_process_cache: tuple[int, str] | None = None
_process_cache_lock = threading.Lock()


def process_cache_dir() -> str:
    """This process's download cache folder, shared by its backends; made on first use."""
    global _process_cache
    with _process_cache_lock:
        if _process_cache is None or _process_cache[0] != os.getpid():
            _process_cache = (os.getpid(), _new_cache_dir())
        return _process_cache[1]


def _reinit_after_fork() -> None:
    global _process_cache_lock, _boto3_session_lock
    _process_cache_lock = threading.Lock()
    _boto3_session_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)


def _new_cache_dir() -> str:
    parent = _cache_parent()
    os.makedirs(parent, mode=0o700, exist_ok=True)
    _sweep_dead(parent)
    pid = os.getpid()
    path = tempfile.mkdtemp(prefix=f"{pid}-", dir=parent)

    def remove() -> None:
        if os.getpid() == pid:  # exit handlers are inherited by forks that exit normally
            shutil.rmtree(path, ignore_errors=True)

    atexit.register(remove)
    return path


def _sweep_dead(parent: str) -> None:
    """Remove cache folders left by processes that have exited."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        pid_text = name.split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
