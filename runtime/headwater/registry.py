"""Registries of extension points: a name maps to ``"module:Class"``, imported on first use
so that an implementation's dependencies (a cloud SDK) load only when it is chosen.

Every registry (compute, datastores, metadata, step decorators, secrets, cards, conda
backends, deployers, console commands) reports a name it does not have the same way,
through ``unknown``: ``unknown <what> '<name>'; known: a, b, c`` and how to fix it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Iterable

from .exceptions import ConfigurationError, HeadwaterException

if TYPE_CHECKING:
    from .extensions import ExtensionGroup


def load(target: str) -> Any:
    """Import ``"module:attribute"`` and return the attribute."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def unknown(what: str, name: str, known: Iterable[str], fix: str,
            error: type[HeadwaterException] = ConfigurationError) -> HeadwaterException:
    """The error for a name no registry entry has (raise it): the known names, then ``fix``."""
    names = ", ".join(sorted(set(known))) or "none"
    return error(f"unknown {what} {name!r}; known: {names}", fix)


def find(registry: dict[str, str], name: str, what: str, fix: str,
         group: "ExtensionGroup | None" = None,
         error: type[HeadwaterException] = ConfigurationError) -> str:
    """The ``"module:attribute"`` registered as ``name`` in ``registry``, else among the
    entry points of ``group``; raises ``unknown(...)`` (as ``error``) for any other name."""
    from .extensions import extension_names, extension_target

    found = registry.get(name) if group is None else extension_target(registry, group, name)
    if found is None:
        known = list(registry) if group is None else extension_names(registry, group)
        raise unknown(what, name, known, fix, error)
    return found


def lookup(registry: dict[str, str], name: str, what: str, fix: str,
           group: "ExtensionGroup | None" = None,
           error: type[HeadwaterException] = ConfigurationError) -> Any:
    """The implementation registered as ``name`` (``find``, then imported)."""
    return load(find(registry, name, what, fix, group, error))
