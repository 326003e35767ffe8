"""Datastores: where artifacts, logs and cards are kept.

``StorageBackend`` (``base.py``) is the extension point; one file per backend. The registry
below maps ``METAFLOW_DEFAULT_DATASTORE`` values to ``module:Class`` so a backend's cloud SDK
is imported only when that backend is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..exceptions import ConfigurationError
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
    try:
        target = BACKENDS[ds_type]
    except KeyError:
        raise ConfigurationError(
            f"unknown datastore type {ds_type!r}",
            f"set METAFLOW_DEFAULT_DATASTORE to one of: {', '.join(sorted(BACKENDS))}") from None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def get_backend(settings: "Settings", ds_type: str | None = None,
                root: str | None = None) -> StorageBackend:
    """The storage backend the settings select (or ``ds_type``), rooted at its sysroot."""
    return backend_class(ds_type or settings.datastore_type).from_settings(settings, root=root)


__all__ = ["BACKENDS", "StorageBackend", "backend_class", "get_backend"]
