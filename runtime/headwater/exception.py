"""Metaflow's module name for the exception hierarchy: ``from headwater.exception import
MetaflowException`` works as ``from metaflow.exception import MetaflowException`` does.

Everything is defined in ``exceptions.py``; this module re-exports every class of the
hierarchy under its own name, and Metaflow's names for them (tests/runtime/test_import.py
checks that none is missing).
"""

from __future__ import annotations

from .exceptions import (ConfigurationError, DataAlreadyExists, DataNotFound,
                         DataStoreAuthError, DataStoreError, DataStoreThrottled,
                         ExternalCommandFailed, FlowAttributeNotModifiable, ForeachError, GraphError,
                         HeadwaterException, InvalidNextError, InvalidPathspec,
                         MergeArtifactsError, MergeArtifactsException, MetadataError,
                         MetadataServiceUnreachable, MetadataServiceVersionError,
                         MetaflowDataMissing, MetaflowException, MetaflowInvalidPathspec,
                         MetaflowNamespaceMismatch, MetaflowNotFound,
                         MissingInMergeArtifactsException, NamespaceMismatch, ObjectNotFound,
                         ObjectNotFoundByKey, ParameterError, ParameterFieldTypeMismatch,
                         ResumeError, RunFailed, SecretsError, SerializationError, SpinError,
                         TaggingError, TaggingException, TimeoutException,
                         UnhandledInMergeArtifactsException)

__all__ = ["ConfigurationError", "DataAlreadyExists", "DataNotFound", "DataStoreAuthError",
           "DataStoreError", "DataStoreThrottled", "ExternalCommandFailed",
           "FlowAttributeNotModifiable",
           "ForeachError", "GraphError", "HeadwaterException", "InvalidNextError",
           "InvalidPathspec", "MergeArtifactsError", "MergeArtifactsException",
           "MetadataError", "MetadataServiceUnreachable", "MetadataServiceVersionError",
           "MetaflowDataMissing", "MetaflowException", "MetaflowInvalidPathspec",
           "MetaflowNamespaceMismatch", "MetaflowNotFound", "MissingInMergeArtifactsException",
           "NamespaceMismatch", "ObjectNotFound", "ObjectNotFoundByKey", "ParameterError",
           "ParameterFieldTypeMismatch", "ResumeError", "RunFailed", "SecretsError",
           "SerializationError", "SpinError", "TaggingError", "TaggingException", "TimeoutException",
           "UnhandledInMergeArtifactsException"]
