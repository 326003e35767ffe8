"""Spin: run one step of an earlier run again, locally, to debug it.

``python flow.py spin PATHSPEC`` finds the task PATHSPEC names (``step``, ``run/step``,
``run/step/task``, ``Flow/run/step`` or ``Flow/run/step/task``; without a run, the user's
latest run; without a task, the step's first task) and runs the step once more with exactly
the inputs that task had: the parent attempts its index recorded (a join gets all of them,
``start`` the run's ``_parameters`` task) and its split stack (foreach input, index, stack).
An artifacts module (a Python file with an ``ARTIFACTS`` dict) overrides named inputs.

Where the spun task is recorded: its own run, ``spin-<n>``, whose metadata lives in a
separate local root (``METAFLOW_DATASTORE_SYSROOT_SPIN``, default ``.spin`` inside the
local sysroot), so ``Flow(...).runs()``, ``latest_run`` and ``resume`` never see it. Its
index and logs go to the original run's datastore under the ``spin-<n>`` run id, and the
artifacts it creates into the flow's content-addressed store, where the inputs it inherited
already are (nothing is copied). Nothing of the original run is written to.

The step runs once (no retries), in a forked process as a run's tasks do. Of its decorators
only those that declare ``SpinUse.APPLIED`` apply (Metaflow's few: ``@environment``,
``@timeout``, ``@card``, ``@pypi``/``@conda``; all are dropped with ``--skip-decorators``);
the others are ignored with a note, among them ``@kubernetes`` and ``@batch``: the step
runs here. ``@parallel`` steps cannot be spun.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from . import attempt as attempt_record
from .compute.local import LocalCompute
from .decorators.base import SpinUse
from .datastore.task_store import TaskDataStore, TaskIndex
from .exceptions import RunFailed, SpinError
from .launch import FlowCommand, latest_run_of
from .task import InputRef, TaskRunner, TaskSpec

if TYPE_CHECKING:
    from .datastore.artifacts import ArtifactInfo
    from .flowspec import FlowSpec
    from .graph import FlowGraph, StepNode
    from .settings import Settings
    from .task import RunEnvironment, TaskResult

SPIN_RUN_PREFIX = "spin-"
SPIN_DIRNAME = ".spin"
PATHSPEC_FORMS = ("step, run/step, run/step/task, Flow/run/step or Flow/run/step/task")


@dataclass
class SpinTarget:
    """What a spin pathspec names (``run_id``/``task_id`` None when left out)."""

    step: str
    run_id: str | None = None
    task_id: str | None = None


@dataclass
class OriginTask:
    """The task being spun: its attempt and the inputs and split stack it recorded."""

    run_id: str
    step: str
    task_id: str
    attempt: int
    inputs: list[InputRef]
    stack: list[Any]  # SplitFrame

    @property
    def path(self) -> str:
        return f"{self.run_id}/{self.step}/{self.task_id}"


def spin_root(settings: "Settings") -> str:
    """The local folder holding spun runs' metadata."""
    root = settings.get("METAFLOW_DATASTORE_SYSROOT_SPIN")
    if root:
        return os.path.abspath(os.path.expanduser(root))
    from .datastore.local import local_root

    return os.path.join(local_root(settings), SPIN_DIRNAME)


def spin_settings(settings: "Settings", root: str) -> "Settings":
    """Settings under which the Client reads spun runs (metadata from ``root``; each task's
    artifacts from the datastore its ``ds-root`` names)."""
    from .settings import Settings

    env = dict(settings.env)
    env.update({"METAFLOW_DEFAULT_METADATA": "local", "METAFLOW_DATASTORE_SYSROOT_LOCAL": root})
    return Settings(env=env)


# --- finding the task --------------------------------------------------------------------


def parse_spin_pathspec(pathspec: str, flow_name: str, steps: list[str]) -> SpinTarget:
    """Split a spin pathspec into step, run and task, checking flow and step names."""
    parts = pathspec.split("/")
    if not all(p.strip() for p in parts) or len(parts) > 4:
        raise SpinError(f"{pathspec!r} is not a spin pathspec",
                        f"use one of: {PATHSPEC_FORMS}")
    if len(parts) == 1:
        target = SpinTarget(parts[0])
    elif len(parts) == 2:
        target = SpinTarget(parts[1], parts[0])
    elif len(parts) == 3 and parts[0] == flow_name:
        target = SpinTarget(parts[2], parts[1])
    elif len(parts) == 3:
        if parts[1] not in steps and parts[2] in steps:  # Other/run/step
            _other_flow(parts[0], flow_name)
        target = SpinTarget(parts[1], parts[0], parts[2])
    else:
        if parts[0] != flow_name:
            _other_flow(parts[0], flow_name)
        target = SpinTarget(parts[2], parts[1], parts[3])
    if target.step not in steps:
        raise SpinError(f"{flow_name} has no step {target.step!r}",
                        f"steps: {', '.join(steps)}")
    return target


