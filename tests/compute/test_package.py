"""The code package: which files go in, determinism (same files, same bytes, same id,
whatever the mtimes or the order the file system lists them), upload once, the size
limit's error, and unpacking with the hash checked. Runs against the local backend and
Azurite; what it does not prove: behaviour on a real cloud store (the datastore tests
cover the backends)."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from headwater.datastore.local import LocalBackend
from headwater.package import (GitIgnore, PackageTooBig, create_package, download_package,
                               package_files)
from headwater.settings import Settings


def _tree(root: Path) -> Path:
    files = {
        "flow.py": "print('flow')\n", "helpers/util.py": "X = 1\n", "config.toml": "a = 1\n",
        "data/big.csv": "x\n" * 10, "notes.txt": "no\n",
        ".headwater/Flow/data/ab": "record", ".git/config": "[core]\n",
        "venv/pyvenv.cfg": "home = /usr\n", "venv/lib/site.py": "pass\n",
        "myenv/pyvenv.cfg": "home = /usr\n", "myenv/lib/mod.py": "pass\n",
        "__pycache__/flow.cpython-311.pyc": "b", "build/gen.py": "pass\n",
        "secret_local.py": "KEY = 1\n", ".gitignore": "build/\nsecret_*.py\n!secret_ok.py\n",
        "secret_ok.py": "pass\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "flow.py"


EXPECTED = ["flow.py", "helpers/util.py", "secret_ok.py"]


def test_files_chosen_without_git(tmp_path):
    """Outside a git work tree the small .gitignore parser applies (folders, globs,
    negation); records, VCS folders, virtualenvs (any name with pyvenv.cfg) and caches are
    never packed."""
    _tree(tmp_path)
    assert package_files(str(tmp_path)) == EXPECTED
    assert package_files(str(tmp_path), (".py", ".toml"), ("data/*.csv",)) == sorted(
        EXPECTED + ["config.toml", "data/big.csv"])


def test_files_chosen_by_git_check_ignore(tmp_path):
    """Inside a git work tree git itself decides (here a rule only git understands the same
    way: a nested .gitignore)."""
    _tree(tmp_path)
    (tmp_path / "helpers" / ".gitignore").write_text("util.py\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert package_files(str(tmp_path)) == ["flow.py", "secret_ok.py"]


def test_gitignore_parser_rules():
    """The fallback .gitignore parser's rules (comments, globs, anchors, folders,
    negation, **); git's own matcher is not compared here."""
    rules = GitIgnore(["# comment", "*.log", "/top.py", "out/", "!keep.log", "a/**/z.py"])
    assert rules.ignores("x.log") and rules.ignores("deep/x.log")
    assert not rules.ignores("keep.log")
    assert rules.ignores("top.py") and not rules.ignores("sub/top.py")
    assert rules.ignores("out/file.py") and not rules.ignores("out")
    assert rules.ignores("a/b/c/z.py")


def test_same_files_same_bytes(tmp_path):
    """Touching every file (new mtimes) and packing from a copy made in another order gives
    the same archive and id; the archive's entries are sorted with fixed owner and mtime."""
    flow = _tree(tmp_path / "one")
    store = LocalBackend(str(tmp_path / "store"))
    first = create_package(store, "Flow", str(flow), Settings(env={}))
    for path in (tmp_path / "one").rglob("*"):
        if path.is_file():
            os.utime(path, (1, 1))
    again = create_package(store, "Flow", str(flow), Settings(env={}))
    assert first.sha == again.sha and first.uploaded and not again.uploaded
    data = store.get_bytes(first.key)
    assert data[4:8] == b"\0\0\0\0"  # gzip mtime
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == [".headwater-package.json"] + EXPECTED
    assert {(m.uid, m.gid, m.uname, m.mtime) for m in members} == {(0, 0, "", 1_000_000_000)}
    changed = (tmp_path / "one" / "helpers" / "util.py")
    changed.write_text("X = 2\n")
    assert create_package(store, "Flow", str(flow), Settings(env={})).sha != first.sha


