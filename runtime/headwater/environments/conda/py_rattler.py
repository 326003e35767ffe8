"""The ``rattler`` conda backend: py-rattler (a Rust conda implementation as a wheel) solves,
fetches and installs in-process.

The environment is layered onto an installed interpreter, as ``@pypi``'s are: a relocatable
virtual environment of ``find_interpreter(spec.python)`` into which the lock's conda
packages are linked (``noarch: python`` files land in its ``site-packages``). The solver
sees that interpreter as an installed ``python`` package of its exact version, so packages
that depend on ``python >=3.8`` resolve against it, and the installer never installs a
conda ``python``. That is what lets a channel without Python (a local ``file://`` channel)
serve an environment; the cost is that compiled packages built against conda's own
libpython are not guaranteed to load (pure-Python and self-contained builds do).
"""

from __future__ import annotations

import asyncio
import os
import platform as host_platform
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Coroutine

from ..cache import cache_root, create_venv, find_interpreter
from ..errors import (ConflictingPins, EnvironmentSetupError, IndexUnreachable,
                      NoWheelForPlatform, PackageNotFound)
from ..resolver import file_sha256
from ..spec import EnvironmentSpec, Lock, LockedPackage
from .base import CondaBackend, channels_of

# The build string of the stand-in ``python`` record (never fetched, never installed).
INTERPRETER_BUILD = "headwater_interpreter"
# Other platforms looked at to tell "no build for this platform" from "no such package".
KNOWN_SUBDIRS = ("linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64")
_UNREACHABLE = re.compile(r"Connect|tcp connect|dns error|No such file|could not find subdir"
                          r"|error sending request|timed out", re.IGNORECASE)


class RattlerBackend(CondaBackend):
    """Solve with rattler's solver, install with rattler's installer."""

    name = "rattler"

    @classmethod
    def available(cls) -> bool:
        try:
            import rattler  # noqa: F401  (a broken install counts as absent)
        except ImportError:
            return False
        return True

    def resolve(self, spec: EnvironmentSpec, package_dir: str) -> Lock:
        if any(name == "python" for name, _ in spec.packages):
            raise EnvironmentSetupError(
                "@conda(libraries=...) cannot pin python: the environment runs on an installed "
                "interpreter", "choose it with @conda(python='3.11') instead")
        version = interpreter_version(find_interpreter(spec.python))
        records = _run_async(_solve(spec, channels_of(spec), version))
        packages = []
        for record in records:
            if str(record.build) == INTERPRETER_BUILD:
                continue
            target = os.path.join(package_dir, record.file_name)
            _run_async(_fetch(record.url, target))
            sha256 = file_sha256(target)
            if record.sha256 is not None and record.sha256.hex() != sha256:
                raise EnvironmentSetupError(f"{record.file_name} from {record.url} does not "
                                            f"match the sha256 its channel lists",
                                            "re-index the channel (its repodata.json is stale)")
            packages.append(LockedPackage(record.name.normalized, str(record.version),
                                          record.file_name, sha256, build=str(record.build),
                                          url=record.url))
        return Lock(spec, tuple(sorted(packages, key=lambda p: p.name)), self.name)

    def build(self, lock: Lock, package_dir: str, prefix: str) -> None:
        interpreter = find_interpreter(lock.spec.python)
        create_venv(interpreter, prefix, lock.lock_hash)
        package_cache = tempfile.mkdtemp(prefix="pkgs-", dir=os.path.dirname(prefix))
        try:
            _run_async(_install(lock, package_dir, prefix, package_cache,
                                interpreter_version(interpreter)))
        finally:
            shutil.rmtree(package_cache, ignore_errors=True)


