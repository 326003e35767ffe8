"""The code package: the flow's directory as one deterministic, content-addressed archive.

A run that sends a task off this machine (``@kubernetes``, ``@batch``, the deployers) packs
the directory that holds the flow file: Python files plus the suffixes and include patterns
the user asks for, minus ``.headwater/``, version-control folders, virtualenvs and paths
``.gitignore`` excludes. Same files give the same bytes (sorted entries, fixed mtimes and
owners, gzip without a timestamp), so the SHA-256 of the archive is its id and a second run
with unchanged code uploads nothing. The archive carries a manifest naming the headwater
version that made it and the flow file, which the container entry point checks.

Settings: ``METAFLOW_DEFAULT_PACKAGE_SUFFIXES`` (comma-separated, Metaflow's key; default
``.py``), ``METAFLOW_CODE_PACKAGE_INCLUDE`` (comma-separated glob patterns relative to the
flow's directory, e.g. ``data/*.csv,config.toml``) and ``METAFLOW_CODE_PACKAGE_MAX_MB``
(default 64).
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from .exceptions import HeadwaterException

if TYPE_CHECKING:
    from .compute.base import ComputeContext
    from .datastore.base import StorageBackend
    from .metadata.base import MetadataEntry
    from .settings import Settings

MANIFEST_NAME = ".headwater-package.json"
DEFAULT_SUFFIXES = (".py",)
DEFAULT_MAX_MB = 64
# Folders never packed: records, version control, virtualenvs and caches.
EXCLUDED_DIRS = frozenset({".headwater", ".metaflow", ".git", ".hg", ".svn", ".venv", "venv",
                           "env", "__pycache__", "node_modules", ".tox", ".nox",
                           ".mypy_cache", ".pytest_cache", ".ipynb_checkpoints"})
FIXED_MTIME = 1_000_000_000  # 2001-09-09: any constant makes the archive reproducible


class PackageTooBig(HeadwaterException):
    headline = "Code package too big"


@dataclass(frozen=True)
class CodePackage:
    """An archive of the flow's code stored in the datastore."""

    sha: str
    key: str  # datastore key of the archive
    size: int
    headwater_version: str
    flow_file: str  # the flow file's path inside the archive
    uploaded: bool = False  # False when the archive was already stored

    def metadata(self, ds_type: str, ds_root: str) -> list["MetadataEntry"]:
        """The task metadata rows that name this package (Metaflow's field names)."""
        from .metadata.base import MetadataEntry

        return [MetadataEntry("code-package-sha", self.sha, "code-package-sha", []),
                MetadataEntry("code-package-url", f"{ds_root.rstrip('/')}/{self.key}",
                              "code-package-url", []),
                MetadataEntry("code-package-ds", ds_type, "code-package-ds", [])]


def package_key(flow_name: str, sha: str) -> str:
    return f"{flow_name}/code/{sha[:2]}/{sha}.tar.gz"


def package_options(settings: "Settings", suffixes: Iterable[str] = ()) -> tuple[
        tuple[str, ...], tuple[str, ...], int]:
    """(suffixes, include patterns, size limit in bytes) from ``--package-suffixes`` and the
    profile."""
    chosen = [s.strip() for s in suffixes if s.strip()]
    if not chosen:
        raw = settings.get("METAFLOW_DEFAULT_PACKAGE_SUFFIXES") or ""
        chosen = [s.strip() for s in raw.split(",") if s.strip()]
    all_suffixes = tuple(sorted(set(DEFAULT_SUFFIXES) | {
        s if s.startswith(".") else f".{s}" for s in chosen}))
    include = tuple(p.strip() for p in (settings.get("METAFLOW_CODE_PACKAGE_INCLUDE") or ""
                                        ).split(",") if p.strip())
    raw_max = settings.get("METAFLOW_CODE_PACKAGE_MAX_MB") or str(DEFAULT_MAX_MB)
    try:
        max_bytes = int(float(raw_max) * (1 << 20))
    except ValueError:
        raise HeadwaterException(f"METAFLOW_CODE_PACKAGE_MAX_MB must be a number, got "
                                 f"{raw_max!r}", "e.g. METAFLOW_CODE_PACKAGE_MAX_MB=64"
                                 ) from None
    return all_suffixes, include, max_bytes


# --- choosing the files ----------------------------------------------------------------------