def _other_flow(named: str, flow_name: str) -> None:
    raise SpinError(f"the pathspec names flow {named!r}, but this file defines {flow_name!r}",
                    f"spin it with the file that defines {named}, or name a run of "
                    f"{flow_name}")


def find_origin_task(env: "RunEnvironment", flow_name: str, target: SpinTarget, user: str,
                     script: str, say: Callable[[str], None]) -> OriginTask:
    """The task ``target`` names in the run it names (default: ``user``'s latest run)."""
    from .flowspec import SplitFrame

    md = env.metadata
    run_id = target.run_id
    if run_id is None:
        run_id = latest_run_of(md, flow_name, user)
        if run_id is None:
            raise SpinError(f"there is no run of {flow_name} to spin a step of",
                            f"start one with: python {script} run")
    elif md.get_run(flow_name, run_id) is None:
        raise SpinError(f"run {flow_name}/{run_id} does not exist",
                        "name a run that exists (Flow(...).runs() lists them)")
    step = target.step
    tasks = sorted((str(t["task_id"]) for t in md.get_tasks(flow_name, run_id, step)),
                   key=_id_order)
    if not tasks:
        raise SpinError(f"run {flow_name}/{run_id} has no task of step {step!r} (it never "
                        f"got there)", "name a run that ran this step")
    task_id = target.task_id
    if task_id is None:
        task_id = tasks[0]
        if len(tasks) > 1:
            say(f"Step {step!r} of run {run_id} has {len(tasks)} tasks; spinning the first, "
                f"{flow_name}/{run_id}/{step}/{task_id} (name a task to pick another)")
    elif task_id not in tasks:
        shown = ", ".join(tasks[:10]) + (", ..." if len(tasks) > 10 else "")
        raise SpinError(f"task {flow_name}/{run_id}/{step}/{task_id} does not exist",
                        f"tasks of step {step!r} in run {run_id}: {shown}")
    store = TaskDataStore(env.backend, flow_name, run_id, step, task_id)
    latest, _ = attempt_record.latest_attempt(md.get_metadata(flow_name, run_id, step, task_id))
    for attempt in reversed(range((latest or 0) + 1)):
        if store.has_index(attempt):
            state = store.load_index(attempt).state
            if "inputs" not in state:
                break
            return OriginTask(run_id, step, task_id, attempt,
                              [InputRef.from_json(i) for i in state["inputs"]],
                              [SplitFrame.from_json(f) for f in state.get("stack", [])])
    raise SpinError(f"task {flow_name}/{run_id}/{step}/{task_id} recorded no inputs (it is "
                    f"still running, or was stored by an older version)",
                    "spin a task of a run that has ended")


def _id_order(task_id: str) -> tuple:
    return (0, int(task_id), "") if task_id.isdigit() else (1, 0, task_id)


# --- what the spun task starts from -----------------------------------------------------


