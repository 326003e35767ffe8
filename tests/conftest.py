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
- ``slow``: a test using a fixture of ``SLOW_FIXTURES`` below (a flow run, a real component)
  is marked here; other tests that take more than ~1 s carry ``@pytest.mark.slow`` (or a
  module's ``pytestmark``; ``SLOW_FILES`` for files of other areas). ``scripts/test -m "not
  slow"`` is the quick subset: no flow run, service, database or component.
  ``scripts/test -n 0`` runs everything in this one process.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.runtime",
    "tests.fixtures.postgres",
    "tests.fixtures.azurite",
    "tests.fixtures.moto",
]

# Fixtures that start a flow run or a real component (a process, a server, a browser): a test
# using one takes seconds, so it is marked ``slow`` and left out of ``-m "not slow"``.
SLOW_FIXTURES = frozenset({
    "run_flow", "flow_runner", "report_run", "use_report_run",  # flow runs
    "azurite", "azurite_oauth", "moto_server", "s3_bucket", "key_vault",  # storage, secrets
    "metadata_service", "start_service", "world", "keyed_world", "dev_stack",  # services
    "browser", "kube", "shared",  # chromium, the Kubernetes stand-in, remote compute
    "make_database", "backend",  # a Postgres database with migrations; remote datastores
    "compile_argo", "shimmed", "under_run",  # Argo's validator, Metaflow flows, @track_resources
    "flow_file",  # tests/deployers: the flow file its tests compile in a child process
})

# Files whose every test starts processes (deployers' validators, the dev stack's
# commands, Ctrl-C of a real run), kept out of the quick subset from here.
SLOW_FILES = frozenset({
    "tests/deployers/test_step_functions.py",
    "tests/deployers/test_argo_compile.py",
    "tests/e2e/test_dev_errors.py",
    "tests/runtime/test_interrupt.py",
})

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
        if groups or not SLOW_FIXTURES.isdisjoint(item.fixturenames) \
                or item.nodeid.split("::", 1)[0] in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
        if grouping:
            for group in groups:
                item.add_marker(pytest.mark.xdist_group(group))
    if grouping:
        _longest_first(items)


def _longest_first(items: list[pytest.Item]) -> None:
    """Order the work units (files, groups) by their expected length, longest first (a slow
    test counting as ~30 quick ones), so no long one starts last while the other workers idle.
    The scheduler keeps this order (``pytest_xdist_make_scheduler``)."""
    cost: dict[str, int] = {}
    for item in items:
        unit = _work_unit(item)
        cost[unit] = cost.get(unit, 0) + (30 if item.get_closest_marker("slow") else 1)
    items.sort(key=lambda item: -cost[_work_unit(item)])  # stable: a file keeps its order


def _work_unit(item: pytest.Item) -> str:
    group = item.get_closest_marker("xdist_group")
    return f"@{group.args[0]}" if group else item.nodeid.split("::", 1)[0]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadgroup``, with each ungrouped test kept with the rest of its file."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    config.option.loadscopereorder = False  # keep the longest-first order of the collection

    class FileOrGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return scope if scope != nodeid else nodeid.split("::", 1)[0]

    return FileOrGroupScheduling(config, log)
