"""The run state: from each finished task attempt, what runs next. Pure: no processes, no I/O.

The scheduler feeds every outcome in (``RunState.finished``) and gets back the task specs to
start (``NextTask``), each with the delay before it may start and, in ``resume``, the origin
task it is a clone of. The rules:

- linear steps and static branches start their successors; a foreach starts one task per
  item (at most ``max_num_splits``); a switch starts the branch the step chose; a
  recursive switch going back to an earlier step starts it again, at most
  ``MAX_LOOP_ITERATIONS`` times per place, after which the run fails;
- a join starts once every input it waits for has arrived (all branches of a static split,
  all tasks of a foreach); the step after a switch's branches follows the one branch taken
  at once, with the same split stack as the switch;
- a failed attempt is retried while the step's decorators grant attempts (``retries``), after
  their ``retry_delay_seconds``; after the last one the run fails;
- an attempt that died without recording a result (killed, ``os._exit``, a segfault) is
  retried the same way; after the last one, a decorator that ``recovers_crashes`` (``@catch``)
  gets one more attempt, run as the fallback (``TaskSpec.crashed`` set);
- in ``resume``, a task whose step is not rerun and whose place (step and split stack) the
  origin run completed is a clone of the origin's task instead of a new attempt (never for
  steps on or after a recursive switch's loop, which have many tasks in one place).

Task ids come from an injected callable (the metadata provider allocates them), so the state
itself can be driven by unit tests in milliseconds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

from .exceptions import ForeachError
from .flowspec import SplitFrame
from .graph import SplitKind, StepKind
from .task import InputRef, TaskResult, TaskSpec

if TYPE_CHECKING:
    from .graph import FlowGraph

# How often a recursive switch may go back before the run fails as a runaway loop.
MAX_LOOP_ITERATIONS = 1000


def stack_key(stack: list[SplitFrame]) -> tuple:
    """Identifies a task's place among splits (which branch / item of each)."""
    return tuple((f.step, f.index) for f in stack)


@dataclass
class RunInfo:
    """The run being executed."""

    flow_name: str
    run_id: str
    user: str
    namespace: str | None
    tags: list[str]
    origin_run_id: str | None = None


@dataclass
class OriginRun:
    """For ``resume``: the earlier run's successful tasks and the steps to run again."""

    run_id: str
    tasks: dict[tuple[str, tuple], tuple[str, int]]  # (step, stack key) -> (task, attempt)
    rerun: set[str]


@dataclass
class NextTask:
    """A task attempt to start: after ``delay`` seconds, or, when ``clone`` names an origin
    task ``(task_id, attempt)``, recorded as a clone of it instead of being run."""

    spec: TaskSpec
    delay: float = 0.0
    clone: tuple[str, int] | None = None


class Verdict(str, enum.Enum):
    """What a finished attempt means for the run."""

    SUCCEEDED = "succeeded"
    RETRY = "retry"  # failed or crashed, another attempt follows
    FALLBACK = "fallback"  # every attempt crashed; a decorator recovers it in one more attempt
    FAILED = "failed"  # failed for good: the run fails
    INVALID = "invalid"  # succeeded, but what it asks for cannot run (too many splits)
    IGNORED = "ignored"  # the run had failed already


@dataclass
class Outcome:
    verdict: Verdict
    next: list[NextTask] = field(default_factory=list)
    error: str | None = None  # one line: why the attempt failed or the run cannot go on
    delay: float = 0.0  # for RETRY: seconds before the next attempt


@dataclass(frozen=True)
class StepPolicy:
    """What a step's decorators say about attempts (read once per step)."""

    retries: int
    retry_delay: float
    recovers_crashes: bool


