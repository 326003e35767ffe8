"""Building a local conda channel in a test: tiny ``noarch: python`` packages written as
real ``.tar.bz2`` archives (``info/index.json``, ``info/paths.json``, ``info/link.json``, a
module under ``site-packages/``), indexed into ``repodata.json`` by rattler's indexer (what
``conda index`` / ``rattler-index`` do for a real channel)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import tarfile
from pathlib import Path


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def write_package(channel: Path, name: str, version: str, depends: tuple[str, ...] = (),
                  subdir: str = "noarch", build_number: int = 0) -> Path:
    """``channel/<subdir>/<name>-<version>-py_<n>.tar.bz2``: a package whose module
    ``<name>`` has ``__version__ = version`` (and imports nothing)."""
    build = f"py_{build_number}"
    module = f"__version__ = {version!r}\n".encode()
    files = {f"site-packages/{name}/__init__.py": module}
    index = {"name": name, "version": version, "build": build, "build_number": build_number,
             "depends": list(depends), "license": "MIT", "subdir": subdir,
             "timestamp": 1_700_000_000_000}
    if subdir == "noarch":
        index["noarch"] = "python"
    else:
        index.update(arch=subdir.split("-")[-1], platform=subdir.split("-")[0])
    paths = {"paths_version": 1, "paths": [
        {"_path": path, "path_type": "hardlink", "sha256": hashlib.sha256(data).hexdigest(),
         "size_in_bytes": len(data)} for path, data in files.items()]}
    target = channel / subdir / f"{name}-{version}-{build}.tar.bz2"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:bz2") as tar:
        _add(tar, "info/index.json", json.dumps(index).encode())
        _add(tar, "info/paths.json", json.dumps(paths).encode())
        _add(tar, "info/files", "\n".join(files).encode() + b"\n")
        if subdir == "noarch":
            _add(tar, "info/link.json", json.dumps(
                {"noarch": {"type": "python"}, "package_metadata_version": 1}).encode())
        for path, data in files.items():
            _add(tar, path, data)
    return target


def index_channel(channel: Path) -> None:
    """Write ``repodata.json`` for every subdir of ``channel`` (noarch is always indexed)."""
    from rattler.index import index_fs

    (channel / "noarch").mkdir(parents=True, exist_ok=True)
    asyncio.run(index_fs(channel, write_zst=False, write_shards=False, force=True))
