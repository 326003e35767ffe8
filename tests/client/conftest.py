"""Client API test set-up: a clean namespace per test and a builder of recorded runs.

The session-wide ``hw_env`` fixture (tests/fixtures/runtime.py) already gives every test its
own sysroot, ``METAFLOW_HOME`` and user ``tester``.
"""

from __future__ import annotations

import pytest

from headwater.client import namespaces

from .runbuilder import RunBuilder


@pytest.fixture(autouse=True)
def default_client_namespace(monkeypatch):
    # namespace(...) is process-wide state: start each test from "the default".
    monkeypatch.setattr(namespaces, "_current", namespaces._UNSET)


@pytest.fixture
def make_run(hw_env):
    """``make_run("Flow", user=..., tags=..., namespace=..., parameters=...)`` -> RunBuilder."""

    def make(flow: str = "DemoFlow", **kwargs) -> RunBuilder:
        return RunBuilder(hw_env, flow, **kwargs)

    return make
