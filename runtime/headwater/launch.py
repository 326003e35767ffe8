"""Starting a run and planning a resume: what happens between "the command line is parsed"
and "the scheduler runs".

``start_run`` checks the compute backends, creates the run, stores its ``_parameters``
task and drives the scheduler to the end; ``resume_run`` does the same from an earlier run,
whose successful tasks ``plan_resume`` finds (they are cloned by reference, the rest runs
again). Both print the run's header and outcome and raise ``RunFailed`` (with the
``resume`` command that continues the run) when it does not succeed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import attempt as attempt_record
from .exceptions import ResumeError, RunFailed
from .run_state import OriginRun, RunInfo, stack_key

if TYPE_CHECKING:
    from .graph import FlowGraph
    from .metadata.base import MetadataProvider
    from .task import RunEnvironment


@dataclass
class FlowCommand:
    """What every command that starts tasks of a flow (run, resume, spin) is given."""

    flow_cls: type
    graph: "FlowGraph"
    env: "RunEnvironment"
    user: str
    namespace: str | None
    tags: list[str]
    system_tags: list[str]
    flow_file: str | None

    @property
    def flow_name(self) -> str:
        return self.flow_cls.__name__

    @property
    def script(self) -> str:
        return os.path.relpath(self.flow_file) if self.flow_file else "flow.py"


@dataclass
class RunRequest(FlowCommand):
    """Everything a run needs from its command line."""

    quiet: bool = False
    max_workers: int = 16
    max_num_splits: int = 100
    run_id_file: str | None = None
    # ComputeContext.options for remote backends: "with_specs" (the --with decorators),
    # "config_files" (Config name -> path), and what a backend's own options add.
    compute_options: dict[str, Any] = field(default_factory=dict)


def start_run(request: RunRequest, values: dict[str, Any]) -> str:
    """Run the flow with parameter and config ``values``; returns the run id."""
    return _run(request, values, None)


def resume_run(request: RunRequest, step: str | None = None,
               origin_run_id: str | None = None) -> str:
    """Run again what an earlier run (default: the user's latest) did not finish, or from
    ``step`` on; returns the new run's id."""
    origin = plan_resume(request, step, origin_run_id)
    return _run(request, None, origin)


def _run(request: RunRequest, values: dict[str, Any] | None, origin: OriginRun | None) -> str:
    from .compute.base import ComputeContext
    from .console import Console
    from .scheduler import Scheduler, check_backends

    env, user, flow = request.env, request.user, request.flow_name
    md = env.metadata
    ctx = ComputeContext(request.flow_cls, request.graph, env,
                         os.path.abspath(request.flow_file) if request.flow_file else "",
                         dict(request.compute_options))
    check_backends(ctx)
    from .environments.task_environment import OPTION, prepare_environments

    ctx.options[OPTION] = prepare_environments(request.flow_cls, request.graph, env.backend,
                                               Console(quiet=request.quiet).status)
    if origin is not None and origin.tasks.get((attempt_record.PARAMETERS_STEP, ())) is None:
        raise ResumeError(f"run {origin.run_id} has no stored parameters",
                          "start a new run instead")
    md.register_flow(flow, user)
    run_id = str(md.new_run(flow, user, request.tags, request.system_tags)["run_number"])
    if request.run_id_file:
        with open(request.run_id_file, "w") as f:
            f.write(run_id)
    info = RunInfo(flow, run_id, user, request.namespace, request.tags,
                   origin.run_id if origin else None)
    console = Console(quiet=request.quiet)
    what = f"resuming run {origin.run_id}" if origin else "starting"
    console.status(f"Workflow {flow} {what} (run-id {run_id}, user {user}, "
                   f"{env.backend.TYPE} datastore, {md.describe()})")
    note = env.settings.local_datastore_note()
    if note:
        console.status(note)
    started = time.monotonic()
    scheduler = Scheduler(ctx, info, request.max_workers, request.max_num_splits, origin,
                          console)
    if origin is not None:
        parameters = attempt_record.clone_parameters(
            env, info, origin.run_id, origin.tasks[(attempt_record.PARAMETERS_STEP, ())])
    else:
        from .flowspec import constant_values

        parameters = attempt_record.record_parameters(
            env, info, {**constant_values(request.flow_cls), **(values or {})})
    try:
        ok = scheduler.start(parameters)
    except KeyboardInterrupt:
        raise RunFailed(f"run {flow}/{run_id} was interrupted",
                        f"continue it with: python {request.script} resume --origin-run-id "
                        f"{run_id}") from None
    elapsed = time.monotonic() - started
    if not ok:
        raise RunFailed(f"run {flow}/{run_id} failed after {elapsed:.1f} s: "
                        f"{scheduler.failure or 'the end step did not run'}",
                        f"fix the step, then: python {request.script} resume --origin-run-id "
                        f"{run_id}")
    console.status(f"Done! Run {flow}/{run_id} finished in {elapsed:.2f} s.")
    return run_id


def latest_run_of(md: "MetadataProvider", flow: str, user: str) -> str | None:
    """The id of ``user``'s newest run of ``flow`` (what resume and spin default to)."""
    for run in md.get_runs(flow):  # newest first
        if f"user:{user}" in run.get("system_tags", []):
            return str(run["run_number"])
    return None


def plan_resume(request: RunRequest, step: str | None, origin_run_id: str | None
                ) -> OriginRun:
    """The run to resume, its reusable tasks and the steps to run again."""
    env, graph, flow = request.env, request.graph, request.flow_name
    md = env.metadata
    if origin_run_id is None:
        origin_run_id = latest_run_of(md, flow, request.user)
        if origin_run_id is None:
            raise ResumeError(f"there is no earlier run of {flow} to resume",
                              f"start one with: python {request.script} run")
    elif md.get_run(flow, origin_run_id) is None:
        raise ResumeError(f"run {flow}/{origin_run_id} does not exist",
                          "pass an existing run id to --origin-run-id")
    if step is not None and step not in graph:
        raise ResumeError(f"{flow} has no step {step!r}",
                          f"steps: {', '.join(n.name for n in graph)}")
    tasks: dict[tuple[str, tuple], tuple[str, int]] = {}
    failed: set[str] = set()
    for name in [attempt_record.PARAMETERS_STEP] + [n.name for n in graph]:
        for task in md.get_tasks(flow, origin_run_id, name):
            task_id = str(task["task_id"])
            found = attempt_record.finished_attempt(env, flow, origin_run_id, name, task_id)
            if found is None:
                failed.add(name)
                continue
            tasks[(name, stack_key(found[1]))] = (task_id, found[0])
    if step is not None:
        rerun = descendants(graph, {step})
    else:
        if not failed and any(k[0] == "end" for k in tasks):
            raise ResumeError(f"run {flow}/{origin_run_id} succeeded; there is nothing to resume",
                              f"name a step to run again: python {request.script} resume STEP")
        rerun = descendants(graph, failed - {attempt_record.PARAMETERS_STEP})
    return OriginRun(origin_run_id, tasks, rerun)


def descendants(graph: "FlowGraph", steps: set[str]) -> set[str]:
    """``steps`` and every step reachable from them."""
    out, todo = set(), [s for s in steps if s in graph]
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(graph[name].out)
    return out
