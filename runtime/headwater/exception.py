"""Metaflow's module name for the exception hierarchy: ``from headwater.exception import
MetaflowException`` works as ``from metaflow.exception import MetaflowException`` does.

Everything is defined in ``exceptions.py``; this module re-exports every class of the
hierarchy under its own name, and Metaflow's names for them.
"""

from __future__ import annotations

from . import exceptions as _exceptions
from .exceptions import (MergeArtifactsException,  # noqa: F401  (Metaflow's names)
                         MetaflowDataMissing, MetaflowException,
                         MetaflowInvalidPathspec, MetaflowNamespaceMismatch, MetaflowNotFound,
                         MissingInMergeArtifactsException, ParameterFieldTypeMismatch,
                         TaggingException, UnhandledInMergeArtifactsException)

__all__ = sorted(name for name, value in vars(_exceptions).items()
                 if isinstance(value, type) and issubclass(value, _exceptions.HeadwaterException))
globals().update({name: getattr(_exceptions, name) for name in __all__})
