"""Datastores: where artifacts, logs and cards are kept.

``StorageBackend`` (``base.py``) is the extension point; one file per backend. The registry
below maps ``METAFLOW_DEFAULT_DATASTORE`` values to ``module:Class`` so a backend's cloud SDK
is imported only when that backend is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..extensions import ExtensionGroup
from ..registry import lookup
from .base import StorageBackend

if TYPE_CHECKING:
    from ..settings import Settings

BACKENDS: dict[str, str] = {
    "local": "headwater.datastore.local:LocalBackend",
    "azure": "headwater.datastore.azure:AzureBlobBackend",
    "s3": "headwater.datastore.s3:S3Backend",
}


def backend_class(ds_type: str) -> type[StorageBackend]:
    """The backend class registered for ``ds_type``."""
    return lookup(BACKENDS, ds_type, "datastore type",
                  "set METAFLOW_DEFAULT_DATASTORE to one of them",
                  ExtensionGroup.DATASTORES)


def get_backend(settings: "Settings", ds_type: str | None = None,
                root: str | None = None) -> StorageBackend:
    """The storage backend the settings select (or ``ds_type``), rooted at its sysroot."""
    return backend_class(ds_type or settings.datastore_type).from_settings(settings, root=root)


__all__ = ["BACKENDS", "StorageBackend", "backend_class", "get_backend"]