def load_artifacts_module(path: str) -> dict[str, Any]:
    """The ``ARTIFACTS`` dict of the Python file at ``path``."""
    import importlib.util

    if not os.path.isfile(path):
        raise SpinError(f"artifacts module {path!r} does not exist",
                        "pass the path of a .py file that defines ARTIFACTS = {...}")
    name = "headwater_spin_artifacts"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpinError(f"artifacts module {path!r} is not a Python file",
                        "pass the path of a .py file that defines ARTIFACTS = {...}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's module: say what it raised
        raise SpinError(f"artifacts module {path!r} raised {type(exc).__name__}: {exc}",
                        "fix the module so that importing it works") from None
    if not hasattr(module, "ARTIFACTS"):
        raise SpinError(f"artifacts module {path!r} has no ARTIFACTS",
                        "define ARTIFACTS = {'name': value, ...} in it")
    artifacts = module.ARTIFACTS
    if not isinstance(artifacts, dict):
        raise SpinError(f"ARTIFACTS in {path!r} is of type {type(artifacts).__name__}, "
                        f"not a dict", "define ARTIFACTS = {'name': value, ...}")
    bad = [k for k in artifacts if not isinstance(k, str) or not k.isidentifier()
           or k.startswith("_")]
    if bad:
        raise SpinError(f"ARTIFACTS in {path!r} has a key {bad[0]!r} that is not an "
                        f"artifact name", "use the names of the step's input artifacts")
    return dict(artifacts)


def spin_decorators(node: "StepNode", skip: bool) -> tuple[list, list[str]]:
    """The decorators that apply to the spun step and the names of those ignored."""
    refused = [d.name for d in node.decorators if d.spin_use is SpinUse.REFUSED]
    if refused:
        raise SpinError(f"step {node.name!r} uses @{refused[0]}, which spin cannot run",
                        "debug it with a run (python flow.py run)")
    if skip:
        return [], [d.name for d in node.decorators]
    kept = [d for d in node.decorators if d.spin_use is SpinUse.APPLIED]
    return kept, [d.name for d in node.decorators if d.spin_use is not SpinUse.APPLIED]


class SpinTaskRunner(TaskRunner):
    """A task whose parents are in the original run and whose inputs may be overridden;
    without ``persist`` it stores no artifact (only its outcome and logs)."""

    def __init__(self, flow_cls: "type[FlowSpec]", graph: "FlowGraph", spec: TaskSpec,
                 env: "RunEnvironment", origin_run_id: str,
                 overrides: "dict[str, ArtifactInfo]", persist: bool, decorators: list):
        super().__init__(flow_cls, graph, spec, env)
        self.origin_run_id = origin_run_id
        self.overrides = overrides
        self.persist = persist
        self.decorators = decorators

    def _parent_index(self, ref: InputRef) -> TaskIndex:
        index = TaskDataStore(self.env.backend, self.spec.flow_name, self.origin_run_id,
                              ref.step, ref.task_id).load_index(ref.attempt)
        if self.overrides:  # every input of a join, and start's parameters, alike
            index = TaskIndex({**index.artifacts, **self.overrides}, index.state)
        return index

    def step_decorators(self) -> list:
        return list(self.decorators)

    def _persist(self, flow: "FlowSpec", result: "TaskResult", error: BaseException | None,
                 user_artifacts: bool = True) -> None:
        if not self.persist:
            flow._state().artifacts = {}
            user_artifacts = False
        super()._persist(flow, result, error, user_artifacts)


class SpinCompute(LocalCompute):
    """Local compute whose forked task runs a ``SpinTaskRunner``."""

    def __init__(self, ctx: Any, make_runner: Callable[[TaskSpec], TaskRunner]):
        super().__init__(ctx)
        self.make_runner = make_runner

    def task_runner(self, spec: TaskSpec) -> TaskRunner:
        return self.make_runner(spec)


# --- running it --------------------------------------------------------------------------


@dataclass
class SpinRequest(FlowCommand):
    """What the ``spin`` command line decided."""

    pathspec: str
    skip_decorators: bool = False
    artifacts_module: str | None = None
    persist: bool = False
    quiet: bool = False
    run_id_file: str | None = None
    attribute_file: str | None = None  # JSON the Runner reads: the spun task and its root


def spin_step(request: SpinRequest) -> str:
    """Spin the task ``request.pathspec`` names; returns the spun task's pathspec. Raises
    ``RunFailed`` when the step fails (the spun task is recorded either way)."""
    import json

    from .compute.base import ComputeContext, TaskExited, TaskOutput, task_key
    from .console import Console
    from .datastore.artifacts import ContentAddressedStore
    from .metadata.local import LocalMetadataProvider
    from .task import RunEnvironment

    console = Console(quiet=request.quiet)
    flow, graph, env, script = request.flow_name, request.graph, request.env, request.script
    target = parse_spin_pathspec(request.pathspec, flow, [n.name for n in graph])
    node = graph[target.step]
    decorators, ignored = spin_decorators(node, request.skip_decorators)
    values = load_artifacts_module(request.artifacts_module) if request.artifacts_module \
        else {}
    origin = find_origin_task(env, flow, target, request.user, script, console.status)
    if ignored:
        remote = [d.name for d in node.decorators if d.compute_backend() is not None]
        why = (" (--skip-decorators)" if request.skip_decorators else
               "; spin runs the step once, here" + (f", not on {', '.join(remote)}"
                                                    if remote else ""))
        console.status(f"Ignoring {', '.join('@' + n for n in ignored)} on step "
                       f"{node.name!r}{why}")
    overrides = ContentAddressedStore(env.backend, flow).save(values) if values else {}

    root = spin_root(env.settings)
    md = LocalMetadataProvider(root)
    spin_env = RunEnvironment(env.settings, env.backend, md)
    md.register_flow(flow, request.user)
    run_id = _new_spin_run(md, flow, request.user, request.tags,
                           request.system_tags + [f"spin-origin:{flow}/{origin.path}"])
    md.register_step(flow, run_id, node.name, request.user)
    task_id = str(md.new_task(flow, run_id, node.name, request.user)["task_id"])
    spec = TaskSpec(flow, run_id, node.name, task_id, 0, origin.inputs, origin.stack, 0,
                    request.user, request.namespace, list(request.tags),
                    origin_run_id=origin.run_id)
    md.register_metadata(flow, run_id, node.name, task_id, request.user,
                         attempt_record.origin_metadata(0, origin.run_id, origin.task_id))
    pathspec = f"{flow}/{run_id}/{node.name}/{task_id}"
    if request.run_id_file:
        with open(request.run_id_file, "w") as f:
            f.write(run_id)
    if request.attribute_file:
        with open(request.attribute_file, "w") as f:
            json.dump({"pathspec": pathspec, "spin_root": root}, f)
    console.status(f"Spinning step {node.name!r} of {flow}/{origin.path} locally as "
                   f"{pathspec}" + ("" if request.persist else " (artifacts not persisted)"))

    ctx = ComputeContext(request.flow_cls, graph, spin_env,
                         os.path.abspath(request.flow_file) if request.flow_file else "", {})
    compute = SpinCompute(ctx, lambda s: SpinTaskRunner(
        request.flow_cls, graph, s, spin_env, origin.run_id, overrides, request.persist,
        decorators))
    limits = [t for t in (d.timeout_seconds() for d in decorators) if t]
    deadline = time.monotonic() + min(limits) if limits else None
    started = time.monotonic()
    result: "TaskResult | None" = None
    reason: str | None = None
    try:
        compute.start(spec, None)
        ended = False
        while not ended:
            wait = 1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            for event in compute.wait(wait):
                if isinstance(event, TaskOutput):
                    console.task_output(run_id, node.name, task_id, "", event.stream,
                                        event.data)
                elif isinstance(event, TaskExited):
                    result, reason, ended = event.result, event.reason, True
            if not ended and deadline is not None and time.monotonic() >= deadline:
                compute.kill(task_key(spec), f"was killed after running past its @timeout "
                                             f"({min(limits):g} s)")
                deadline = None
    except KeyboardInterrupt:
        compute.kill_all("the spin was interrupted")
        raise
    finally:
        compute.close()
    if result is None:
        reason = reason or "ended without recording a result"
        attempt_record.record_crash(spin_env, spec, reason)
        error = f"the task process {reason}"
    else:
        error = result.error or "failed"
    elapsed = time.monotonic() - started
    if result is None or not result.ok:
        raise RunFailed(f"spun task {pathspec} failed after {elapsed:.1f} s: {error}",
                        f"fix the step, then spin it again: python {script} spin "
                        f"{flow}/{origin.path}")
    console.status(f"Done! Spun task {pathspec} finished in {elapsed:.2f} s.")
    return pathspec


def _new_spin_run(md: Any, flow: str, user: str, tags: list[str],
                  system_tags: list[str]) -> str:
    """Claim the next ``spin-<n>`` run id (mkdir is the atomic claim)."""
    flow_dir = os.path.join(md.root, flow)
    os.makedirs(flow_dir, exist_ok=True)
    taken = [int(n[len(SPIN_RUN_PREFIX):]) for n in os.listdir(flow_dir)
             if n.startswith(SPIN_RUN_PREFIX) and n[len(SPIN_RUN_PREFIX):].isdigit()]
    number = max(taken, default=0) + 1
    while True:
        try:
            os.mkdir(os.path.join(flow_dir, f"{SPIN_RUN_PREFIX}{number}"))
            break
        except FileExistsError:
            number += 1
    run_id = f"{SPIN_RUN_PREFIX}{number}"
    md.new_run(flow, user, tags, system_tags, run_id=run_id)
    return run_id
