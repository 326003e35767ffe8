"""Running a flow inside a test, the way Click's ``CliRunner`` runs a command and Starlette's
``TestClient`` calls an app: no ``python flow.py run`` child process.

    from headwater.testing import FlowRunner

    def test_total(tmp_path):
        run = FlowRunner(tmp_path).run(SumFlow, alpha=0.5)
        assert run.successful and run.data.total == 3

The flow goes through the same steps as ``python flow.py run``: the flow CLI's
``FlowContext`` reads its configs and ``--with`` decorators and checks the graph, and
``headwater.launch.start_run`` drives the one scheduler, whose local compute forks each task
from the test process as it forks them from a flow file's process. What changes is where
the run is stored: a datastore and local metadata under ``root`` (a temporary folder unless
given), with no ``METAFLOW_*`` setting of the machine or profile applying unless passed in
``env``. A run that fails raises ``RunFailed`` (or returns the failed ``Run`` with
``raise_on_failure=False``); bad parameters or configs raise the same errors the command line
prints.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from .exceptions import RunFailed

if TYPE_CHECKING:
    from .cli.flow_cli import FlowContext
    from .client import Run
    from .flowspec import FlowSpec
    from .graph import FlowGraph
    from .launch import RunRequest

__all__ = ["FlowRunner", "run_flow"]


class FlowRunner:
    """Runs flow classes in this process, storing their runs under ``root``.

    ``env`` adds settings (``METAFLOW_*`` keys, ``METAFLOW_RUN_<PARAM>``, ...) on top of a
    clean environment that points the local datastore and metadata at ``root``; ``quiet``
    hides task output (status lines still go to stderr). Used as a context manager, a
    temporary ``root`` is removed on exit.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 env: Mapping[str, str] | None = None, quiet: bool = True,
                 raise_on_failure: bool = True):
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="hw-flowrunner-") if root is None else root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.env = dict(env or {})
        self.quiet = quiet
        self.raise_on_failure = raise_on_failure

    def __enter__(self) -> "FlowRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary root (a root passed in is left alone)."""
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def sysroot(self) -> Path:
        """The local datastore (and metadata) root the runs are stored under."""
        return self.root / ".headwater"

    # --- running -------------------------------------------------------------------------

    def run(self, flow_cls: "type[FlowSpec]", *, tags: Sequence[str] = (), with_: Sequence[str] = (),
            config_files: Mapping[str, str] | None = None,
            config_values: Mapping[str, str] | None = None, namespace: str | None = None,
            max_workers: int = 16, max_num_splits: int = 100, **params: Any) -> "Run":
        """Run ``flow_cls`` with parameter values ``params`` (Python values or the strings
        the command line would take); returns the finished run.

        ``with_`` holds ``--with`` specs (``"retry:times=2"``), ``config_files`` and
        ``config_values`` map a Config's name to a file or to JSON/TOML text, as
        ``--config`` and ``--config-value`` do.
        """
        from .launch import start_run
        from .parameters import resolve_parameters

        with self._flow(flow_cls, with_, config_files, config_values, namespace) as obj:
            graph = obj.prepare()
            given = {name: value for name, value in params.items() if value is not None}
            values = resolve_parameters(flow_cls, given, obj.settings.user, obj.configs)
            return self._launch(obj, lambda request: start_run(request, {**values,
                                                                         **obj.configs}),
                                graph, tags, max_workers, max_num_splits)

    def resume(self, flow_cls: "type[FlowSpec]", step: str | None = None, *,
               origin_run_id: str | None = None, tags: Sequence[str] = (),
               with_: Sequence[str] = (), config_files: Mapping[str, str] | None = None,
               config_values: Mapping[str, str] | None = None,
               namespace: str | None = None, max_workers: int = 16,
               max_num_splits: int = 100) -> "Run":
        """Resume an earlier run of ``flow_cls`` stored under ``root`` (default: the latest),
        or rerun from ``step``; returns the new run."""
        from .launch import resume_run

        with self._flow(flow_cls, with_, config_files, config_values, namespace) as obj:
            graph = obj.prepare()
            return self._launch(obj, lambda request: resume_run(request, step, origin_run_id),
                                graph, tags, max_workers, max_num_splits)

    # --- the pieces ----------------------------------------------------------------------

    def settings_env(self) -> dict[str, str]:
        """The environment a run sees: no machine or profile settings, ``root`` as the local
        datastore and metadata, then ``env``."""
        base = {key: value for key, value in os.environ.items()
                if not key.startswith(("METAFLOW_", "HEADWATER_"))}
        base.update({
            "METAFLOW_HOME": str(self.root / "home"),  # no profile file: defaults apply
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(self.sysroot),
            "METAFLOW_DEFAULT_DATASTORE": "local",
            "METAFLOW_DEFAULT_METADATA": "local",
        })
        base.update(self.env)
        return base

    @contextlib.contextmanager
    def _flow(self, flow_cls: "type[FlowSpec]", with_: Sequence[str],
              config_files: Mapping[str, str] | None,
              config_values: Mapping[str, str] | None,
              namespace: str | None) -> Iterator["FlowContext"]:
        from .cli.flow_cli import FlowContext

        if flow_cls._flow_file() is None:
            raise TypeError(f"{flow_cls.__name__} is not defined in a file; the graph parser "
                            "reads step sources, so define the flow in a module")
        with _environment(self.settings_env()):
            obj = FlowContext(flow_cls)
            obj.config_files.update(config_files or {})
            obj.config_values.update(config_values or {})
            obj.with_specs = list(with_)
            obj.namespace = namespace
            obj.quiet = self.quiet
            yield obj

    def _launch(self, obj: "FlowContext", start: Callable[["RunRequest"], str],
                graph: "FlowGraph", tags: Sequence[str], max_workers: int,
                max_num_splits: int) -> "Run":
        from .cli.flow_cli import run_request

        run_id_file = tempfile.NamedTemporaryFile(prefix="run-id-", dir=self.root,
                                                  delete=False)
        run_id_file.close()
        try:
            request = run_request(obj, graph, max_workers, max_num_splits, list(tags),
                                  run_id_file.name)
            try:
                start(request)
            except RunFailed:
                # RunFailed comes once the run exists, so its id is in the file
                if self.raise_on_failure:
                    raise
            run_id = Path(run_id_file.name).read_text().strip()
        finally:
            os.unlink(run_id_file.name)
        return self._client_run(obj, run_id)

    @staticmethod
    def _client_run(obj: "FlowContext", run_id: str) -> "Run":
        from .client import Run
        from .client._services import pinned

        # The Run keeps the services it was read with: it (and its steps, tasks and
        # artifacts) reads from ``root`` after the environment is restored.
        with pinned(obj.settings):
            return Run(f"{obj.flow_name}/{run_id}", _namespace_check=False)


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` replaced by ``env`` inside the block: settings read where the runtime
    reads them (tasks, secrets, cards) agree with the run's."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_flow(flow_cls: "type[FlowSpec]", *, root: str | os.PathLike[str] | None = None,
             env: Mapping[str, str] | None = None, **params: Any) -> "Run":
    """Run ``flow_cls`` once with ``params`` and return the finished run (``FlowRunner``
    with its defaults; ``root`` defaults to a new temporary folder, kept so the run stays
    readable)."""
    return FlowRunner(root, env=env).run(flow_cls, **params)
