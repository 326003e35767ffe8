"""The content-addressed artifact store: dedup, atomicity, lazy loads, big arrays."""

from __future__ import annotations

import os

import numpy as np
import pytest

from headwater.datastore.artifacts import LARGE_ARTIFACT_BYTES, ContentAddressedStore
from headwater.datastore.local import LocalBackend
from headwater.exceptions import SerializationError


@pytest.fixture
def cas(tmp_path):
    return ContentAddressedStore(LocalBackend(str(tmp_path / "root")), "F")


def test_same_value_is_stored_once(cas, tmp_path):
    a = cas.save({"x": {"k": [1, 2, 3]}, "y": {"k": [1, 2, 3]}, "z": "other"})
    assert a["x"].sha == a["y"].sha != a["z"].sha
    files = [p for p in (tmp_path / "root").rglob("*") if p.is_file()]
    assert len(files) == 2
    assert cas.load(a["x"].sha, a["x"].size) == {"k": [1, 2, 3]}


def test_lambdas_and_local_classes_survive(cas):
    class Local:
        def __init__(self, v):
            self.v = v

    info = cas.save({"f": lambda x: x + 1, "obj": Local(5)})
    assert cas.load(info["f"].sha, info["f"].size)(1) == 2
    assert cas.load(info["obj"].sha, info["obj"].size).v == 5


def test_unpicklable_value_names_the_artifact(cas):
    import threading

    with pytest.raises(SerializationError, match="artifact 'guard'"):
        cas.save({"fine": 1, "guard": threading.Lock()})


def test_large_array_is_memory_mapped_writable_and_private(cas, tmp_path):
    array = np.arange(LARGE_ARTIFACT_BYTES // 8 * 2, dtype=np.float64)
    info = cas.save({"a": array})["a"]
    assert info.size >= array.nbytes
    loaded = cas.load(info.sha, info.size)
    assert np.array_equal(loaded, array)
    assert loaded.base is not None  # a view on the mapped file, not a copy
    loaded[0] = -1.0  # copy-on-write: writable, and the stored blob is unchanged
    again = cas.load(info.sha, info.size)
    assert again[0] == 0.0


def test_failed_write_leaves_nothing_behind(cas, tmp_path, monkeypatch):
    backend = cas.backend

    def broken_put_file(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(backend, "put_file", broken_put_file)
    with pytest.raises(OSError):
        cas.save({"big": np.zeros(LARGE_ARTIFACT_BYTES)})
    leftovers = [p for p in (tmp_path / "root").rglob("*") if p.is_file()]
    assert leftovers == []


def test_local_backend_writes_are_atomic(tmp_path):
    backend = LocalBackend(str(tmp_path))
    backend.put_bytes("a/b", b"one")
    backend.put_bytes("a/b", b"two", overwrite=False)
    assert backend.get_bytes("a/b") == b"one"
    assert not any(n.startswith(".tmp-") for n in os.listdir(tmp_path / "a"))
    with pytest.raises(Exception, match="invalid datastore key"):
        backend.get_bytes("../escape")


@pytest.mark.parametrize("n_buffers", [1, 7, 40, 300])
def test_many_out_of_band_buffers_round_trip(cas, n_buffers):
    """The blob header records offsets that depend on its own length (a DataFrame or a
    list of arrays has many buffers)."""
    value = [np.arange(i + 3, dtype=np.int64) for i in range(n_buffers)]
    info = cas.save({"v": value})["v"]
    loaded = cas.load(info.sha, info.size)
    assert all(np.array_equal(a, b) for a, b in zip(value, loaded))


@pytest.mark.parametrize("value", [{"k": [1, 2, 3]}, np.ones(LARGE_ARTIFACT_BYTES // 8 + 1)])
def test_digest_is_the_key_save_stores_under_and_writes_nothing(cas, tmp_path, value):
    sha = cas.digest("x", value)
    assert not (tmp_path / "root").exists() or not any(
        p.is_file() for p in (tmp_path / "root").rglob("*"))
    assert cas.save({"x": value})["x"].sha == sha
