"""Metadata providers: where runs are recorded (``METAFLOW_DEFAULT_METADATA``).

``MetadataProvider`` (``base.py``) is the extension point; one file per provider, loaded
lazily from the registry below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..extensions import ExtensionGroup
from ..registry import lookup
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
    return lookup(PROVIDERS, md_type, "metadata provider",
                  "set METAFLOW_DEFAULT_METADATA to one of them",
                  ExtensionGroup.METADATA_PROVIDERS).from_settings(settings)


__all__ = ["ArtifactRecord", "MetadataEntry", "MetadataProvider", "PROVIDERS", "get_provider"]
