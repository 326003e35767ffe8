"""Shared pytest set-up. Fixtures for the real components live in ``tests/fixtures/``."""

pytest_plugins = [
    "tests.fixtures.runtime",
    "tests.fixtures.postgres",
    "tests.fixtures.azurite",
    "tests.fixtures.moto",
]
