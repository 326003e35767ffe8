"""What the cloud backends share (``datastore/remote.py``): the download cache's clean-up
and argument checks. Batches, fork safety and ``local_path`` are covered by the contract
tests on real servers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from headwater.datastore import remote
from headwater.datastore.azure import AzureBlobBackend
from headwater.exceptions import DataStoreError


def test_cache_folders_of_exited_processes_are_swept(tmp_path, monkeypatch):
    monkeypatch.setattr(remote.tempfile, "tempdir", str(tmp_path))
    parent = remote._cache_parent()
    os.makedirs(parent)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_dir = os.path.join(parent, f"{dead.stdout.strip()}-abc")
    live_dir = os.path.join(parent, f"{os.getppid()}-def")  # pytest's parent is alive
    for folder in (dead_dir, live_dir):
        os.makedirs(folder)
        open(os.path.join(folder, "blob"), "wb").close()
    mine = remote._new_cache_dir()
    assert os.path.isdir(mine) and os.path.basename(mine).startswith(f"{os.getpid()}-")
    assert not os.path.exists(dead_dir)
    assert os.path.isdir(live_dir)


def test_one_cache_folder_per_process_with_one_subfolder_per_store(tmp_path, monkeypatch):
    monkeypatch.setattr(remote.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(remote, "_process_cache", None)
    endpoint = "https://acct.blob.core.windows.net"
    first = AzureBlobBackend("metaflow-prod", endpoint=endpoint)
    same = AzureBlobBackend("metaflow-prod", endpoint=endpoint)
    other_account = AzureBlobBackend("metaflow-prod", endpoint="https://other.blob.core.windows.net")
    other_prefix = AzureBlobBackend("metaflow-prod", "p", endpoint=endpoint)
    folders = [b.cache_dir() for b in (first, same, other_account, other_prefix)]
    assert folders[0] == folders[1] and len(set(folders)) == 3
    assert {os.path.dirname(f) for f in folders} == {remote.process_cache_dir()}
    assert len(os.listdir(remote._cache_parent())) == 1
    fd, path = first.tempfile_for("F/data/00/tmp")  # uploads' temp files are swept too
    os.close(fd)
    assert os.path.dirname(path) == first.cache_dir()


def test_max_workers_must_be_positive():
    with pytest.raises(DataStoreError, match="max_workers must be at least 1"):
        AzureBlobBackend("metaflow-prod", endpoint="https://acct.blob.core.windows.net",
                         max_workers=0)
