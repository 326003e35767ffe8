"""Metadata providers: where runs are recorded (``METAFLOW_DEFAULT_METADATA``).

``MetadataProvider`` (``base.py``) is the extension point; one file per provider, loaded
lazily from the registry below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..exceptions import ConfigurationError
from .base import ArtifactRecord, MetadataEntry, MetadataProvider

if TYPE_CHECKING:
    from ..settings import Settings

PROVIDERS: dict[str, str] = {
    "local": "headwater.metadata.local:LocalMetadataProvider",
    "service": "headwater.metadata.service:ServiceMetadataProvider",
}


def get_provider(settings: "Settings", md_type: str | None = None) -> MetadataProvider:
    """The metadata provider the settings select (or ``md_type``)."""
    md_type = md_type or settings.metadata_type
    try:
        target = PROVIDERS[md_type]
    except KeyError:
        raise ConfigurationError(
            f"unknown metadata provider {md_type!r}",
            f"set METAFLOW_DEFAULT_METADATA to one of: {', '.join(sorted(PROVIDERS))}") from None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name).from_settings(settings)


__all__ = ["ArtifactRecord", "MetadataEntry", "MetadataProvider", "PROVIDERS", "get_provider"]
