"""Where the Client API reads from: the settings, metadata provider and datastores in use.

Built from ``Settings()`` on first use and cached. The cache is rebuilt when the process
changes (the runtime forks workers; a provider's connections must not cross a fork) or
when the ``METAFLOW_*`` environment or the current directory changes (both decide which
profile and which local ``.headwater/`` folder apply, e.g. in a notebook that sets them).
Nothing here imports a cloud SDK: providers and backends load their modules when built.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from ..datastore.base import StorageBackend
    from ..metadata.base import MetadataProvider
    from ..settings import Settings


class Services:
    """The provider and backends one set of settings selects; each built on first use."""

    def __init__(self, settings: "Settings"):
        self.settings = settings
        self._provider: "MetadataProvider | None" = None
        self._backends: dict[tuple[str | None, str | None], "StorageBackend"] = {}

    @property
    def provider(self) -> "MetadataProvider":
        if self._provider is None:
            from ..metadata import get_provider

            self._provider = get_provider(self.settings)
        return self._provider

    def backend(self, ds_type: str | None = None, root: str | None = None) -> "StorageBackend":
        """The datastore a task wrote to (its ``ds-type`` / ``ds-root``), or the default."""
        key = (ds_type, root)
        if key not in self._backends:
            from ..datastore import get_backend

            self._backends[key] = get_backend(self.settings, ds_type, root=root)
        return self._backends[key]


_cache: tuple[tuple, Services] | None = None
_pinned: "Settings | None" = None


def _fingerprint() -> tuple:
    try:
        cwd = os.getcwd()
    except OSError:  # the directory was removed under us
        cwd = None
    env = tuple(sorted((k, v) for k, v in os.environ.items()
                       if k.startswith("METAFLOW_") or k in ("USER", "USERNAME")))
    return os.getpid(), cwd, env


def services() -> Services:
    """The services for this process and environment (or the pinned settings)."""
    global _cache
    if _pinned is not None:
        key: tuple = (os.getpid(), id(_pinned))
    else:
        key = _fingerprint()
    if _cache is None or _cache[0] != key:
        if _pinned is not None:
            settings = _pinned
        else:
            from ..settings import Settings

            settings = Settings()
        _cache = (key, Services(settings))
    return _cache[1]


@contextlib.contextmanager
def pinned(settings: "Settings") -> Iterator[Services]:
    """Read with exactly these settings inside the block (the flow CLI passes its own)."""
    global _pinned
    previous = _pinned
    _pinned = settings
    try:
        yield services()
    finally:
        _pinned = previous


def get_metadata() -> str:
    """Where the Client API reads runs from, e.g. ``local@/home/me/proj/.headwater``."""
    return services().provider.describe()