def interpreter_version(interpreter: str) -> str:
    """``3.11.7``: the exact version of ``interpreter``."""
    if interpreter == sys.executable:
        return host_platform.python_version()
    return subprocess.run([interpreter, "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _interpreter_record(version: str) -> Any:
    from rattler import BuildString, PackageRecord, RepoDataRecord, Subdir

    record = PackageRecord(name="python", version=version, build=BuildString(INTERPRETER_BUILD),
                           build_number=0, subdir=str(Subdir.current()), depends=[])
    return RepoDataRecord(record, file_name=f"python-{version}-{INTERPRETER_BUILD}.conda",
                          url="https://headwater.invalid/interpreter/python.conda",
                          channel="https://headwater.invalid/interpreter/")


async def _solve(spec: EnvironmentSpec, channels: tuple[str, ...], python: str) -> list:
    from rattler import Gateway, MatchSpec, Subdir, VirtualPackage, solve
    from rattler.exceptions import GatewayError, InvalidMatchSpecError, SolverError

    what = f"the environment {spec.describe()}"
    try:
        specs = [MatchSpec(f"{name} {specifier}".strip()) for name, specifier in spec.packages]
    except InvalidMatchSpecError as e:
        raise EnvironmentSetupError(f"not a conda version spec in {what}: {_one_line(str(e))}",
                                    "write versions as '1.2.3', '>=1.2,<2' or '1.2.*'")
    try:
        virtual = VirtualPackage.detect()
    except Exception:  # detection is best effort: without it, __glibc-bound builds refuse
        virtual = []
    gateway = Gateway(cache_dir=Path(cache_root(), "conda-repodata"))
    interpreter = _interpreter_record(python)
    try:
        return await solve(list(channels), specs, gateway=gateway,
                           platforms=[Subdir.current(), Subdir("noarch")],
                           pinned_packages=[interpreter], locked_packages=[interpreter],
                           virtual_packages=virtual)
    except SolverError as e:
        raise await _solver_failure(gateway, channels, what, _one_line(str(e)))
    except GatewayError as e:
        raise _channel_failure(channels, what, _one_line(str(e)))


async def _solver_failure(gateway: Any, channels: tuple[str, ...], what: str,
                          text: str) -> EnvironmentSetupError:
    """One line for why the solve failed: which name or version is missing (and whether
    another platform has it), else the conflict rattler found."""
    from rattler import Subdir

    where = ", ".join(channels)
    missing = re.search(r"because of: No candidates were found for (\S+) ?(.*?)\.?$", text)
    if missing is None:
        cause = text.split("because of:", 1)[-1].strip()
        return ConflictingPins(f"conflicting pins in {what}: {cause}",
                               "relax or change one of the pins named")
    name, wanted = missing.group(1), missing.group(2).strip()
    here = [str(Subdir.current()), "noarch"]
    versions = await _versions(gateway, channels, here, name)
    if versions:
        return PackageNotFound(f"{name} has no version {wanted} in the conda channel(s) "
                               f"{where} ({what})",
                               f"pick an existing version: {', '.join(versions[-8:])}")
    elsewhere = [s for s in KNOWN_SUBDIRS if s not in here]
    found = [s for s in elsewhere if await _versions(gateway, channels, [s], name)]
    if found:
        return NoWheelForPlatform(f"{name} has no conda build for {here[0]} in {where}, only "
                                  f"for {', '.join(found)} ({what})",
                                  "pin a package with a noarch or "
                                  f"{here[0]} build, or run the step on one of those platforms")
    return PackageNotFound(f"package {name!r} is not in the conda channel(s) {where} ({what})",
                           "check the name, and the channels=... of the decorator (or "
                           "HEADWATER_CONDA_CHANNELS)")


async def _versions(gateway: Any, channels: tuple[str, ...], subdirs: list[str],
                    name: str) -> list[str]:
    from rattler.exceptions import GatewayError

    try:
        result = await gateway.query(list(channels), subdirs, [name], recursive=False)
    except GatewayError:
        return []
    versions = {r.version: str(r.version) for records in result for r in records}
    return [versions[v] for v in sorted(versions)]


def _channel_failure(channels: tuple[str, ...], what: str, text: str) -> EnvironmentSetupError:
    if _UNREACHABLE.search(text):
        return IndexUnreachable(f"the conda channel(s) {', '.join(channels)} cannot be reached "
                                f"and no snapshot of {what} exists",
                                "check the network, the channels=... of the decorator or "
                                "HEADWATER_CONDA_CHANNELS; a run that resolved this spec once "
                                "can run offline from its snapshot")
    return EnvironmentSetupError(f"reading the conda channel(s) {', '.join(channels)} failed "
                                 f"for {what}: {text[-300:]}", "check the channel URLs")


async def _fetch(url: str, target: str) -> None:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        shutil.copyfile(urllib.request.url2pathname(parsed.path), target)
        return
    from rattler import Client
    from rattler.package_streaming import download_to_path

    try:
        await download_to_path(Client(), url, Path(target))
    except Exception as e:  # noqa: BLE001 (rattler raises its own types; all mean the same)
        raise IndexUnreachable(f"downloading {url} failed: {_one_line(str(e))[-200:]}",
                               "check the network and the channel") from None


async def _install(lock: Lock, package_dir: str, prefix: str, package_cache: str,
                   python: str) -> None:
    from rattler import RepoDataRecord, install
    from rattler.exceptions import InstallerError

    records = [await RepoDataRecord.from_package_archive(os.path.join(package_dir, p.filename))
               for p in lock.packages]
    # the stand-in python tells the installer where site-packages is; it is never installed
    records.append(_interpreter_record(python))
    try:
        await install(records, prefix, cache_dir=Path(package_cache), show_progress=False,
                      ignored_packages={"python"}, execute_link_scripts=False)
    except InstallerError as e:
        raise EnvironmentSetupError(f"installing conda environment {lock.lock_hash} failed: "
                                    f"{_one_line(str(e))[-300:]}",
                                    "delete the environment's snapshot (environments/ in the "
                                    "datastore) and run again") from None


def _one_line(text: str) -> str:
    return " ".join(re.sub(r"[│├└─]", " ", text).split())


def _run_async(coroutine: Coroutine) -> Any:
    """Run ``coroutine`` to completion, also when called from inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
