"""Backends under test, each on a real component: Azure Blob on Azurite, S3 on moto."""

from __future__ import annotations

import pytest

from headwater.datastore.azure import AzureBlobBackend
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


@pytest.fixture(params=["azure", "s3"])
def backend(request):
    """Each remote backend in turn (the contract tests run on both)."""
    return request.getfixturevalue(f"{request.param}_backend")
