"""Extensions installed as Python packages: entry points the registries read on demand.

A team adds a step decorator, a datastore, a secrets backend, a card type (...) without
forking Headwater by declaring an entry point in its own package:

    # pyproject.toml of the team's package
    [project.entry-points."headwater.step_decorators"]
    announce = "acme_headwater.announce:AnnounceDecorator"

The value has the registries' ``"module:attribute"`` form, so nothing of the package is
imported until a flow uses the name. Built-in names win: an entry point cannot replace
``retry`` or ``s3``. Entry points are read once per process, the first time a registry is
asked for a name it does not have (``import headwater`` never reads them). See
``docs/extending.md``.
"""

from __future__ import annotations

import enum
import functools


class ExtensionGroup(str, enum.Enum):
    """The entry-point groups Headwater reads, one per registry."""

    STEP_DECORATORS = "headwater.step_decorators"
    FLOW_DECORATORS = "headwater.flow_decorators"
    DATASTORES = "headwater.datastores"
    METADATA_PROVIDERS = "headwater.metadata_providers"
    SECRETS_BACKENDS = "headwater.secrets_backends"
    CARD_TYPES = "headwater.card_types"


@functools.lru_cache(maxsize=None)
def installed(group: ExtensionGroup) -> dict[str, str]:
    """Name -> ``"module:attribute"`` of the entry points installed in ``group``."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=group.value)}


def extension_target(builtin: dict[str, str], group: ExtensionGroup, name: str) -> str | None:
    """Where ``name`` is implemented: the built-in registry first, then the entry points."""
    if name in builtin:
        return builtin[name]
    return installed(group).get(name)


def extension_names(builtin: dict[str, str], group: ExtensionGroup) -> list[str]:
    """Every name the registry knows, built-in and installed (for error messages)."""
    return sorted(set(builtin) | set(installed(group)))
