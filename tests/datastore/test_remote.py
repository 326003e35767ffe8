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


def test_upload_temp_files_live_in_the_swept_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(remote.tempfile, "tempdir", str(tmp_path))
    backend = AzureBlobBackend("metaflow-prod", endpoint="https://acct.blob.core.windows.net")
    fd, path = backend.tempfile_for("F/data/00/tmp")
    os.close(fd)
    assert os.path.dirname(path) == backend.cache_dir()
    assert path.startswith(remote._cache_parent())


def test_max_workers_must_be_positive():
    with pytest.raises(DataStoreError, match="max_workers must be at least 1"):
        AzureBlobBackend("metaflow-prod", endpoint="https://acct.blob.core.windows.net",
                         max_workers=0)
