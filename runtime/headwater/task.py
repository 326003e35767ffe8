"""The task executor: runs one attempt of one step and persists what it produced.

Used by the local compute backend (in a forked process) and by the hidden ``step`` command
(remote compute and deployers run the same code in a container). A task reads its inputs'
artifacts lazily through the parents' indexes, runs the step body between the decorators'
hooks, stores every attribute the body assigned, and has ``attempt.py`` write its record,
the index last: until then nothing of the attempt is visible.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import attempt as attempt_record
from .current import current
from .datastore.artifacts import ArtifactInfo
from .datastore.task_store import TaskDataStore, TaskIndex
# Imported here, not where used: every task needs it, and a module first imported in a
# forked task process is loaded (or compiled) again in each one.
from .decorators.catch import CaughtException, user_frames
from .exceptions import ForeachError, HeadwaterException, InvalidNextError, SerializationError
from .flowspec import FlowSpec, Inputs, SplitFrame, TaskState, Transition
from .graph import StepKind

if TYPE_CHECKING:
    from .datastore.base import StorageBackend
    from .graph import FlowGraph
    from .metadata.base import MetadataProvider
    from .settings import Settings

# Artifacts the runtime itself writes; never inherited by the next task.
HIDDEN = ("_success", "_exception", "_task_ok")


@dataclass
class InputRef:
    """A finished parent task whose artifacts this task starts from."""

    step: str
    task_id: str
    attempt: int

    def to_json(self) -> list:
        return [self.step, self.task_id, self.attempt]

    @classmethod
    def from_json(cls, value: list) -> "InputRef":
        return cls(value[0], str(value[1]), int(value[2]))


@dataclass
class TaskSpec:
    """Everything needed to run one attempt of a task, in any process or container."""

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    attempt: int
    inputs: list[InputRef]
    stack: list[SplitFrame] = field(default_factory=list)
    max_retries: int = 0
    user: str = "unknown"
    namespace: str | None = None
    tags: list[str] = field(default_factory=list)
    origin_run_id: str | None = None
    crashed: str | None = None  # set for the @catch fallback after every attempt died

    def to_json(self) -> dict:
        return {"flow_name": self.flow_name, "run_id": self.run_id, "step_name": self.step_name,
                "task_id": self.task_id, "attempt": self.attempt,
                "inputs": [i.to_json() for i in self.inputs],
                "stack": [f.to_json() for f in self.stack], "max_retries": self.max_retries,
                "user": self.user, "namespace": self.namespace, "tags": self.tags,
                "origin_run_id": self.origin_run_id, "crashed": self.crashed}

    @classmethod
    def from_json(cls, data: dict) -> "TaskSpec":
        data = dict(data)
        data["inputs"] = [InputRef.from_json(i) for i in data["inputs"]]
        data["stack"] = [SplitFrame.from_json(f) for f in data["stack"]]
        return cls(**data)


@dataclass
class TaskResult:
    """What the scheduler needs from a finished attempt."""

    ok: bool
    targets: list[str] = field(default_factory=list)
    foreach_count: int | None = None
    foreach_var: str | None = None
    error: str | None = None

    def to_json(self) -> dict:
        return {"ok": self.ok, "targets": self.targets, "foreach_count": self.foreach_count,
                "foreach_var": self.foreach_var, "error": self.error}

    @classmethod
    def from_json(cls, data: dict) -> "TaskResult":
        return cls(**data)


@dataclass
class RunEnvironment:
    """The run-wide services a task uses: settings, datastore, metadata."""

    settings: "Settings"
    backend: "StorageBackend"
    metadata: "MetadataProvider"

    @property
    def ds_type(self) -> str:
        return self.backend.TYPE


class TaskContext:
    """What decorator hooks see of the running task."""

    def __init__(self, spec: TaskSpec, env: RunEnvironment):
        self.spec = spec
        self.settings = env.settings
        self.backend = env.backend
        self.metadata = env.metadata
        self.flow_name = spec.flow_name
        self.run_id = spec.run_id
        self.step_name = spec.step_name
        self.task_id = spec.task_id
        self.retry_count = spec.attempt
        self.max_retries = spec.max_retries

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"


class TaskRunner:
    """Runs one attempt of one task in the current process."""

    def __init__(self, flow_cls: type[FlowSpec], graph: "FlowGraph", spec: TaskSpec,
                 env: RunEnvironment):
        self.flow_cls = flow_cls
        self.graph = graph
        self.node = graph[spec.step_name]
        self.spec = spec
        self.env = env
        self.store = TaskDataStore(env.backend, spec.flow_name, spec.run_id, spec.step_name,
                                   spec.task_id)
        self.cas = self.store.cas
        from .config import flow_configs
        from .parameters import flow_parameters

        # Read-only names, found once: a join builds one flow object per input.
        self.parameters = sorted(flow_parameters(flow_cls))
        self.read_only_names = frozenset(self.parameters) | frozenset(flow_configs(flow_cls))

    # --- building the flow object --------------------------------------------------------

    def _parent_index(self, ref: InputRef) -> TaskIndex:
        return TaskDataStore(self.env.backend, self.spec.flow_name, self.spec.run_id, ref.step,
                             ref.task_id).load_index(ref.attempt, known=True)

    def _new_flow(self, artifacts: dict[str, ArtifactInfo], step_name: str | None,
                  stack: list[SplitFrame], read_only: bool = False) -> FlowSpec:
        state = TaskState(artifacts={k: v for k, v in artifacts.items() if k not in HIDDEN},
                          cas=self.cas, step_name=step_name, stack=list(stack),
                          running=True, read_only=read_only,
                          parameter_names=self.read_only_names)
        return self.flow_cls._for_task(state)

    def build_flow(self) -> tuple[FlowSpec, Inputs | None]:
        parents = [(ref, self._parent_index(ref)) for ref in self.spec.inputs]
        if not self.node.takes_inputs:  # linear, or the merge of a switch: one parent
            flow = self._new_flow(parents[0][1].artifacts, self.node.name, self.spec.stack)
            return flow, None
        inputs = [self._new_flow(index.artifacts, ref.step,
                                 [SplitFrame.from_json(f) for f in index.state.get("stack", [])],
                                 read_only=True)
                  for ref, index in parents]
        # A join starts with every artifact on which all its inputs agree.
        first = parents[0][1].artifacts
        agreed = {name: info for name, info in first.items()
                  if all(index.artifacts.get(name, ArtifactInfo("", "", 0)).sha == info.sha
                         for _, index in parents[1:])}
        flow = self._new_flow(agreed, self.node.name, self.spec.stack)
        flow._state().is_join = True
        return flow, Inputs(inputs)

    # --- running -------------------------------------------------------------------------

    def step_decorators(self) -> list:
        """The decorators whose hooks run around the step body."""
        return list(self.node.decorators)

    def run(self) -> TaskResult:
        spec, env = self.spec, self.env
        current._set(flow_name=spec.flow_name, run_id=spec.run_id, step_name=spec.step_name,
                     task_id=spec.task_id, retry_count=spec.attempt,
                     origin_run_id=spec.origin_run_id,
                     namespace=spec.namespace or f"user:{spec.user}", username=spec.user,
                     parameter_names=self.parameters,
                     is_running_flow=True, tags=set(spec.tags))
        for flow_deco in self.flow_cls._flow_decorators:
            current._set(**flow_deco.current_values(spec.flow_name, spec.user))
        attempt_record.record_start(env, spec)
        ctx = TaskContext(spec, env)
        _start_heartbeat(spec, env)
        flow, inputs = self.build_flow()
        decorators = self.step_decorators()
        error: BaseException | None = None
        caught = False  # a decorator (@catch) turned a failure into success
        try:
            for deco in decorators:
                deco.task_pre_step(flow, ctx)
            if spec.crashed is not None:
                caught = any(d.task_crashed(flow, ctx, spec.crashed) for d in decorators)
                if not caught:
                    raise HeadwaterException(spec.crashed)
            else:
                func = getattr(self.flow_cls, spec.step_name)
                func(flow, inputs) if self.node.takes_inputs else func(flow)
            for deco in decorators:
                deco.task_post_step(flow, ctx)
        except BaseException as exc:  # the step's failure is data, not a crash
            if isinstance(exc, KeyboardInterrupt):
                raise
            for deco in decorators:
                caught = deco.task_exception(flow, ctx, exc) or caught
            if not caught:
                error = exc
        finally:
            for deco in decorators:
                try:
                    deco.task_finished(flow, ctx, error is None)
                except Exception:
                    traceback.print_exc()

        result = TaskResult(ok=error is None)
        if error is None:
            try:
                self._resolve_transition(flow, result, caught)
            except HeadwaterException as exc:
                error, result.ok = exc, False
        unstored: SerializationError | None = None  # reported after the step's own error
        try:
            self._persist(flow, result, error)
        except SerializationError as exc:
            if error is None:
                error = exc
            else:
                unstored = exc
            result.ok = False
            self._persist(flow, result, error, user_artifacts=False)
        if error is not None:
            result.error = _describe(error)
            tb = user_frames(error.__traceback__)
            if isinstance(error, HeadwaterException) and tb is None:
                print(f"{error.headline}: {error}", file=sys.stderr)
            else:
                traceback.print_exception(type(error), error, tb, file=sys.stderr)
        if unstored is not None:
            result.error = (f"{result.error} (and {unstored.message}, so no artifact of this "
                            f"task was stored)")
            print(f"{unstored.headline}: {unstored}", file=sys.stderr)
        return result

    def _resolve_transition(self, flow: FlowSpec, result: TaskResult, caught: bool) -> None:
        node = self.node
        transition: Transition | None = flow._state().transition
        if node.kind == StepKind.END:
            return
        if transition is None:
            if caught and node.kind in (StepKind.LINEAR, StepKind.SPLIT):
                transition = Transition(list(node.out))  # the failure came before self.next
            elif node.kind == StepKind.LINEAR and _is_parallel_worker(self.graph, self.spec):
                # a worker of a @parallel gang goes where the gang goes, as in Metaflow: its
                # code may return early, leaving self.next to the control task (node 0)
                transition = Transition(list(node.out))
            else:
                raise InvalidNextError(f"step {node.name!r} finished without calling self.next()",
                                       f"call self.next(...) at the end of {node.name!r}")
        targets = transition.targets
        if transition.switch is not None and transition.condition is not None:
            value = getattr(flow, transition.condition, None)
            if str(value) not in transition.switch:
                raise InvalidNextError(
                    f"condition {transition.condition!r} of step {node.name!r} is {value!r}, "
                    f"which is not one of {', '.join(map(repr, transition.switch))}",
                    "set it to one of the keys of the dict given to self.next")
            targets = [transition.switch[str(value)]]
        if node.kind == StepKind.SWITCH:
            if len(targets) != 1 or targets[0] not in node.out:
                raise InvalidNextError(f"step {node.name!r} went to {targets}, expected one of "
                                       f"{node.out}")
        elif sorted(targets) != sorted(node.out) or transition.foreach != node.foreach_var:
            raise InvalidNextError(f"step {node.name!r} called self.next({', '.join(targets)}) "
                                   f"but its code declares self.next({', '.join(node.out)})",
                                   "self.next() must be called with literal step names")
        result.targets = targets
        if node.parallel:
            if transition.num_parallel is None:
                raise InvalidNextError(f"step {node.name!r} called self.next() without "
                                       f"num_parallel=, which its code declares",
                                       "pass num_parallel=N every time")
            result.foreach_count = transition.num_parallel
            return
        if node.kind == StepKind.FOREACH:
            var = node.foreach_var
            assert var is not None  # the graph names the variable of every foreach step
            if var not in flow._artifact_names() and not hasattr(flow, var):
                raise ForeachError(f"step {node.name!r} fans out over self.{var}, which is not set",
                                   f"assign self.{var} = [...] before self.next(..., foreach={var!r})")
            values = getattr(flow, var)
            try:
                count = len(values)
            except TypeError:
                try:
                    count = len(list(iter(values)))
                except TypeError:
                    raise ForeachError(
                        f"step {node.name!r} fans out over self.{var}, a "
                        f"{type(values).__name__}, which is not iterable",
                        f"make self.{var} a list, tuple or other sized iterable") from None
            if count == 0:
                raise ForeachError(f"step {node.name!r} fans out over self.{var}, which is empty",
                                   "a foreach needs at least one item; branch around it instead")
            result.foreach_count, result.foreach_var = count, var

    def _persist(self, flow: FlowSpec, result: TaskResult, error: BaseException | None,
                 user_artifacts: bool = True) -> None:
        spec = self.spec
        state = flow._state()
        values: dict[str, Any] = {}
        if user_artifacts:
            names = set(state.assigned) | set(flow._changed_in_place())
            values = {n: flow.__dict__[n] for n in names
                      if not n.startswith("_") and n in flow.__dict__}
        values["_success"] = error is None
        if error is not None:
            values["_exception"] = CaughtException.from_exception(error)
        infos = self.cas.save(values)
        artifacts = dict(state.artifacts)
        artifacts.update(infos)
        index = TaskIndex(artifacts, attempt_record.index_state(
            spec, error is None, result.targets, result.foreach_count, result.foreach_var,
            None if error is None else _describe(error)))
        attempt_record.record_finish(self.env, spec, index, error is None, self.store)


def _start_heartbeat(spec: TaskSpec, env: RunEnvironment) -> None:
    """Beat from a daemon thread while the task runs, if the provider wants it."""
    interval = env.metadata.TASK_HEARTBEAT_SECONDS
    if not interval:
        return
    import threading

    def beat() -> None:
        if spec.attempt == 0:
            # the task record was created moments ago with its heartbeat set: the first
            # beat would only repeat it (one request per task)
            time.sleep(interval)
        while True:
            try:
                env.metadata.heartbeat(spec.flow_name, spec.run_id, spec.step_name, spec.task_id)
            except Exception:  # a missed heartbeat must not fail the task
                pass
            time.sleep(interval)

    threading.Thread(target=beat, name="headwater-heartbeat", daemon=True).start()


def _is_parallel_worker(graph: "FlowGraph", spec: "TaskSpec") -> bool:
    """Whether this task is a worker (not node 0) of a ``@parallel`` step's gang: its
    innermost split is the ``num_parallel`` fan-out, and its index there is not 0."""
    if not graph.starts_gang(spec.step_name) or not spec.stack:
        return False
    return spec.stack[-1].index != 0


def _describe(exc: BaseException) -> str:
    if isinstance(exc, HeadwaterException):
        return f"{exc.headline}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