def test_suffixes_and_include_from_the_profile(tmp_path):
    """METAFLOW_DEFAULT_PACKAGE_SUFFIXES and METAFLOW_CODE_PACKAGE_INCLUDE add files;
    --package-suffixes changes the id."""
    flow = _tree(tmp_path)
    settings = Settings(env={"METAFLOW_DEFAULT_PACKAGE_SUFFIXES": ".toml,txt",
                             "METAFLOW_CODE_PACKAGE_INCLUDE": "data/*.csv"})
    store = LocalBackend(str(tmp_path / "store"))
    package = create_package(store, "Flow", str(flow), settings)
    with tarfile.open(fileobj=io.BytesIO(store.get_bytes(package.key))) as tar:
        names = tar.getnames()
    assert {"config.toml", "notes.txt", "data/big.csv"} <= set(names)
    assert create_package(store, "Flow", str(flow), Settings(env={}), suffixes=[".toml"]
                          ).sha != package.sha


def test_too_big_names_the_biggest_files(tmp_path):
    """Over the limit: the error names the biggest files and the setting, and nothing is
    stored."""
    flow = _tree(tmp_path)
    (tmp_path / "weights.py").write_bytes(b"#" * 3_000_000)
    store = LocalBackend(str(tmp_path / "store"))
    with pytest.raises(PackageTooBig) as info:
        create_package(store, "Flow", str(flow), Settings(env={"METAFLOW_CODE_PACKAGE_MAX_MB":
                                                               "1"}))
    assert "biggest files: weights.py (3.0 MB)" in info.value.message
    assert "METAFLOW_CODE_PACKAGE_MAX_MB" in info.value.fix
    assert not store.list("Flow/")  # nothing stored


def test_upload_once_and_unpack_from_azurite(tmp_path, azurite):
    """Against Azurite: the second run with the same code uploads nothing; the package
    unpacks to the same files, and a damaged copy is refused."""
    from headwater.datastore.azure import AzureBlobBackend

    flow = _tree(tmp_path / "src")
    backend = AzureBlobBackend(azurite.new_container(), "flows",
                               connection_string=azurite.connection_string)
    first = create_package(backend, "Flow", str(flow), Settings(env={}))
    second = create_package(backend, "Flow", str(flow), Settings(env={}))
    assert first.uploaded and not second.uploaded and first.key == second.key
    manifest = download_package(backend, first.key, first.sha, str(tmp_path / "out"))
    assert manifest["flow_file"] == "flow.py" and manifest["files"] == EXPECTED
    assert (tmp_path / "out" / "helpers" / "util.py").read_text() == "X = 1\n"
    backend.put_bytes(first.key, b"damaged")
    with pytest.raises(Exception, match="expected"):
        download_package(backend, first.key, first.sha, str(tmp_path / "out2"))


def test_unpacking_without_tarfiles_data_filter(tmp_path, monkeypatch):
    """On a Python whose tarfile has no "data" filter (before 3.11.4 / 3.10.12, e.g.
    Debian 12's 3.11.2) the package unpacks by the same rules: plain files only, inside the
    folder; a member escaping it is refused in one line."""
    import io
    import tarfile

    from headwater.exceptions import HeadwaterException
    from headwater.package import _extract

    monkeypatch.delattr(tarfile, "data_filter", raising=False)

    def archive(name: str) -> tarfile.TarFile:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"ok"))
        buffer.seek(0)
        return tarfile.open(fileobj=buffer, mode="r:gz")

    _extract(archive("pkg/flow.py"), str(tmp_path / "out"))
    assert (tmp_path / "out" / "pkg" / "flow.py").read_bytes() == b"ok"
    with pytest.raises(HeadwaterException, match="not a plain file inside the package"):
        _extract(archive("../escape.py"), str(tmp_path / "out"))
    assert not (tmp_path / "escape.py").exists()
