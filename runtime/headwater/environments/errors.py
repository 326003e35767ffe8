"""Errors of per-step environments, each a one-line message plus the fix."""

from __future__ import annotations

from ..exceptions import HeadwaterException


class EnvironmentSetupError(HeadwaterException):
    headline = "Environment error"


class PackageNotFound(EnvironmentSetupError):
    """A package or a version that the index does not have."""


class ConflictingPins(EnvironmentSetupError):
    """Pins that no set of versions satisfies together."""


class NoWheelForPlatform(EnvironmentSetupError):
    """A package without a wheel for this platform (environments install wheels only)."""


class IndexUnreachable(EnvironmentSetupError):
    """The package index cannot be reached and no snapshot holds the environment."""


class SnapshotMissing(EnvironmentSetupError):
    """A task needs an environment whose snapshot is not in the datastore."""


class ToolMissing(EnvironmentSetupError):
    """The resolver or installer (uv, micromamba, conda) is not installed."""
