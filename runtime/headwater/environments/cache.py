"""Built environments on this machine, one folder per lock hash.

    $HEADWATER_ENV_CACHE (default ~/.cache/headwater/envs)/
        <lock hash>/bin/python     a virtual environment holding exactly the lock's wheels
        support/<digest>/          links to the running headwater and its own dependencies
        conda-repodata/            the rattler backend's cache of conda channel indexes

An environment is built in a temporary folder (``uv venv --relocatable``, then ``uv pip
install --no-index --find-links WHEELS --require-hashes --no-deps``: only the lock's wheels,
never the index; a conda lock is built by its conda backend from its package files alone)
and renamed into place, so a failed or concurrent build never leaves a
half-built environment under its hash.

Headwater itself is not installed into the environment: its ``.pth`` file appends the
folders named by ``HEADWATER_SUPPORT_PATH`` to ``sys.path`` *after* the environment's own
site-packages, and the task launcher points that at ``support/<digest>``, which links only
the running headwater package and the installed distributions it requires: its base
requirements (click, cloudpickle, urllib3) plus, for a shared datastore, that cloud's
extra (azure-storage-blob ... or boto3 ..., with their own requirements). So
the task runs the very headwater the scheduler runs (an editable checkout included, no
version skew, nothing to download), one built environment serves any headwater, the
packages the step pinned win over headwater's own, and nothing else from the scheduler's
interpreter leaks in.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Callable

from .errors import EnvironmentSetupError
from .spec import Lock, current_python
from .tools import uv_binary

# Headwater's extras a task needs inside an environment, by datastore type (the SDK that
# reads and writes its artifacts, and the secrets backend of the same cloud).
DATASTORE_EXTRAS: dict[str, tuple[str, ...]] = {"local": (), "azure": ("azure",),
                                                "s3": ("aws",)}
# Headwater's base requirements, for a checkout run without installed metadata.
BASE_REQUIREMENTS = ("click", "cloudpickle", "urllib3")
SUPPORT_VARIABLE = "HEADWATER_SUPPORT_PATH"
_PTH = ("import os, sys; sys.path.extend(p for p in os.environ.get('HEADWATER_SUPPORT_PATH', "
        "'').split(os.pathsep) if p)\n")
_READY = ".headwater-ready"


def cache_root() -> str:
    return os.environ.get("HEADWATER_ENV_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "headwater", "envs")


class EnvironmentCache:
    """Builds and finds environments by lock hash."""

    def __init__(self, root: str | None = None):
        self.root = root or cache_root()

    def path(self, lock: Lock) -> str:
        return os.path.join(self.root, lock.lock_hash)

    def python(self, lock: Lock) -> str:
        return os.path.join(self.path(lock), "bin", "python")

    def is_built(self, lock: Lock) -> bool:
        return os.path.exists(os.path.join(self.path(lock), _READY))

    def ensure(self, lock: Lock, fill_wheels: Callable[[str], None]) -> tuple[str, bool]:
        """The environment's python, building it first if needed (``fill_wheels(dir)`` puts
        the lock's package files, wheels or conda archives, in ``dir``); returns
        ``(python, built_now)``."""
        if self.is_built(lock):
            return self.python(lock), False
        os.makedirs(self.root, exist_ok=True)
        work = tempfile.mkdtemp(prefix=f"{lock.lock_hash}.building-", dir=self.root)
        try:
            wheels = os.path.join(work, "wheels")
            os.makedirs(wheels)
            fill_wheels(wheels)
            venv = os.path.join(work, "venv")
            self._build(lock, venv, wheels)
            try:
                os.rename(venv, self.path(lock))
            except OSError:
                if not self.is_built(lock):  # another process built it meanwhile otherwise
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return self.python(lock), True

    def _build(self, lock: Lock, venv: str, wheels: str) -> None:
        if lock.spec.kind == "conda":
            from .conda import backend_named

            backend_named(lock.resolver, lock.spec).build(lock, wheels, venv)
        else:
            self._install_wheels(lock, venv, wheels)
        site = _site_packages(venv)
        with open(os.path.join(site, "_headwater_support.pth"), "w") as f:
            f.write(_PTH)
        open(os.path.join(venv, _READY), "w").close()

    def _install_wheels(self, lock: Lock, venv: str, wheels: str) -> None:
        uv = uv_binary()
        create_venv(find_interpreter(lock.spec.python), venv, lock.lock_hash)
        requirements = os.path.join(wheels, "lock.txt")
        with open(requirements, "w") as f:
            f.write(lock.requirements_text())
        _run([uv, "pip", "install", "--quiet", "--python", os.path.join(venv, "bin", "python"),
              "--no-index", "--find-links", wheels, "--require-hashes", "--no-deps",
              "-r", requirements],
             f"installing environment {lock.lock_hash} from its wheels failed",
             "delete the environment's snapshot (environments/ in the datastore) and run again")

    def support_path(self, datastore_type: str = "local") -> str:
        """A folder linking the running headwater and the installed distributions it needs
        for ``datastore_type`` (its base requirements plus that datastore's extra, with
        their own requirements), see above."""
        sources = support_entries(DATASTORE_EXTRAS.get(datastore_type, ()))
        digest = hashlib.sha256(repr(sorted(sources.items())).encode()).hexdigest()[:16]
        target = os.path.join(self.root, "support", digest)
        if os.path.isdir(target):
            return target
        os.makedirs(os.path.dirname(target), exist_ok=True)
        work = tempfile.mkdtemp(prefix=f"{digest}.building-", dir=os.path.dirname(target))
        for name, source in sources.items():
            os.symlink(source, os.path.join(work, name))
        try:
            os.rename(work, target)
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
        return target


def create_venv(interpreter: str, venv: str, lock_hash: str) -> None:
    """A relocatable virtual environment of ``interpreter`` at ``venv`` (what a lock's
    packages are installed into)."""
    _run([uv_binary(), "venv", "--quiet", "--relocatable", "--python", interpreter, venv],
         f"creating the environment {lock_hash} failed",
         "delete the environment cache folder and run again")


def find_interpreter(version: str) -> str:
    """An installed interpreter of Python ``version`` (the scheduler's own when it is that
    version); never downloads one."""
    if version == current_python():
        return sys.executable
    done = subprocess.run([uv_binary(), "python", "find", "--python-preference", "only-system",
                           "--no-python-downloads", version], capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        raise EnvironmentSetupError(f"no Python {version} interpreter is installed for the "
                                    f"environment",
                                    f"install Python {version}, or drop python= to use "
                                    f"{current_python()}")
    return done.stdout.strip().splitlines()[-1]


def support_entries(extras: tuple[str, ...]) -> dict[str, str]:
    """Top-level entry name (package folder, module, ``.dist-info``) -> its path, for the
    running headwater and the distributions it requires with ``extras``."""
    from importlib import metadata

    entries = {"headwater": _package_dir("headwater")}
    try:
        wanted = [r for r in metadata.requires("headwater") or [] if _wanted(r, extras)]
    except metadata.PackageNotFoundError:
        wanted = list(BASE_REQUIREMENTS)
    seen: set[str] = set()
    while wanted:
        match = _REQUIREMENT_NAME.match(wanted.pop())
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""
        if not name or name in seen or name == "headwater":
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional requirement that is not installed here
        wanted.extend(r for r in dist.requires or [] if _wanted(r, ()))
        for file in dist.files or []:
            top = file.parts[0]
            if top in ("..", "__pycache__", "headwater") or top.endswith(".pth"):
                continue
            entries.setdefault(top, os.path.realpath(str(dist.locate_file(top))))
    return entries


_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _wanted(requirement: str, extras: tuple[str, ...]) -> bool:
    """Whether a requirement line applies: no ``extra ==`` marker, or one of ``extras``
    (other markers are settled by whether the distribution is installed)."""
    marker = requirement.partition(";")[2]
    found = re.findall(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
    return not found or any(e in extras for e in found)


def _package_dir(name: str) -> str:
    found = importlib.util.find_spec(name)
    if found is None or not found.submodule_search_locations:
        raise EnvironmentSetupError(f"headwater's dependency {name!r} is not importable here",
                                    "reinstall headwater")
    return os.path.realpath(list(found.submodule_search_locations)[0])


def _site_packages(venv: str) -> str:
    lib = os.path.join(venv, "lib")
    for name in os.listdir(lib):
        if name.startswith("python"):
            return os.path.join(lib, name, "site-packages")
    raise EnvironmentSetupError(f"{venv} has no site-packages", "delete it and run again")


def _run(command: list[str], message: str, fix: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        detail = " ".join(done.stderr.split())[-300:]
        raise EnvironmentSetupError(f"{message}: {detail}", fix)
