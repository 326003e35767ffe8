"""Drive a whole run through a ``Compute`` backend, for tests, until the engine's scheduler
(which talks only to ``Compute``) is merged.

``ComputeScheduler`` keeps every decision of today's ``LocalScheduler`` (what runs next,
foreach fan-out, joins, switches, retries, failure handling) and replaces only its process
handling: ``start`` goes to the backend, exits come back as ``TaskExited`` events. What this
proves: a backend serves a real run end to end (the tasks' records are what the run state
reads). What it does not: the engine's final scheduler loop, which the lead wires at merge.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from headwater.compute.base import ComputeContext, TaskExited, TaskOutput, task_key
from headwater.scheduler import Console, LocalScheduler, RunInfo
from headwater.task import InputRef


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


class ComputeScheduler(LocalScheduler):
    def __init__(self, *args, compute, **kwargs):
        super().__init__(*args, **kwargs)
        self.compute = compute
        self.active: dict = {}
        self.output: list[bytes] = []

    def _fork(self, spec) -> None:
        self.compute.start(spec, self._timeout(spec.step_name))
        self.active[task_key(spec)] = spec
        self.workers[len(self.workers) + 10**9] = spec  # counted by the parent loop only

    def _wait_for_events(self) -> None:
        for event in self.compute.wait(0.5):
            if isinstance(event, TaskOutput):
                self.output.append(event.data)
                continue
            assert isinstance(event, TaskExited)
            spec = self.active.pop(event.key)
            self.workers.pop(next(k for k, v in self.workers.items() if v is spec))
            if event.result is None:
                self._on_crash(spec, event.reason or "ended without a result")
            elif event.result.ok:
                self._on_success(spec, event.result)
            else:
                self._on_failure(spec, event.result.error or "failed")

    def _check_deadlines(self) -> None:
        pass  # the backend enforces @timeout

    def _kill_all(self) -> None:
        self.compute.kill_all("the run is stopping")
        self.active.clear()
        self.workers.clear()


def run_remote(flow_path: Path, backend_cls, params: dict[str, Any] | None = None,
               with_specs: tuple[str, ...] = (), configure=None) -> tuple[bool, str, Any]:
    """Run the flow in ``flow_path`` with every task on ``backend_cls``; returns
    (succeeded, run id, scheduler). ``configure(backend)`` may adjust the backend."""
    from headwater.cli.flow_cli import FlowContext, store_parameters
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
    scheduler = ComputeScheduler(flow_cls, graph, env, info, max_workers=4,
                                 console=Console(quiet=True), compute=compute)
    values = resolve_parameters(flow_cls, params or {}, user)
    ref = store_parameters(env, info, {**values, **obj.configs})
    try:
        ok = scheduler.start(InputRef("_parameters", ref[0], ref[1]))
    finally:
        compute.close()
    return ok, run_id, scheduler


__all__ = ["ComputeScheduler", "load_flow", "run_remote"]


def start_run(flow_path: Path, backend_cls, params: dict[str, Any] | None = None):
    """A new run with its parameters stored, and the spec of its ``start`` task (attempt 0):
    for driving a backend's ``start``/``wait``/``kill`` directly. Returns (ctx, spec)."""
    from headwater.cli.flow_cli import FlowContext, store_parameters
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
    ref = store_parameters(env, info, {**values, **obj.configs})
    md.register_step(obj.flow_name, run_id, "start", user)
    task_id = str(md.new_task(obj.flow_name, run_id, "start", user)["task_id"])
    spec = TaskSpec(obj.flow_name, run_id, "start", task_id, 0,
                    [InputRef("_parameters", ref[0], ref[1])], user=user)
    return ctx, spec
