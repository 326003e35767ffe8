"""The ``StorageBackend`` contract, checked on every backend (local files, Azure Blob on
Azurite, S3 on moto server); what only the remote backends promise (concurrent batches,
chunked transfers, the download cache, fork safety) is checked on those."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import signal
import threading
import time

import pytest

from headwater.datastore.local import LocalBackend
from headwater.exceptions import DataNotFound, DataStoreError


def test_bytes_round_trip(backend):
    backend.put_bytes("Flow/data/ab/abc", b"hello")
    backend.put_bytes("Flow/1/start/2/0.index.json", memoryview(b"{}"))
    assert backend.get_bytes("Flow/data/ab/abc") == b"hello"
    assert backend.get_bytes("Flow/1/start/2/0.index.json") == b"{}"
    assert backend.exists("Flow/data/ab/abc")
    assert not backend.exists("Flow/data/ab/other")


def test_overwrite_false_keeps_the_stored_object(backend):
    backend.put_bytes("k", b"first")
    backend.put_bytes("k", b"second", overwrite=False)  # idempotent: no error
    assert backend.get_bytes("k") == b"first"
    backend.put_bytes("k", b"third")
    assert backend.get_bytes("k") == b"third"


def test_missing_object_is_data_not_found(backend):
    with pytest.raises(DataNotFound, match="'Flow/nothing'"):
        backend.get_bytes("Flow/nothing")
    with pytest.raises(DataNotFound):
        backend.local_path("Flow/nothing")
    with pytest.raises(DataNotFound):
        dict(backend.get_many(["k-missing"]))


def test_list_is_recursive_and_relative_to_the_root(backend):
    for key in ["F/1/a", "F/1/b/c", "F/2/a", "G/1"]:
        backend.put_bytes(key, b"x")
    assert sorted(backend.list("F/1/")) == ["F/1/a", "F/1/b/c"]
    assert sorted(backend.list("F/")) == ["F/1/a", "F/1/b/c", "F/2/a"]
    assert sorted(backend.list("")) == ["F/1/a", "F/1/b/c", "F/2/a", "G/1"]
    assert backend.list("nothing/") == []


def _sibling(backend):
    """The same kind of backend in the same place with another root."""
    if isinstance(backend, LocalBackend):
        return LocalBackend(os.path.join(os.path.dirname(backend.root), "other"))
    sibling = copy.copy(backend)
    sibling.prefix, sibling._state = "root/other", None
    return sibling


def test_keys_outside_the_root_are_invisible(backend):
    sibling = _sibling(backend)
    sibling.put_bytes("F/1/a", b"elsewhere")
    backend.put_bytes("F/1/a", b"here")
    assert backend.list("F/") == ["F/1/a"]
    assert backend.get_bytes("F/1/a") == b"here"


def test_delete_is_quiet_when_absent(backend):
    backend.put_bytes("gone", b"x")
    backend.delete("gone")
    backend.delete("gone")
    assert not backend.exists("gone")


@pytest.mark.parametrize("key", ["/abs", "a/../b", "", "a//b"])
def test_bad_keys_are_rejected(backend, key):
    with pytest.raises(DataStoreError, match="invalid datastore key"):
        backend.put_bytes(key, b"x")


def test_batches_round_trip(backend):
    items = {f"F/data/{i % 7:02x}/{i:04d}": os.urandom(2048) for i in range(150)}
    backend.put_many(items.items(), overwrite=False)
    keys = list(items) + ["F/data/none"]
    present = backend.exists_many(keys)
    assert present == {**{k: True for k in items}, "F/data/none": False}
    got = list(backend.get_many(items))
    assert [k for k, _ in got] == list(items)  # in the order asked
    assert dict(got) == items


def test_put_many_runs_requests_concurrently(remote_backend):
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    original = remote_backend.put_bytes

    def counting_put(key, data, overwrite=True):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            original(key, data, overwrite=overwrite)
        finally:
            with lock:
                in_flight -= 1

    remote_backend.put_bytes = counting_put
    remote_backend.put_many(((f"c/{i}", b"x" * 100) for i in range(120)), overwrite=False)
    assert peak > 1, "put_many sent one request at a time"
    assert len(remote_backend.list("c/")) == 120


def test_put_many_finishes_the_others_and_raises_the_first_error(backend):
    items = [(f"e/{i}", b"x") for i in range(40)] + [("/bad", b"x")] + \
        [(f"e/{i}", b"x") for i in range(40, 60)]
    with pytest.raises(DataStoreError, match="invalid datastore key"):
        backend.put_many(items)
    # Everything submitted before the failure was stored whole.
    stored = set(backend.list("e/"))
    assert {f"e/{i}" for i in range(40)} <= stored
    assert all(backend.get_bytes(k) == b"x" for k in stored)


def _big_file(path, size):
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(size >> 20):
            chunk = block[:-8] + i.to_bytes(8, "little")  # no two chunks alike
            f.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _sha_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class PeakRSS:
    """Samples this process's resident memory every few milliseconds (tracemalloc would
    over-count: the SDKs grow read buffers in place)."""

    def __enter__(self):
        import psutil

        self._proc = psutil.Process()
        self.base = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.003):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth(self):
        return self.peak - self.base


def test_large_file_moves_in_chunks_with_bounded_memory(remote_backend, tmp_path):
    size = 96 << 20
    remote_backend.chunk_bytes = 5 << 20
    remote_backend.max_workers = 2
    src = tmp_path / "big"
    sha = _big_file(src, size)
    remote_backend.exists("warm-up")  # clients built outside the measurement
    with PeakRSS() as upload:
        remote_backend.put_file("F/data/bi/big", str(src), overwrite=False, move=True)
    with PeakRSS() as download:
        path = remote_backend.local_path("F/data/bi/big")
    assert not src.exists()  # move=True gives the file away
    assert _sha_file(path) == sha
    # About max_workers chunks in flight, never the whole object.
    assert upload.growth < size / 2, f"upload grew RSS by {upload.growth >> 20} MB"
    assert download.growth < size / 2, f"download grew RSS by {download.growth >> 20} MB"


def test_put_file_skips_upload_of_stored_content_and_still_takes_the_file(backend, tmp_path):
    backend.put_bytes("F/data/aa/same", b"stored")
    src = tmp_path / "same"
    src.write_bytes(b"would-be-new")
    backend.put_file("F/data/aa/same", str(src), overwrite=False, move=True)
    assert not src.exists()
    assert backend.get_bytes("F/data/aa/same") == b"stored"


def test_local_path_is_cached_until_the_object_changes(backend):
    backend.put_bytes("F/log", b"v1")
    first = backend.local_path("F/log")
    inode = os.stat(first).st_ino
    again = backend.local_path("F/log")
    assert again == first and os.stat(again).st_ino == inode  # no second download
    backend.put_bytes("F/log", b"v2")
    third = backend.local_path("F/log")
    with open(third, "rb") as f:
        assert f.read() == b"v2"
    with open(first, "rb") as f:  # the same path, replaced by rename
        assert f.read() == b"v2"


def test_backend_is_usable_after_fork(remote_backend):
    remote_backend.put_bytes("fork/parent", b"p")  # clients and pool exist in the parent
    parent_state = remote_backend._state
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            remote_backend.put_many([("fork/child-a", b"a"), ("fork/child-b", b"b")])
            report = {"read": remote_backend.get_bytes("fork/parent").decode(),
                      "fresh_state": remote_backend._state is not parent_state,
                      "state_pid": remote_backend._state.pid == os.getpid()}
            os.write(write_fd, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    report = json.loads(os.read(read_fd, 4096) or b"{}")
    os.close(read_fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report == {"read": "p", "fresh_state": True, "state_pid": True}
    assert remote_backend._state is parent_state  # the parent keeps its own clients
    assert remote_backend.get_bytes("fork/child-b") == b"b"


def _wait_until_read(pid, nbytes, timeout=60.0):
    """Wait until process ``pid`` has read ``nbytes`` (files and sockets, /proc/<pid>/io)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/io") as f:
            rchar = int(next(line for line in f if line.startswith("rchar:")).split()[1])
        if rchar >= nbytes:
            return
        time.sleep(0.002)
    raise AssertionError(f"process {pid} read less than {nbytes} bytes in {timeout}s")


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_crash_during_upload_leaves_no_partial_object(remote_backend, tmp_path, overwrite):
    """A task killed (SIGKILL) in the middle of a chunked upload: the key shows either
    nothing or its previous content, never part of the new one."""
    key = "F/data/cr/crash"
    if overwrite:
        remote_backend.put_bytes(key, b"previous")
    src = tmp_path / "big"
    _big_file(src, 96 << 20)
    remote_backend.chunk_bytes = 5 << 20
    remote_backend.max_workers = 1  # one chunk at a time: the upload takes long enough to kill
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write_fd, b"s")
            remote_backend.put_file(key, str(src), overwrite=overwrite)
            os.write(write_fd, b"d")
        finally:
            os._exit(0)
    os.close(write_fd)
    assert os.read(read_fd, 1) == b"s"
    _wait_until_read(pid, 15 << 20)  # a few chunks are on their way
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    finished = os.read(read_fd, 1) == b"d"
    os.close(read_fd)
    assert not finished, "the upload ended before the kill; the test proves nothing"
    if overwrite:
        assert remote_backend.get_bytes(key) == b"previous"
    else:
        assert not remote_backend.exists(key)


def test_local_path_of_the_local_backend_is_the_stored_file(local_backend):
    local_backend.put_bytes("F/log", b"v1")
    assert local_backend.local_path("F/log") == local_backend.file_path("F/log")


def test_tempfile_for_gives_a_file_put_file_can_take(backend):
    fd, path = backend.tempfile_for("F/data/tm/tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(b"written in place")
    backend.put_file("F/data/tm/kept", path, overwrite=False, move=True)
    assert not os.path.exists(path)
    assert backend.get_bytes("F/data/tm/kept") == b"written in place"
    assert backend.list("F/data/tm/") == ["F/data/tm/kept"]  # no temporary file shows


def test_file_path_is_the_object_or_none(backend):
    path = backend.file_path("F/1/start/1/0.stdout.log")
    if isinstance(backend, LocalBackend):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "ab") as f:  # appended in place, as task logs are
            f.write(b"line\n")
        assert backend.get_bytes("F/1/start/1/0.stdout.log") == b"line\n"
    else:
        assert path is None  # remote objects are written with put_bytes/put_file only
