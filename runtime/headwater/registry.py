"""Registries of extension points: a name maps to ``"module:Class"``, imported on first use
so that an implementation's dependencies (a cloud SDK) load only when it is chosen."""

from __future__ import annotations

import importlib
from typing import Any

from .exceptions import ConfigurationError


def load(target: str) -> Any:
    """Import ``"module:attribute"`` and return the attribute."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def lookup(registry: dict[str, str], name: str, what: str, setting: str) -> Any:
    """The implementation registered as ``name``; unknown names name the setting to fix."""
    try:
        target = registry[name]
    except KeyError:
        raise ConfigurationError(f"unknown {what} {name!r}",
                                 f"set {setting} to one of: {', '.join(sorted(registry))}"
                                 ) from None
    return load(target)
