"""Registries of extension points: a name maps to ``"module:Class"``, imported on first use
so that an implementation's dependencies (a cloud SDK) load only when it is chosen."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .extensions import ExtensionGroup


def load(target: str) -> Any:
    """Import ``"module:attribute"`` and return the attribute."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def lookup(registry: dict[str, str], name: str, what: str, setting: str,
           group: "ExtensionGroup | None" = None) -> Any:
    """The implementation registered as ``name`` (in ``registry``, else among the entry
    points of ``group``); unknown names name the setting to fix."""
    from .extensions import extension_names, extension_target

    found = registry.get(name) if group is None else extension_target(registry, group, name)
    if found is None:
        known = sorted(registry) if group is None else extension_names(registry, group)
        raise ConfigurationError(f"unknown {what} {name!r}",
                                 f"set {setting} to one of: {', '.join(known)}")
    return load(found)
