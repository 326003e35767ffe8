"""Backends under test, each on a real component: local files in a temporary folder, Azure
Blob on Azurite, S3 on moto."""

from __future__ import annotations

import pytest

from headwater.datastore.azure import AzureBlobBackend
from headwater.datastore.local import LocalBackend
from headwater.datastore.s3 import S3Backend


@pytest.fixture
def azure_container(azurite):
    return azurite.new_container()


@pytest.fixture
def azure_backend(azurite, azure_container):
    return AzureBlobBackend(azure_container, "root/prefix",
                            connection_string=azurite.connection_string)


@pytest.fixture
def s3_backend(aws_env, s3_bucket):
    return S3Backend(s3_bucket, "root/prefix", endpoint_url=aws_env.endpoint_url)


@pytest.fixture
def local_backend(tmp_path):
    return LocalBackend(str(tmp_path / "root" / "prefix"))


@pytest.fixture(params=["local", "azure", "s3"])
def backend(request):
    """Each backend in turn (the ``StorageBackend`` contract tests run on all of them)."""
    return request.getfixturevalue(f"{request.param}_backend")


@pytest.fixture(params=["azure", "s3"])
def remote_backend(request):
    """Each remote backend in turn (concurrency, chunking, caching and fork safety)."""
    return request.getfixturevalue(f"{request.param}_backend")