def package_files(root: str, suffixes: Iterable[str] = DEFAULT_SUFFIXES,
                  include: Iterable[str] = (), extra: Iterable[str] = ()) -> list[str]:
    """Paths (relative to ``root``, ``/``-separated, sorted) that go into the package.
    ``extra`` are files that must be in it whatever the rules (the flow file, its configs)."""
    root = os.path.abspath(root)
    suffixes = tuple(suffixes)
    include = tuple(include)
    candidates: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_DIRS and not _is_virtualenv(
            os.path.join(folder, d)))
        for name in files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if os.path.islink(path) and not os.path.exists(path):
                continue
            if name.endswith(suffixes) or any(fnmatch.fnmatch(rel, p) for p in include):
                candidates.append(rel)
    ignored = _ignored(root, candidates)
    chosen = {c for c in candidates if c not in ignored}
    for path in extra:
        rel = os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
        if not rel.startswith("../") and os.path.isfile(os.path.join(root, rel)):
            chosen.add(rel)
    return sorted(chosen)


def _is_virtualenv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def _ignored(root: str, paths: list[str]) -> set[str]:
    """Which of ``paths`` ``.gitignore`` excludes: git itself inside a work tree, else the
    ``.gitignore`` files under ``root`` read by a small parser."""
    if not paths:
        return set()
    try:
        inside = subprocess.run(["git", "-C", root, "rev-parse", "--is-inside-work-tree"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        inside = None
    if inside is not None and inside.returncode == 0 and inside.stdout.strip() == "true":
        proc = subprocess.run(["git", "-C", root, "check-ignore", "--no-index", "--stdin", "-z"],
                              input="\0".join(paths) + "\0", capture_output=True, text=True,
                              timeout=60)
        if proc.returncode in (0, 1):  # 1: nothing ignored
            return {p for p in proc.stdout.split("\0") if p}
    return {p for p in paths if GitIgnore.for_path(root, p)}


class GitIgnore:
    """A small ``.gitignore`` matcher for directories that are not git work trees: ``#``
    comments, ``!`` negation, leading ``/`` anchors, trailing ``/`` for folders, ``*``,
    ``?``, ``[...]`` and ``**``."""

    def __init__(self, lines: Iterable[str]):
        self.rules: list[tuple[bool, bool, bool, str]] = []  # negate, dir_only, anchored, pat
        for line in lines:
            line = line.rstrip("\n").rstrip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line
            self.rules.append((negate, dir_only, anchored, line.lstrip("/")))

    def ignores(self, rel: str) -> bool:
        """Whether ``rel`` (relative to this file's folder) is ignored."""
        parts = rel.split("/")
        result = False
        # A path is ignored when it or one of its parent folders matches.
        for depth in range(1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            is_dir = depth < len(parts)
            for negate, dir_only, anchored, pattern in self.rules:
                if dir_only and not is_dir:
                    continue
                if _match(pattern, sub if anchored else parts[depth - 1]):
                    result = not negate
            if result:
                return True
        return result

    @classmethod
    def for_path(cls, root: str, rel: str) -> bool:
        """Whether any ``.gitignore`` between ``root`` and ``rel``'s folder ignores it."""
        parts = rel.split("/")
        for depth in range(len(parts)):
            folder = os.path.join(root, *parts[:depth])
            path = os.path.join(folder, ".gitignore")
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    if cls(f).ignores("/".join(parts[depth:])):
                        return True
        return False


def _match(pattern: str, path: str) -> bool:
    if "**" in pattern:
        regex = fnmatch.translate(pattern).replace(".*.*", ".*")
        import re

        return re.match(regex, path) is not None or (
            pattern.startswith("**/") and fnmatch.fnmatch(path, pattern[3:]))
    return fnmatch.fnmatchcase(path, pattern) and (
        "/" not in pattern or path.count("/") == pattern.count("/"))


# --- building and storing --------------------------------------------------------------------


def build_archive(root: str, files: list[str], flow_file: str, max_bytes: int) -> bytes:
    """The deterministic ``tar.gz`` of ``files`` (relative to ``root``) plus the manifest."""
    from . import __version__

    sizes = [(os.path.getsize(os.path.join(root, f)), f) for f in files]
    total = sum(s for s, _ in sizes)
    if total > max_bytes:
        biggest = ", ".join(f"{f} ({s / 1e6:.1f} MB)" for s, f in sorted(sizes, reverse=True)[:5])
        raise PackageTooBig(
            f"the code package would hold {total / 1e6:.1f} MB, more than the "
            f"{max_bytes / 1e6:.0f} MB limit; biggest files: {biggest}",
            "move data out of the flow's folder (or add it to .gitignore), or raise "
            "METAFLOW_CODE_PACKAGE_MAX_MB")
    manifest = json.dumps({"headwater_version": __version__, "flow_file": flow_file,
                           "files": files}, sort_keys=True).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, MANIFEST_NAME, manifest, 0o644)
        for rel in files:
            path = os.path.join(root, rel)
            with open(path, "rb") as f:
                data = f.read()
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            _add(tar, rel, data, mode)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def create_package(backend: "StorageBackend", flow_name: str, flow_file: str,
                   settings: "Settings", suffixes: Iterable[str] = (),
                   extra: Iterable[str] = (), upload: bool = True) -> CodePackage:
    """Pack the flow file's directory and store it once under its content hash (with
    ``upload=False`` only work out what it would be: ``--only-json`` deploys)."""
    from . import __version__

    root = os.path.dirname(os.path.abspath(flow_file))
    all_suffixes, include, max_bytes = package_options(settings, suffixes)
    files = package_files(root, all_suffixes, include, [flow_file, *extra])
    rel_flow = os.path.relpath(os.path.abspath(flow_file), root).replace(os.sep, "/")
    data = build_archive(root, files, rel_flow, max_bytes)
    sha = hashlib.sha256(data).hexdigest()
    key = package_key(flow_name, sha)
    uploaded = False
    if upload and not backend.exists(key):
        backend.put_bytes(key, data, overwrite=False)
        uploaded = True
    return CodePackage(sha, key, len(data), __version__, rel_flow, uploaded)


def package_for_run(ctx: "ComputeContext", upload: bool = True) -> CodePackage:
    """The package a remote backend ships for the run ``ctx`` serves: the flow's folder
    with ``--package-suffixes`` (``ctx.options["package_suffixes"]``), plus the config
    files the run uses (``ctx.options["config_files"]``, name -> path) and the flow's
    default config files."""
    from .config import flow_configs

    flow_dir = os.path.dirname(os.path.abspath(ctx.flow_file))
    extra = list((ctx.options.get("config_files") or {}).values())
    for config in flow_configs(ctx.flow_cls).values():
        if config.default and not os.path.isabs(config.default):
            extra.append(os.path.join(flow_dir, config.default))
    return create_package(ctx.env.backend, ctx.flow_cls.__name__, ctx.flow_file,
                          ctx.env.settings, ctx.options.get("package_suffixes", ()), extra,
                          upload)


def package_paths(ctx: "ComputeContext") -> dict[str, str]:
    """The run's config files (name -> path) as paths inside the package."""
    root = os.path.dirname(os.path.abspath(ctx.flow_file))
    return {name: os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
            for name, path in (ctx.options.get("config_files") or {}).items()}


def download_package(backend: "StorageBackend", key: str, sha: str, dest: str) -> dict:
    """Fetch the package, check its hash, unpack it into ``dest``; returns its manifest."""
    data = backend.get_bytes(key)
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha:
        raise HeadwaterException(f"the code package {key} has SHA-256 {actual}, expected {sha}",
                                 "the datastore copy is damaged: rerun the flow to upload "
                                 "it again")
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        _extract(tar, dest)
    with open(os.path.join(dest, MANIFEST_NAME), encoding="utf-8") as f:
        return json.load(f)


def _extract(tar: tarfile.TarFile, dest: str) -> None:
    """Unpack regular files and folders only, inside ``dest``: tarfile's "data" filter where
    this Python has it (3.11.4+, 3.10.12+), the same rules by hand where it does not."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = os.path.realpath(dest)
    for member in tar.getmembers():
        target = os.path.realpath(os.path.join(root, member.name))
        if not (member.isfile() or member.isdir()) or os.path.isabs(member.name) or \
                os.path.commonpath([root, target]) != root:
            raise HeadwaterException(f"the code package holds {member.name!r}, which is not a "
                                     f"plain file inside the package",
                                     "rerun the flow so the package is built again")
        member.mode = (member.mode or 0o644) & 0o755
        tar.extract(member, root)

