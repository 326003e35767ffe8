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
    ``==``), and for conda the channels the step named (none: the configured default)."""

    kind: str
    python: str
    packages: tuple[tuple[str, str], ...]
    platform: str = field(default_factory=current_platform)
    channels: tuple[str, ...] = ()

    @classmethod
    def build(cls, kind: str, python: str | None, packages: dict[str, str],
              channels: tuple[str, ...] = ()) -> "EnvironmentSpec":
        # conda names keep their underscores (typing_extensions is not typing-extensions there)
        name = _normal_name if kind == "pypi" else (lambda n: str(n).strip().lower())
        normal = {name(k): _specifier(str(v).strip()) for k, v in packages.items()}
        return cls(kind, str(python or current_python()), tuple(sorted(normal.items())),
                   channels=tuple(channels))

    @property
    def key(self) -> str:
        fields = {"kind": self.kind, "python": self.python, "platform": self.platform,
                  "packages": self.packages}
        if self.channels:  # absent otherwise, so specs without channels keep their keys
            fields["channels"] = self.channels
        return _digest(fields)[:24]

    def requirements(self) -> list[str]:
        """``six==1.16.0``, ``idna>=3``: one requirement line per package."""
        return [name + specifier for name, specifier in self.packages]

    def describe(self) -> str:
        pins = ", ".join(self.requirements()) or "no packages"
        where = f" from {', '.join(self.channels)}" if self.channels else ""
        return f"python {self.python}: {pins}{where}"

    def to_json(self) -> dict:
        data = {"kind": self.kind, "python": self.python, "platform": self.platform,
                "packages": dict(self.packages)}
        if self.channels:
            data["channels"] = list(self.channels)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "EnvironmentSpec":
        return cls(data["kind"], data["python"], tuple(sorted(data["packages"].items())),
                   data["platform"], tuple(data.get("channels", ())))


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
    """One exact pin: the version and the sha256 of the file installed (a wheel, or a
    conda package with its ``build`` string and the ``url`` it was fetched from)."""

    name: str
    version: str
    filename: str
    sha256: str
    build: str = ""
    url: str = ""

    def identity(self) -> dict:
        """What makes two pins the same (where a file was fetched from does not)."""
        data = {"name": self.name, "version": self.version, "filename": self.filename,
                "sha256": self.sha256}
        if self.build:
            data["build"] = self.build
        return data

    def to_json(self) -> dict:
        return {**self.identity(), **({"url": self.url} if self.url else {})}

    def pin(self) -> str:
        """``six==1.16.0`` (PyPI) or ``six=1.16.0=pyhd8ed1ab_0`` (conda's exact build)."""
        return f"{self.name}={self.version}={self.build}" if self.build else \
            f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Lock:
    """A resolved spec: every package (dependencies included) at one version and one wheel."""

    spec: EnvironmentSpec
    packages: tuple[LockedPackage, ...]
    resolver: str

    @property
    def lock_hash(self) -> str:
        fields = {"kind": self.spec.kind, "python": self.spec.python,
                  "platform": self.spec.platform,
                  "packages": [p.identity() for p in self.packages]}
        if self.spec.kind == "conda":  # backends build the same packages differently
            fields["resolver"] = self.resolver
        return _digest(fields)[:24]

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
        return [f"{p.pin()}  {p.filename}  sha256:{p.sha256}" + (f"  {p.url}" if p.url else "")
                for p in self.packages]
