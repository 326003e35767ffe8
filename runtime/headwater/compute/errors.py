"""Errors of remote compute: one class per thing a user must fix, each with its fix."""

from __future__ import annotations

from ..exceptions import HeadwaterException


class RemoteComputeError(HeadwaterException):
    headline = "Remote compute error"


class RemoteDatastoreRequired(RemoteComputeError):
    """A remote task cannot reach a datastore or metadata kept on this machine."""

    headline = "Remote compute needs shared storage"


class ClusterUnreachable(RemoteComputeError):
    headline = "Kubernetes cluster unreachable"


class KubernetesObjectMissing(RemoteComputeError):
    """A namespace or service account the Job needs does not exist."""

    headline = "Kubernetes object missing"


class ImageNotPullable(RemoteComputeError):
    headline = "Image cannot be pulled"


class Unschedulable(RemoteComputeError):
    headline = "Pod cannot be scheduled"


class OutOfMemory(RemoteComputeError):
    headline = "Out of memory"


class BatchQueueUnknown(RemoteComputeError):
    headline = "AWS Batch job queue unknown"


class IamRoleNotAssumable(RemoteComputeError):
    headline = "IAM role cannot be assumed"


class ImageVersionMismatch(RemoteComputeError):
    """The image's headwater is not the one that made the code package."""

    headline = "Headwater version mismatch in the image"


def require_remote_storage(settings, backend_name: str) -> None:
    """Refuse a local datastore or local metadata for a task that runs elsewhere."""
    if settings.datastore_type == "local":
        raise RemoteDatastoreRequired(
            f"@{backend_name} runs tasks off this machine, but the datastore is local "
            f"(METAFLOW_DEFAULT_DATASTORE=local): the task could not read its inputs or "
            f"store its artifacts",
            "use a shared datastore: import your stack's profile (`headwater configure "
            "import`) or pass --datastore azure|s3")
    if settings.metadata_type == "local":
        raise RemoteDatastoreRequired(
            f"@{backend_name} runs tasks off this machine, but metadata is local "
            f"(METAFLOW_DEFAULT_METADATA=local): the task could not record itself",
            "use the metadata service: set METAFLOW_DEFAULT_METADATA=service and "
            "METAFLOW_SERVICE_URL (your stack's profile has both)")
