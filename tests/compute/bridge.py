"""Drive a whole run through one ``Compute`` backend in this process, for tests that
configure the backend (poll intervals, how moto's Batch jobs run) before the run.

``run_remote`` uses the engine's own ``Scheduler`` with the backend given as an instance for
every step (``Scheduler(backends=...)``), the same path ``python flow.py --with kubernetes
run`` takes (tests/compute/test_cli_remote.py runs that command itself); ``start_run``
creates a run and the spec of its first task for driving a backend's start/wait/kill by hand.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from headwater import attempt as attempt_record
from headwater.compute.base import ComputeContext
from headwater.console import Console
from headwater.run_state import RunInfo
from headwater.scheduler import Scheduler


class RecordingConsole(Console):
    """A quiet console that keeps the tasks' output (what the user would have seen)."""

    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.output: list[bytes] = []

    def task_output(self, run_id, step, task_id, where, stream, data) -> None:  # type: ignore[override]
        self.output.append(data)


def load_flow(path: Path):
    """The FlowSpec subclass defined in ``path`` (imported, not run)."""
    from headwater.flowspec import FlowSpec

    name = f"hw_test_flow_{path.stem}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return next(v for v in vars(module).values() if isinstance(v, type)
                and issubclass(v, FlowSpec) and v is not FlowSpec and v.__module__ == name)


def run_remote(flow_path: Path, backend_cls, params: dict[str, Any] | None = None,
               with_specs: tuple[str, ...] = (), configure=None) -> tuple[bool, str, Any]:
    """Run the flow in ``flow_path`` with every task on ``backend_cls``; returns
    (succeeded, run id, scheduler); ``scheduler.output`` is the tasks' output.
    ``configure(backend)`` may adjust the backend before the run starts."""
    from headwater.cli.flow_cli import FlowContext
    from headwater.parameters import resolve_parameters

    flow_cls = load_flow(flow_path)
    obj = FlowContext(flow_cls)
    obj.with_specs = list(with_specs)
    graph = obj.prepare()
    env = obj.environment()
    ctx = ComputeContext(flow_cls, graph, env, str(flow_path),
                         {"with_specs": list(with_specs)})
    backend_cls.check(ctx, [n.name for n in graph])
    md, user = env.metadata, obj.settings.user
    md.register_flow(obj.flow_name, user)
    run_id = str(md.new_run(obj.flow_name, user, [], obj.system_tags())["run_number"])
    info = RunInfo(obj.flow_name, run_id, user, obj.run_namespace(), [])
    compute = backend_cls(ctx)
    if configure:
        configure(compute)
    console = RecordingConsole()
    scheduler = Scheduler(ctx, info, max_workers=4, console=console,
                          backends={backend_cls.name: compute})
    scheduler.output = console.output  # type: ignore[attr-defined]
    values = resolve_parameters(flow_cls, params or {}, user)
    parameters = attempt_record.record_parameters(env, info, {**values, **obj.configs})
    ok = scheduler.start(parameters)
    return ok, run_id, scheduler


__all__ = ["load_flow", "run_remote", "start_run"]


def start_run(flow_path: Path, backend_cls, params: dict[str, Any] | None = None):
    """A new run with its parameters stored, and the spec of its ``start`` task (attempt 0):
    for driving a backend's ``start``/``wait``/``kill`` directly. Returns (ctx, spec)."""
    from headwater.cli.flow_cli import FlowContext
    from headwater.parameters import resolve_parameters
    from headwater.task import TaskSpec

    flow_cls = load_flow(flow_path)
    obj = FlowContext(flow_cls)
    graph = obj.prepare()
    env = obj.environment()
    ctx = ComputeContext(flow_cls, graph, env, str(flow_path), {})
    backend_cls.check(ctx, [n.name for n in graph])
    md, user = env.metadata, obj.settings.user
    md.register_flow(obj.flow_name, user)
    run_id = str(md.new_run(obj.flow_name, user, [], obj.system_tags())["run_number"])
    info = RunInfo(obj.flow_name, run_id, user, None, [])
    values = resolve_parameters(flow_cls, params or {}, user)
    parameters = attempt_record.record_parameters(env, info, {**values, **obj.configs})
    md.register_step(obj.flow_name, run_id, "start", user)
    task_id = str(md.new_task(obj.flow_name, run_id, "start", user)["task_id"])
    spec = TaskSpec(obj.flow_name, run_id, "start", task_id, 0, [parameters], user=user)
    return ctx, spec
