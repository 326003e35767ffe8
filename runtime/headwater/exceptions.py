"""One hierarchy for every error Headwater raises on purpose.

Each error carries a message that names what is wrong and, where there is one, how to fix
it (``fix``). The command line prints ``headline`` and ``fix`` without a traceback unless
``--debug`` is given; anything that is not a ``HeadwaterException`` is a bug and is shown
with its traceback.
"""

from __future__ import annotations


class HeadwaterException(Exception):
    """Base of every deliberate Headwater error."""

    headline = "Headwater error"

    def __init__(self, message: str, fix: str | None = None):
        self.message = message
        self.fix = fix
        super().__init__(message if not fix else f"{message}\n  Fix: {fix}")


# --- configuration and user input -------------------------------------------------------


class ConfigurationError(HeadwaterException):
    headline = "Configuration error"


class ParameterError(HeadwaterException):
    headline = "Bad parameter"


class TaggingError(ParameterError):
    """A tag that cannot be added or removed (empty, too long, a system tag)."""

    headline = "Bad tag"


class GraphError(HeadwaterException):
    """The flow's structure is invalid; points at the file and line of the offending step."""

    headline = "Invalid flow"

    def __init__(self, message: str, fix: str | None = None, file: str | None = None,
                 line: int | None = None):
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(where + message, fix)


class InvalidNextError(HeadwaterException):
    """``self.next`` was called wrongly at run time."""

    headline = "Invalid transition"


class MergeArtifactsError(HeadwaterException):
    headline = "Conflicting artifacts in join"

    def __init__(self, message: str, names: list[str]):
        self.artifact_names = names
        super().__init__(message, "pass exclude=[...] for these names or set them on self "
                                  "before calling merge_artifacts")


class FlowAttributeNotModifiable(HeadwaterException, AttributeError):
    """A step assigned a Parameter, a Config or a class-level attribute of the flow: every
    task reads those from the class, so the change would be lost in the next step."""

    headline = "Flow attribute is read-only"


class ForeachError(HeadwaterException):
    headline = "Bad foreach"


class ResumeError(HeadwaterException):
    headline = "Cannot resume"


class SpinError(HeadwaterException):
    headline = "Cannot spin"


class RunFailed(HeadwaterException):
    headline = "Run failed"


class TimeoutException(HeadwaterException):
    headline = "Step timed out"


class ExternalCommandFailed(HeadwaterException):
    """A command a step ran failed (Metaflow's name, for step code that raises it)."""

    headline = "External command failed"


# --- storage ------------------------------------------------------------------------------


class DataStoreError(HeadwaterException):
    headline = "Datastore error"


class DataNotFound(DataStoreError):
    headline = "Not found in datastore"


class DataAlreadyExists(DataStoreError):
    headline = "Already exists in datastore"


class DataStoreAuthError(DataStoreError):
    headline = "Datastore authentication failed"


class DataStoreThrottled(DataStoreError):
    headline = "Datastore is throttling requests"


class SerializationError(DataStoreError):
    """An artifact could not be pickled; names the artifact."""

    headline = "Artifact cannot be stored"


# --- metadata -----------------------------------------------------------------------------


class MetadataError(HeadwaterException):
    headline = "Metadata error"


class MetadataServiceUnreachable(MetadataError):
    headline = "Metadata service unreachable"


class MetadataServiceVersionError(MetadataError):
    headline = "Metadata service too old"


class ObjectNotFound(MetadataError):
    """A flow, run, step, task or artifact the Client API was asked for does not exist."""

    headline = "Not found"


class ObjectNotFoundByKey(ObjectNotFound, KeyError):
    """A child looked up by key (``task['x']``, ``run['train']``, ``flow['12']``) does not
    exist; also a ``KeyError``, which Metaflow code catches around such lookups."""

    __str__ = Exception.__str__  # KeyError's would print the message's repr


class NamespaceMismatch(ObjectNotFound):
    headline = "Not in the current namespace"


class InvalidPathspec(HeadwaterException):
    """A pathspec (``Flow/run/step/task``) given to the Client API or a CLI is malformed."""

    headline = "Invalid pathspec"


# --- secrets ------------------------------------------------------------------------------


class SecretsError(HeadwaterException):
    headline = "Secrets error"


# Names Metaflow users already catch (``metaflow.exception``'s, where Headwater has the error;
# ``headwater.exception`` re-exports them under Metaflow's module name).
MetaflowException = HeadwaterException
MetaflowNotFound = ObjectNotFound
MetaflowNamespaceMismatch = NamespaceMismatch
MetaflowInvalidPathspec = InvalidPathspec
MetaflowDataMissing = DataNotFound
MergeArtifactsException = MergeArtifactsError
UnhandledInMergeArtifactsException = MergeArtifactsError
MissingInMergeArtifactsException = MergeArtifactsError
TaggingException = TaggingError
ParameterFieldTypeMismatch = ParameterError
