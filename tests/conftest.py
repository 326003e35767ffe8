"""Shared pytest set-up. Fixtures for the real components live in ``tests/fixtures/``.

The suite runs on pytest-xdist (``scripts/test``: ``-n auto --dist loadgroup``): one worker
process per core. What that means for a test or fixture:

- A test file runs whole on one worker, in order; files run in parallel with other files.
- Session fixtures are built once per worker, so each must be safe to build twice at the same
  time: free ports (``free_port()``), folders from ``tmp_path_factory``, databases and other
  named resources that include the process id or a uuid (``make_database``), never a fixed
  path in the repository, ``~`` or a shared ``/tmp`` name, never a fixed port.
- Settings come from ``hw_env`` (a temporary ``METAFLOW_HOME`` and sysroot per test): nothing
  reads or writes ``~/.metaflowconfig`` or the repository's ``.headwater``.
- A session fixture that takes minutes to build goes into ``EXPENSIVE_FIXTURES`` below: the
  tests that use it are marked ``slow`` and all run on one worker, so it is built once.
- ``@pytest.mark.slow`` on tests that take more than ~5 s: ``scripts/test -m "not slow"`` is
  the quick subset. ``scripts/test -n 0`` runs everything in this one process.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.runtime",
    "tests.fixtures.postgres",
    "tests.fixtures.azurite",
    "tests.fixtures.moto",
]

# session fixture -> the xdist group of the tests that use it
EXPENSIVE_FIXTURES = {
    "built": "infra-stack-builds",  # tests/infra: every stack program under Pulumi's mocks
    "metaflow_python": "metaflow-venv",  # tests/service: pip installs Metaflow into a venv
}


@pytest.hookimpl(tryfirst=True)  # before -m deselects and xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # xdist's workers are told ``loadgroup``; without xdist the xdist_group mark is unknown
    # (and --strict-markers refuses it).
    grouping = config.getoption("loadgroup", default=False)
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        groups = sorted(group for name, group in EXPENSIVE_FIXTURES.items()
                        if name in item.fixturenames)
        if groups:
            item.add_marker(pytest.mark.slow)
        if grouping:
            for group in groups:
                item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadgroup``, with each ungrouped test kept with the rest of its file."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FileOrGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return scope if scope != nodeid else nodeid.split("::", 1)[0]

    return FileOrGroupScheduling(config, log)
