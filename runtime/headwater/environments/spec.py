"""What a step asks for (``EnvironmentSpec``) and what it was resolved to (``Lock``).

A spec is identified by ``key``: the hash of the Python version, the platform and the
requested packages, so equal requests share one resolution. A lock is identified by
``lock_hash``: the hash of the exact pins and wheel hashes, so equal resolutions share one
built environment and one snapshot, whichever flow asked.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import sys
from dataclasses import dataclass, field


def current_python() -> str:
    """``3.11``: the interpreter the scheduler runs, the default for an environment."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def current_platform() -> str:
    """``linux-x86_64``: where wheels must run (what a lock is resolved for)."""
    return f"{sys.platform}-{platform.machine().lower()}"


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class EnvironmentSpec:
    """A step's request: ``kind`` (``pypi`` or ``conda``), the Python version and the
    packages (normalized name -> version specifier; ``build`` turns a bare version into
    ``==``)."""

    kind: str
    python: str
    packages: tuple[tuple[str, str], ...]
    platform: str = field(default_factory=current_platform)

    @classmethod
    def build(cls, kind: str, python: str | None, packages: dict[str, str]) -> "EnvironmentSpec":
        normal = {_normal_name(k): _specifier(str(v).strip()) for k, v in packages.items()}
        return cls(kind, str(python or current_python()), tuple(sorted(normal.items())))

    @property
    def key(self) -> str:
        return _digest({"kind": self.kind, "python": self.python, "platform": self.platform,
                        "packages": self.packages})[:24]

    def requirements(self) -> list[str]:
        """``six==1.16.0``, ``idna>=3``: one requirement line per package."""
        return [name + specifier for name, specifier in self.packages]

    def describe(self) -> str:
        pins = ", ".join(self.requirements()) or "no packages"
        return f"python {self.python}: {pins}"

    def to_json(self) -> dict:
        return {"kind": self.kind, "python": self.python, "platform": self.platform,
                "packages": dict(self.packages)}

    @classmethod
    def from_json(cls, data: dict) -> "EnvironmentSpec":
        return cls(data["kind"], data["python"], tuple(sorted(data["packages"].items())),
                   data["platform"])


def _normal_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", str(name).strip()).lower()


def _specifier(version: str) -> str:
    if not version:
        return ""
    if version[0] in "<>=!~":
        return version
    return f"=={version}"


@dataclass(frozen=True)
class LockedPackage:
    """One exact pin: the version and the sha256 of the wheel installed."""

    name: str
    version: str
    filename: str
    sha256: str

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "filename": self.filename,
                "sha256": self.sha256}


@dataclass(frozen=True)
class Lock:
    """A resolved spec: every package (dependencies included) at one version and one wheel."""

    spec: EnvironmentSpec
    packages: tuple[LockedPackage, ...]
    resolver: str

    @property
    def lock_hash(self) -> str:
        return _digest({"kind": self.spec.kind, "python": self.spec.python,
                        "platform": self.spec.platform,
                        "packages": [p.to_json() for p in self.packages]})[:24]

    def requirements_text(self) -> str:
        """The lock as a ``--require-hashes`` requirements file."""
        return "".join(f"{p.name}=={p.version} --hash=sha256:{p.sha256}\n"
                       for p in self.packages)

    def to_json(self) -> dict:
        return {"lock_hash": self.lock_hash, "resolver": self.resolver,
                "spec": self.spec.to_json(), "packages": [p.to_json() for p in self.packages]}

    @classmethod
    def from_json(cls, data: dict) -> "Lock":
        return cls(EnvironmentSpec.from_json(data["spec"]),
                   tuple(LockedPackage(**p) for p in data["packages"]), data["resolver"])

    def describe(self) -> list[str]:
        return [f"{p.name}=={p.version}  {p.filename}  sha256:{p.sha256}"
                for p in self.packages]
