"""Helpers for the metadata service tests: an HTTP client on the shared live service
(``metadata_service`` from ``tests/fixtures/postgres.py``), unique names, and a direct
database connection to check what was (not) stored."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest


@pytest.fixture(scope="session")
def api(metadata_service):
    with httpx.Client(base_url=metadata_service.url, timeout=30) as client:
        yield client


@pytest.fixture
def flow_name() -> str:
    """A flow name no other test uses (the shared service's database lives all session)."""
    return f"Flow{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def db(metadata_service):
    with psycopg.connect(metadata_service.database_url, autocommit=True) as conn:
        yield conn
