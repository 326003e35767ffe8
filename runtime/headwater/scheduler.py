"""The scheduler: drives one run from its start step to its end.

It joins three parts that each know one thing: the run state (``run_state.py``) decides what
runs next from each finished attempt; compute backends (``compute/``) run attempts, locally
in forked processes or remotely, and report their output and exits as events; the attempt
record (``attempt.py``) holds what each attempt produced. The scheduler itself only moves
tasks between them: it starts the specs the run state returns (after a retry's delay; a
resume clone is recorded at once), keeps at most ``max_workers`` attempts running, waits for
events across the backends in use, kills attempts past their ``@timeout``, prints the console,
and beats the run's heartbeat.

A step runs on the backend its decorators name (``StepDecorator.compute_backend``), else
locally. Ctrl-C stops every attempt and leaves a run that ``resume`` can continue.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import attempt as attempt_record
from . import interrupts
from .compute import COMPUTE_BACKENDS
from .compute.base import Compute, ComputeContext, TaskExited, TaskKey, TaskOutput, task_key
from .console import Console
from .decorators.base import DecoratorError
from .registry import lookup
from .run_state import NextTask, OriginRun, RunInfo, RunState, Verdict, task_path
from .task import InputRef, TaskResult, TaskSpec

if TYPE_CHECKING:
    from .graph import FlowGraph

HEARTBEAT_SECONDS = 10.0
LOCAL = "local"
# Longest wait on one backend while others also have attempts running.
REMOTE_POLL_SECONDS = 0.05

__all__ = ["Console", "OriginRun", "RunInfo", "Scheduler", "step_backends", "check_backends"]


def step_backends(graph: "FlowGraph") -> dict[str, str]:
    """Step -> the compute backend its attempts run on."""
    out = {}
    for node in graph:
        names = {d.compute_backend() for d in node.decorators} - {None}
        if len(names) > 1:
            raise DecoratorError(f"step {node.name!r} asks for more than one compute backend "
                                 f"({', '.join(sorted(names))})", "keep one of them")
        out[node.name] = names.pop() if names else LOCAL
    return out


def backend_class(name: str) -> type[Compute]:
    return lookup(COMPUTE_BACKENDS, name, "compute backend",
                  "a step decorator's compute_backend() must return one of them")


def check_backends(ctx: ComputeContext) -> None:
    """Ask every backend the run will use whether it can serve it (before the run exists)."""
    by_backend: dict[str, list[str]] = {}
    for step, name in step_backends(ctx.graph).items():
        by_backend.setdefault(name, []).append(step)
    for name, steps in by_backend.items():
        backend_class(name).check(ctx, steps)


@dataclass
class Running:
    spec: TaskSpec
    backend: Compute
    deadline: float | None


class Scheduler:
    """Executes one run of a flow."""

    def __init__(self, ctx: ComputeContext, run: RunInfo, max_workers: int = 16,
                 max_num_splits: int = 100, origin: OriginRun | None = None,
                 console: Console | None = None, backends: dict[str, Compute] | None = None):
        """``backends``: instances to use instead of building them from the registry
        (name -> backend; tests configure one this way); the scheduler closes them."""
        self.ctx = ctx
        self.env = ctx.env
        self.run = run
        self.max_workers = max(1, max_workers)
        self.console = console or Console()
        self.state = RunState(ctx.graph, run, self._new_task_id, max_num_splits, origin)
        self.backend_of = step_backends(ctx.graph)
        self.backends: dict[str, Compute] = dict(backends or {})
        self.ready: collections.deque[NextTask] = collections.deque()
        self.waiting: list[tuple[float, NextTask]] = []  # retries that must wait
        self.running: dict[TaskKey, Running] = {}
        self.steps_registered: set[str] = set()
        self.timeouts: dict[str, float | None] = {}
        self._last_heartbeat = 0.0

    @property
    def failure(self) -> str | None:
        return self.state.failure

    def _new_task_id(self, step: str) -> str:
        md, run = self.env.metadata, self.run
        if step not in self.steps_registered:
            md.register_step(run.flow_name, run.run_id, step, run.user)
            self.steps_registered.add(step)
        return str(md.new_task(run.flow_name, run.run_id, step, run.user)["task_id"])

    def _timeout(self, step: str) -> float | None:
        if step not in self.timeouts:
            limits = [t for t in (d.timeout_seconds() for d in self.ctx.graph[step].decorators)
                      if t]
            self.timeouts[step] = min(limits) if limits else None
        return self.timeouts[step]

    def _backend(self, step: str) -> Compute:
        name = self.backend_of[step]
        backend = self.backends.get(name)
        if backend is None:
            backend = self.backends[name] = backend_class(name)(self.ctx)
        return backend

    # --- the loop ------------------------------------------------------------------------

    def start(self, parameters: InputRef) -> bool:
        """Run the flow from its start step; returns True when the run succeeded."""
        self.ready.extend(self.state.start(parameters))
        try:
            with interrupts.watched():
                try:
                    self._loop()
                except KeyboardInterrupt:
                    interrupts.acknowledge()
                    self._kill_all("the run was interrupted")
                    self.console.status(f"Run {self.run.flow_name}/{self.run.run_id} "
                                        f"interrupted: stopped every task.")
                    raise
        finally:
            for backend in self.backends.values():
                backend.close()
        return self.state.succeeded

    def _loop(self) -> None:
        while True:
            interrupts.check()  # a Ctrl-C that Python swallowed (see interrupts.py)
            self._launch_ready()
            if not self.running and not self.ready and not self.waiting:
                return
            self._wait_for_events()
            self._check_deadlines()
            self._heartbeat()

    def _launch_ready(self) -> None:
        if self.waiting:
            now = time.monotonic()
            due = [w for w in self.waiting if w[0] <= now]
            if due:
                self.waiting = [w for w in self.waiting if w[0] > now]
                self.ready.extend(task for _, task in due)
        while self.ready and self.failure is None:
            task = self.ready[0]
            if task.clone is not None:
                self.ready.popleft()
                origin = self.state.origin
                assert origin is not None  # only a resumed run has clones
                result = attempt_record.record_clone(self.env, task.spec, origin.run_id,
                                                     *task.clone)
                self._finished(task.spec, result, None)
                continue
            if len(self.running) >= self.max_workers:
                return
            self.ready.popleft()
            self._start(task.spec)
        if self.failure is not None:
            self.ready.clear()
            self.waiting.clear()

    def _start(self, spec: TaskSpec) -> None:
        timeout = self._timeout(spec.step_name)
        backend = self._backend(spec.step_name)
        backend.start(spec, timeout)
        self.running[task_key(spec)] = Running(
            spec, backend, time.monotonic() + timeout if timeout else None)

    def _wait_for_events(self) -> None:
        timeout = 1.0
        now = time.monotonic()
        for not_before, _ in self.waiting:
            timeout = min(timeout, max(0.0, not_before - now))
        for active_run in self.running.values():
            if active_run.deadline is not None:
                timeout = min(timeout, max(0.0, active_run.deadline - now))
        # One backend busy: block on it. Several: a short wait on the first (local, which has
        # the most events), then collect what the others have without waiting.
        # Busy means "has attempts the scheduler has not seen end", not the backend's own
        # count: an attempt that already ended is still waiting in the backend's events.
        busy = {id(run.backend): run.backend for run in self.running.values()}
        active = sorted(busy.values(), key=lambda b: b.name != LOCAL)
        events = []
        if not active:
            time.sleep(timeout)  # nothing runs: a retry's delay
        elif len(active) == 1:
            events = active[0].wait(timeout)
        else:
            timeout = min(timeout, REMOTE_POLL_SECONDS)
            for backend in active:
                events.extend(backend.wait(timeout))
                timeout = 0.0
        for event in events:
            run = self.running.get(event.key)
            if run is None:
                continue  # stopped with the others after a failure
            if isinstance(event, TaskOutput):
                spec = run.spec
                self.console.task_output(spec.run_id, spec.step_name, spec.task_id,
                                         event.where, event.stream, event.data)
            elif isinstance(event, TaskExited):
                del self.running[event.key]
                self._exited(run.spec, event.result, event.reason)

    def _exited(self, spec: TaskSpec, result: TaskResult | None, reason: str | None) -> None:
        if result is None:
            reason = reason or "ended without recording a result"
            attempt_record.record_crash(self.env, spec, reason)
        self._finished(spec, result, reason)

    def _finished(self, spec: TaskSpec, result: TaskResult | None, reason: str | None) -> None:
        outcome = self.state.finished(spec, result, reason)
        verdict = outcome.verdict
        if verdict is Verdict.SUCCEEDED:
            progress = self.state.progress(spec.step_name)
            if progress is not None and progress[1] >= 10:
                self.console.progress(spec.step_name, progress[0], progress[1],
                                      len(self.running))
        elif verdict is Verdict.RETRY:
            self.console.status(f"Task {task_path(spec)} failed (attempt {spec.attempt + 1} of "
                                f"{spec.max_retries + 1}): {outcome.error}. Retrying"
                                + (f" in {outcome.delay:g} s." if outcome.delay else "."))
        elif verdict is Verdict.FALLBACK:
            self.console.status(f"Task {task_path(spec)} {outcome.error}; running its "
                                f"@catch fallback.")
        elif verdict is Verdict.FAILED:
            self.console.status(f"Task {task_path(spec)} failed: {outcome.error}")
            if self.running:
                self.console.status("Stopping the other running tasks.")
                self._kill_all("the run failed")
        elif verdict is Verdict.INVALID:
            self.console.status(str(outcome.error))  # INVALID outcomes always say why
            self._kill_all("the run failed")
        for task in outcome.next:
            if task.delay > 0:
                self.waiting.append((time.monotonic() + task.delay, task))
            else:
                self.ready.append(task)

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        for key, run in list(self.running.items()):
            if run.deadline is not None and now >= run.deadline:
                limit = self._timeout(run.spec.step_name)
                self.console.status(f"Task {task_path(run.spec)} exceeded its @timeout: "
                                    f"killing it.")
                run.backend.kill(key, f"was killed after running past its @timeout "
                                      f"({limit:g} s)")
                run.deadline = None

    def _kill_all(self, reason: str) -> None:
        for backend in self.backends.values():
            if backend.running:
                backend.kill_all(reason)
        self.running.clear()

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_SECONDS:
            self._last_heartbeat = now
            try:
                self.env.metadata.heartbeat(self.run.flow_name, self.run.run_id)
            except Exception as exc:  # a missed heartbeat must not fail the run
                self.console.status(f"warning: heartbeat failed: {exc}")
