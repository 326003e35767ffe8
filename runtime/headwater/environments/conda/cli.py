"""The ``micromamba`` and ``conda`` backends: the installed tool solves and installs.

Resolution is the tool's own plan (``create --dry-run --json`` with the spec's libraries
and ``python=<spec.python>`` from the spec's channels only), so the environment holds a
conda ``python`` of that version, as conda environments do. The plan's package files are
fetched into the snapshot with their sha256; building runs ``create --offline --file`` on
an ``@EXPLICIT`` list of those local files, so no channel is contacted.

Neither tool can be installed on the machines these tests run on (no conda channel is
reachable), so this backend is not exercised by the test suite; the ``rattler`` backend is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from ..errors import EnvironmentSetupError, IndexUnreachable, PackageNotFound
from ..resolver import file_sha256
from ..spec import EnvironmentSpec, Lock, LockedPackage
from .base import CondaBackend, channels_of

EXE_VARIABLE = "HEADWATER_CONDA_EXE"


class Micromamba(CondaBackend):
    """Solve and install with the ``micromamba`` executable."""

    name = "micromamba"

    @classmethod
    def executable(cls) -> str | None:
        configured = os.environ.get(EXE_VARIABLE)
        if configured:  # the configured tool serves the backend its file name says
            is_micromamba = "micromamba" in os.path.basename(configured)
            if is_micromamba == (cls.name == "micromamba") and os.access(configured, os.X_OK):
                return configured
            return None
        return shutil.which(cls.name)

    @classmethod
    def available(cls) -> bool:
        return cls.executable() is not None

    def resolve(self, spec: EnvironmentSpec, package_dir: str) -> Lock:
        what = f"the environment {spec.describe()}"
        with tempfile.TemporaryDirectory() as scratch:
            command = [self._exe(), "create", "--dry-run", "--json", "--yes",
                       "--override-channels", "--prefix", os.path.join(scratch, "env")]
            for channel in channels_of(spec):
                command += ["--channel", channel]
            command += [f"python={spec.python}"] + [n + v for n, v in spec.packages]
            done = subprocess.run(command, capture_output=True, text=True)
        try:
            plan = json.loads(done.stdout or "{}")
        except json.JSONDecodeError:
            plan = {}
        if done.returncode != 0 or not plan.get("success", True):
            raise _failure(spec, what, plan.get("error") or plan.get("message") or done.stderr)
        actions = plan.get("actions", {})
        records = {r.get("fn") or os.path.basename(r.get("url", "")): r
                   for r in actions.get("FETCH", []) + actions.get("LINK", []) if r.get("url")}
        packages = []
        for filename, record in sorted(records.items()):
            target = os.path.join(package_dir, filename)
            _download(record["url"], target)
            packages.append(LockedPackage(record["name"], str(record["version"]), filename,
                                          file_sha256(target), url=record["url"],
                                          build=record.get("build_string")
                                          or record.get("build", "")))
        if not packages:
            raise EnvironmentSetupError(f"{self.name} planned {what} without package URLs",
                                        "use HEADWATER_CONDA_BACKEND=rattler")
        return Lock(spec, tuple(packages), self.name)

    def build(self, lock: Lock, package_dir: str, prefix: str) -> None:
        explicit = os.path.join(package_dir, "explicit.txt")
        with open(explicit, "w") as f:
            f.write("@EXPLICIT\n")
            for p in lock.packages:
                f.write(Path(package_dir, p.filename).resolve().as_uri() + "\n")
        done = subprocess.run([self._exe(), "create", "--yes", "--offline", "--prefix", prefix,
                               "--file", explicit], capture_output=True, text=True)
        if done.returncode != 0:
            raise EnvironmentSetupError(f"{self.name} could not build environment "
                                        f"{lock.lock_hash}: {' '.join(done.stderr.split())[-300:]}",
                                        "delete the environment's snapshot and run again")

    def _exe(self) -> str:
        found = self.executable()
        assert found is not None  # backend_named/find_backend checked available()
        return found


class CondaCli(Micromamba):
    """Solve and install with the ``conda`` executable (same commands as micromamba)."""

    name = "conda"


def _failure(spec: EnvironmentSpec, what: str, text: str) -> EnvironmentSetupError:
    line = " ".join(str(text).split())
    if "PackagesNotFound" in line or "nothing provides" in line or "not found" in line:
        return PackageNotFound(f"a library of {what} is not in the conda channel(s) "
                               f"{', '.join(channels_of(spec))}: {line[-300:]}",
                               "check the names, versions and channels")
    if "connect" in line.lower() or "HTTP" in line:
        return IndexUnreachable(f"the conda channel(s) {', '.join(channels_of(spec))} cannot be "
                                f"reached and no snapshot of {what} exists",
                                "check the network or HEADWATER_CONDA_CHANNELS")
    return EnvironmentSetupError(f"solving {what} failed: {line[-300:]}",
                                 "relax or change one of the pins")


def _download(url: str, target: str) -> None:
    parsed = urllib.parse.urlparse(url)
    try:
        if parsed.scheme == "file":
            shutil.copyfile(urllib.request.url2pathname(parsed.path), target)
        else:
            with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as f:
                shutil.copyfileobj(response, f)
    except OSError as e:
        raise IndexUnreachable(f"downloading {url} failed: {e}", "check the network") from None
