"""When a deployment was last used: the newest object under its artifact root.

Every task writes artifacts, so the newest artifact is when someone last ran a flow on the
stack (a Pulumi update says only when someone last changed it). The location comes from the
stack's exported profile; reading needs the caller's cloud identity (the teardown job's).

    last_artifact_write({"METAFLOW_DEFAULT_DATASTORE": "s3",
                         "METAFLOW_DATASTORE_SYSROOT_S3": "s3://bucket/artifacts"})
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping

__all__ = ["UsageUnknown", "last_artifact_write"]


class UsageUnknown(Exception):
    """The usage signal cannot be read; the message says why."""


def last_artifact_write(profile: Mapping[str, str]) -> datetime | None:
    """The newest artifact's time (UTC), or ``None`` if the root holds none."""
    datastore = profile.get("METAFLOW_DEFAULT_DATASTORE")
    if datastore == "s3":
        return _newest_s3(profile["METAFLOW_DATASTORE_SYSROOT_S3"])
    if datastore == "azure":
        return _newest_azure(profile["METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT"],
                             profile["METAFLOW_DATASTORE_SYSROOT_AZURE"])
    raise UsageUnknown(f"the profile's datastore {datastore!r} has no usage signal")


def _newest_s3(root: str) -> datetime | None:
    import boto3

    bucket, _, prefix = root.removeprefix("s3://").partition("/")
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix.rstrip("/") + "/" if prefix else "")
    newest = None
    for page in pages:
        for item in page.get("Contents", []):
            if newest is None or item["LastModified"] > newest:
                newest = item["LastModified"]
    return newest.astimezone(timezone.utc) if newest else None


def _newest_azure(endpoint: str, root: str) -> datetime | None:
    from azure.identity import DefaultAzureCredential
    from azure.storage.blob import BlobServiceClient

    container, _, prefix = root.partition("/")
    with BlobServiceClient(endpoint, credential=DefaultAzureCredential()) as service:
        blobs = service.get_container_client(container).list_blobs(
            name_starts_with=prefix.rstrip("/") + "/" if prefix else None)
        newest = max((blob.last_modified for blob in blobs), default=None)
    return newest.astimezone(timezone.utc) if newest else None
