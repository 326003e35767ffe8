"""The interface every conda backend implements: resolve a spec to a lock (fetching the
lock's package files), and build a prefix from those files alone."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

from ..spec import EnvironmentSpec, Lock

DEFAULT_CHANNELS = ("conda-forge",)
CHANNELS_VARIABLE = "HEADWATER_CONDA_CHANNELS"


def channels_of(spec: EnvironmentSpec) -> tuple[str, ...]:
    """The channels ``spec`` resolves from: its own, else ``HEADWATER_CONDA_CHANNELS``
    (comma-separated), else conda-forge. The configured default is read when resolving
    only, so it is not part of the spec's key: the lock records each package's URL."""
    if spec.channels:
        return spec.channels
    configured = [c.strip() for c in os.environ.get(CHANNELS_VARIABLE, "").split(",")]
    return tuple(c for c in configured if c) or DEFAULT_CHANNELS


class CondaBackend(ABC):
    """A conda solver and installer (``name`` is what a lock records as its resolver)."""

    name: str = ""

    @classmethod
    @abstractmethod
    def available(cls) -> bool:
        """Whether this backend can run on this machine."""

    @abstractmethod
    def resolve(self, spec: EnvironmentSpec, package_dir: str) -> Lock:
        """Solve ``spec`` against its channels, put every package file of the solution in
        ``package_dir`` and return the lock (exact builds and sha256s). Raises the
        ``errors`` classes, one line each."""

    @abstractmethod
    def build(self, lock: Lock, package_dir: str, prefix: str) -> None:
        """Create the environment ``prefix`` (with ``bin/python``) from the lock's package
        files in ``package_dir``, contacting no channel."""