class RunState:
    """The progress of one run: arrivals at joins, foreach counts, the failure, the end."""

    def __init__(self, graph: "FlowGraph", run: RunInfo, new_task_id: Callable[[str], str],
                 max_num_splits: int = 100, origin: OriginRun | None = None):
        self.graph = graph
        self.run = run
        self.new_task_id = new_task_id
        self.max_num_splits = max_num_splits
        self.origin = origin
        self.arrivals: dict[tuple, dict[int, InputRef]] = {}
        self.foreach_counts: dict[str, list[int]] = {}  # step -> [done, total]
        self.policies: dict[str, StepPolicy] = {}
        self.failure: str | None = None
        self.end_done = False
        self.max_loop_iterations = MAX_LOOP_ITERATIONS
        self.loop_counts: dict[tuple, int] = {}  # (recursive switch, stack key) -> times back

    @property
    def succeeded(self) -> bool:
        return self.failure is None and self.end_done

    def policy(self, step: str) -> StepPolicy:
        found = self.policies.get(step)
        if found is None:
            decorators = self.graph[step].decorators
            found = self.policies[step] = StepPolicy(
                retries=sum(d.retries() for d in decorators),
                retry_delay=max([d.retry_delay_seconds() for d in decorators] + [0.0]),
                recovers_crashes=any(d.recovers_crashes() for d in decorators))
        return found

    def progress(self, step: str) -> tuple[int, int] | None:
        """(done, total) of a step inside a foreach, None for other steps."""
        counts = self.foreach_counts.get(step)
        return (counts[0], counts[1]) if counts else None

    # --- the rules -----------------------------------------------------------------------

    def start(self, parameters: InputRef) -> list[NextTask]:
        """The first task: ``start``, reading the run's parameters task."""
        return [self._task("start", [parameters], [])]

    def finished(self, spec: TaskSpec, result: TaskResult | None,
                 reason: str | None = None) -> Outcome:
        """An attempt ended with ``result`` (None: it recorded nothing, ``reason`` says why)."""
        if self.failure is not None:
            return Outcome(Verdict.IGNORED)
        if result is None:
            reason = reason or "ended without recording a result"
            if (spec.crashed is None and spec.attempt >= spec.max_retries
                    and self.policy(spec.step_name).recovers_crashes):
                return Outcome(Verdict.FALLBACK, [NextTask(self._next_attempt(spec, reason))],
                               error=reason)
            return self._failed(spec, f"the task process {reason}")
        if not result.ok:
            return self._failed(spec, result.error or "failed")
        return self._succeeded(spec, result)

    def _failed(self, spec: TaskSpec, error: str) -> Outcome:
        if spec.attempt < spec.max_retries and spec.crashed is None:
            delay = self.policy(spec.step_name).retry_delay
            return Outcome(Verdict.RETRY, [NextTask(self._next_attempt(spec), delay)],
                           error=error, delay=delay)
        self.failure = f"step {spec.step_name!r} (task {task_path(spec)}) failed: {error}"
        return Outcome(Verdict.FAILED, error=error)

    def _succeeded(self, spec: TaskSpec, result: TaskResult) -> Outcome:
        node = self.graph[spec.step_name]
        ref = InputRef(spec.step_name, spec.task_id, spec.attempt)
        stack = spec.stack
        counts = self.foreach_counts.get(spec.step_name)
        if counts is not None:
            counts[0] += 1
        out: list[NextTask] = []
        if node.kind == StepKind.END:
            self.end_done = True
        elif node.kind == StepKind.FOREACH:
            count = result.foreach_count or 0
            if count > self.max_num_splits:
                exc = ForeachError(
                    f"the foreach in step {node.name!r} would start {count} tasks, more than "
                    f"--max-num-splits ({self.max_num_splits})",
                    f"raise the limit: run --max-num-splits {count}")
                self.failure = str(exc)
                return Outcome(Verdict.INVALID, error=str(exc))
            for i in range(count):
                self._arrive(out, node.out[0],
                             stack + [SplitFrame(node.name, SplitKind.FOREACH, i, count,
                                                 result.foreach_var)], ref)
        elif node.kind == StepKind.SPLIT:
            for i, target in enumerate(node.out):
                self._arrive(out, target,
                             stack + [SplitFrame(node.name, SplitKind.STATIC, i,
                                                 len(node.out))], ref)
        elif node.kind == StepKind.SWITCH:
            target = result.targets[0]
            if target in node.loops_to:  # a recursive switch going round again
                key = (node.name, stack_key(stack))
                self.loop_counts[key] = self.loop_counts.get(key, 0) + 1
                if self.loop_counts[key] > self.max_loop_iterations:
                    self.failure = (
                        f"step {node.name!r} went back to {target!r} more than "
                        f"{self.max_loop_iterations} times: its condition never chose the "
                        f"way out of the loop")
                    return Outcome(Verdict.INVALID, error=self.failure)
            # no frame: the one branch taken needs no join to wait for it (graph.py)
            self._arrive(out, target, stack, ref)
        else:
            self._arrive(out, node.out[0], stack, ref)
        return Outcome(Verdict.SUCCEEDED, out)

    def _arrive(self, out: list[NextTask], step: str, stack: list[SplitFrame],
                parent: InputRef) -> None:
        target = self.graph[step]
        if not target.is_join or target.join_kind == SplitKind.SWITCH:
            out.append(self._task(step, [parent], stack))
            return
        frame = stack[-1]
        key = (step, stack_key(stack[:-1]))
        inputs = self.arrivals.setdefault(key, {})
        inputs[frame.index] = parent
        if len(inputs) == frame.count:
            del self.arrivals[key]
            out.append(self._task(step, [inputs[i] for i in sorted(inputs)], stack[:-1]))

    def _task(self, step: str, inputs: list[InputRef], stack: list[SplitFrame]) -> NextTask:
        run = self.run
        spec = TaskSpec(flow_name=run.flow_name, run_id=run.run_id, step_name=step,
                        task_id=self.new_task_id(step), attempt=0, inputs=inputs, stack=stack,
                        max_retries=self.policy(step).retries, user=run.user,
                        namespace=run.namespace, tags=run.tags,
                        origin_run_id=run.origin_run_id)
        if stack and stack[-1].kind == "foreach":
            self.foreach_counts.setdefault(step, [0, 0])[1] += 1
        return NextTask(spec, clone=self._clone_source(spec))

    def _clone_source(self, spec: TaskSpec) -> tuple[str, int] | None:
        origin = self.origin
        if (origin is None or spec.step_name in origin.rerun
                or spec.step_name in self.graph.loop_steps):  # one place, many tasks
            return None
        return origin.tasks.get((spec.step_name, stack_key(spec.stack)))

    @staticmethod
    def _next_attempt(spec: TaskSpec, crashed: str | None = None) -> TaskSpec:
        return replace(spec, attempt=spec.attempt + 1, crashed=crashed)


def task_path(spec: TaskSpec) -> str:
    return f"{spec.run_id}/{spec.step_name}/{spec.task_id}"
