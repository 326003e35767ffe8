"""Resolving a spec to a lock with uv, then downloading the lock's wheels with pip.

``uv pip compile --generate-hashes --only-binary :all:`` picks one version of every package
(dependencies included) for the spec's Python and this platform; ``pip download
--require-hashes --no-deps`` then fetches exactly those wheels, and the lock records each
wheel's file name and sha256. Both contact the package index; nothing after this does.
uv's error text is turned into one line naming the problem (``classify_failure``).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile

from .errors import (ConflictingPins, EnvironmentSetupError, IndexUnreachable,
                     NoWheelForPlatform, PackageNotFound)
from .spec import EnvironmentSpec, Lock, LockedPackage
from .tools import index_url, pip_command, uv_binary

RESOLVER = "uv"
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)")


def resolve(spec: EnvironmentSpec, wheel_dir: str) -> Lock:
    """Resolve ``spec`` and download its wheels into ``wheel_dir``."""
    pins = compile_pins(spec)
    download_wheels(spec, pins, wheel_dir)
    packages = []
    by_name = {_wheel_name(f): f for f in os.listdir(wheel_dir) if f.endswith(".whl")}
    for name, version, _ in pins:
        filename = by_name.get(name)
        if filename is None:
            raise NoWheelForPlatform(f"{name}=={version} has no wheel for {spec.platform} "
                                     f"(python {spec.python})",
                                     "pin a version that publishes a wheel for it")
        packages.append(LockedPackage(name, version, filename,
                                      file_sha256(os.path.join(wheel_dir, filename))))
    return Lock(spec, tuple(packages), RESOLVER)


def compile_pins(spec: EnvironmentSpec) -> list[tuple[str, str, list[str]]]:
    """``(name, version, [sha256, ...])`` for every package of the resolution."""
    command = [uv_binary(), "pip", "compile", "-", "--generate-hashes", "--no-header",
               "--no-annotate", "--only-binary", ":all:", "--python-version", spec.python,
               "--quiet"]
    url = index_url()
    if url:
        command += ["--index-url", url]
    done = subprocess.run(command, input="\n".join(spec.requirements()) + "\n",
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise classify_failure(spec, done.stderr)
    pins: list[tuple[str, str, list[str]]] = []
    for line in done.stdout.splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins.append((_normal(match.group(1)), match.group(2), []))
        elif "--hash=sha256:" in line and pins:
            pins[-1][2].append(line.split("sha256:", 1)[1].strip(" \\"))
    return pins


def download_wheels(spec: EnvironmentSpec, pins: list[tuple[str, str, list[str]]],
                    wheel_dir: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        for name, version, hashes in pins:
            f.write(f"{name}=={version} " + " ".join(f"--hash=sha256:{h}" for h in hashes) + "\n")
        requirements = f.name
    command = pip_command() + ["download", "--no-deps", "--only-binary=:all:",
                               "--require-hashes", "--quiet", "--python-version", spec.python,
                               "-d", wheel_dir, "-r", requirements]
    url = index_url()
    if url:
        command += ["--index-url", url]
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    finally:
        os.unlink(requirements)
    if done.returncode != 0:
        raise classify_failure(spec, done.stderr)


def classify_failure(spec: EnvironmentSpec, stderr: str) -> EnvironmentSetupError:
    """One line for what uv or pip said went wrong."""
    text = " ".join(stderr.split())
    what = f"the environment {spec.describe()}"
    if m := re.search(r"Because (\S+) was not found in the package registry", text):
        return PackageNotFound(f"package {m.group(1)!r} does not exist on the package index "
                               f"({what})", "check the name on https://pypi.org")
    if m := re.search(r"there is no version of (\S+?)(==|>|<|~|!)(\S+?) and", text):
        return PackageNotFound(f"{m.group(1)} has no version {m.group(2)}{m.group(3)} on the "
                               f"package index ({what})",
                               f"pick an existing version: pip index versions {m.group(1)}")
    if m := re.search(r"Because (\S+?)==(\S+) has no wheels with a matching platform tag", text):
        return NoWheelForPlatform(f"{m.group(1)}=={m.group(2)} has no wheel for "
                                  f"{spec.platform} (python {spec.python})",
                                  "pin a version with a wheel for this platform, or build "
                                  "the step's image elsewhere")
    if m := re.search(r"has no usable wheels|no wheels are available", text):
        return NoWheelForPlatform(f"a package of {what} has no wheel for {spec.platform}",
                                  "pin a version that publishes a wheel for this platform")
    if re.search(r"Failed to fetch|tcp connect error|Connection refused|Could not fetch URL"
                 r"|NewConnectionError|Max retries exceeded|dns error", text):
        return IndexUnreachable(f"the package index ({index_url() or 'https://pypi.org/simple'}) "
                                f"cannot be reached and no snapshot of {what} exists",
                                "check the network or UV_INDEX_URL/PIP_INDEX_URL; a run that "
                                "resolved this spec once can run offline from its snapshot")
    if "unsatisfiable" in text:
        cause = text.split("cause:", 1)[-1].strip()
        return ConflictingPins(f"conflicting pins in {what}: {cause}",
                               "relax or change one of the pins named")
    return EnvironmentSetupError(f"resolving {what} failed: {text[-400:]}",
                                 "run the same request with uv pip compile to see more")


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheel_name(filename: str) -> str:
    return _normal(filename.split("-", 1)[0])
