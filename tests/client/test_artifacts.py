"""Artifacts through the Client API: lazy loading, large numpy arrays, DataArtifact."""

from __future__ import annotations

import os
from datetime import datetime

import numpy as np
import pytest

from headwater import DataArtifact, Run, Task
from headwater.datastore.artifacts import ContentAddressedStore
from headwater.exceptions import DataNotFound


def test_artifacts_load_only_when_read(make_run, monkeypatch):
    b = make_run("LazyFlow")
    t = b.task("start", {"small": 1, "other": {"k": "v"}, "big": list(range(1000))})
    loads = []
    real_load = ContentAddressedStore.load
    monkeypatch.setattr(ContentAddressedStore, "load",
                        lambda self, sha, size=None: loads.append(sha) or real_load(self, sha,
                                                                                   size))
    task = Task(f"{b.pathspec}/start/{t}")
    data = task.data
    assert sorted(dir(data)) == ["big", "other", "small"]
    assert "big" in data and "nope" not in data
    assert [a.id for a in task.artifacts] == ["_success", "big", "other", "small"]
    assert repr(data) == "<MetaflowData: big, other, small>"
    assert loads == []  # listing names and hashes reads only the index
    assert data.small == 1
    assert loads == [task.artifacts.small.sha]
    assert data.small == 1 and task["small"].data == 1
    assert len(loads) == 1  # once per artifact object


def test_a_missing_blob_only_fails_the_artifact_that_needs_it(make_run):
    b = make_run("LazyFlow")
    t = b.task("end", {"keep": "ok", "lost": "gone"})
    run = Run(b.pathspec)
    lost = run["end"].task.artifacts.lost
    os.unlink(b.backend.local_path(b.store("end", t).cas.key(lost.sha)))
    task = Run(b.pathspec)["end"].task
    assert run.successful and task.data.keep == "ok"
    with pytest.raises(DataNotFound, match=f"artifact {lost.pathspec} is missing from the datastore .*{lost.sha}"):
        task.data.lost


def test_large_numpy_array_is_memory_mapped_and_stored_copy_is_safe(make_run):
    array = np.arange(4_000_000, dtype=np.float64)  # 32 MB: the large-artifact path
    b = make_run("ArrayFlow")
    t = b.task("start", {"array": array, "label": "a"})
    task = Task(f"{b.pathspec}/start/{t}")
    art = task.artifacts.array
    assert art.type == "numpy.ndarray" and art.size > array.nbytes
    loaded = art.data
    assert isinstance(loaded, np.ndarray) and loaded.shape == array.shape
    assert np.array_equal(loaded, array)
    assert not loaded.flags.owndata  # a view of the mapped file, not a copy
    loaded[:10] = -1  # copy-on-write: the stored artifact is untouched
    again = Task(task.pathspec).data.array
    assert again[0] == 0 and np.array_equal(again, array)


def test_data_artifact_fields(make_run):
    b = make_run("ArtFlow")
    t1 = b.task("start", {"x": [1, 2, 3], "same": "v"})
    t2 = b.task("end", {"same": "v"})
    art = DataArtifact(f"{b.pathspec}/start/{t1}/x")
    assert art.data == [1, 2, 3] and art.type == "list" and art.size > 0
    assert len(art.sha) == 64
    assert isinstance(art.created_at, datetime) and art.finished_at == art.created_at
    assert art.task == Task(f"{b.pathspec}/start/{t1}")
    # equal values share their content hash (stored once)
    assert (Task(f"{b.pathspec}/start/{t1}").artifacts.same.sha
            == Task(f"{b.pathspec}/end/{t2}").artifacts.same.sha)
    assert "x" in Task(f"{b.pathspec}/start/{t1}").artifacts
    assert len(Task(f"{b.pathspec}/start/{t1}").artifacts) == 3  # x, same, _success
    with pytest.raises(TypeError, match="no children"):
        art["anything"]


def test_attempt_specific_artifacts(make_run):
    b = make_run("RetryFlow")
    t = b.task("start", {"v": 1}, attempts=2)
    assert DataArtifact(f"{b.pathspec}/start/{t}/v").data == 1
    assert DataArtifact(f"{b.pathspec}/start/{t}/_success", attempt=0).data is False
    with pytest.raises(Exception, match="has no artifact 'v'"):
        DataArtifact(f"{b.pathspec}/start/{t}/v", attempt=0)


def test_metadata_records_stand_in_for_an_unreadable_index(make_run):
    b = make_run("IndexFlow")
    t = b.task("start", {"x": 5})
    os.unlink(b.backend.local_path(b.store("start", t).index_key(0)))
    task = Task(f"{b.pathspec}/start/{t}")
    assert sorted(a.id for a in task) == ["_success", "x"]
    assert task.artifacts.x.size is None and task.data.x == 5 and task.successful


def test_data_views_survive_copying(make_run):
    import copy
    import pickle

    b = make_run("CopyFlow")
    t = b.task("start", {"x": 1})
    data = Task(f"{b.pathspec}/start/{t}").data
    assert copy.copy(data).x == 1
    assert pickle.loads(pickle.dumps(data)).x == 1  # no recursion while unpickling
