"""The local scheduler: runs a flow's tasks in parallel, each in its own OS process.

Tasks are started with ``fork()`` from this already-warm process (the flow module, the
runtime and the user's imports are loaded once), so starting a task costs a few
milliseconds instead of a fresh interpreter. Each task's stdout and stderr go through pipes
to the task's log files and, prefixed with ``[run/step/task]``, to the console. A task that
raises, calls ``os._exit`` or is killed only fails itself; the scheduler decides about
retries, ``@catch`` fallbacks and what runs next:

- linear and static branches start their successors; a foreach starts one task per item;
  a switch starts the branch the step chose;
- a join starts once every input it waits for has arrived (all branches of a static split,
  all tasks of a foreach, the one branch of a switch);
- in ``resume``, a task whose step is not rerun is cloned from the origin run (by reference).

Ctrl-C stops every task and leaves a run that ``resume`` can continue.
"""

from __future__ import annotations

import collections
import json
import os
import selectors
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .datastore.task_store import TaskDataStore, TaskIndex
from .exceptions import ForeachError
from .flowspec import SplitFrame
from .task import (InputRef, RunEnvironment, TaskResult, TaskRunner, TaskSpec, clone_task,
                   done_metadata)

if TYPE_CHECKING:
    from .flowspec import FlowSpec
    from .graph import FlowGraph

HEARTBEAT_SECONDS = 10.0
KILL_WAIT_SECONDS = 2.0


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
class PendingTask:
    spec: TaskSpec
    not_before: float = 0.0


@dataclass
class Worker:
    """A running task process and its pipes."""

    spec: TaskSpec
    pid: int
    pidfd: int | None
    result_fd: int
    streams: dict[int, str]  # fd -> "stdout" | "stderr"
    sinks: dict[str, "LogSink"]
    started: float
    deadline: float | None
    partial: dict[str, bytes] = field(default_factory=lambda: {"stdout": b"", "stderr": b""})


class LogSink:
    """One log stream of one task attempt: appended to a local file as it comes, stored in
    the datastore when the task ends (a rename-free no-op for the local datastore)."""

    def __init__(self, store: TaskDataStore, attempt: int, stream: str):
        self.store, self.attempt, self.stream = store, attempt, stream
        key = store.log_key(attempt, stream)
        path_for = getattr(store.backend, "file_path", None)
        if path_for is not None:
            self.path, self.upload = path_for(key), False
        else:
            import tempfile

            fd, self.path = tempfile.mkstemp(prefix="hw-log-")
            os.close(fd)
            self.upload = True
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.file = open(self.path, "ab", buffering=0)

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def close(self) -> None:
        self.file.close()
        if self.upload:
            with open(self.path, "rb") as f:
                self.store.save_log(self.attempt, self.stream, f.read())
            os.unlink(self.path)


class Console:
    """Where the scheduler talks to the user: task output with prefixes, progress, status."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._progress_shown = False

    def _clear_progress(self) -> None:
        if self._progress_shown:
            sys.stderr.write("\r\033[K")
            self._progress_shown = False

    def task_output(self, spec: TaskSpec, pid: int, stream: str, line: bytes) -> None:
        if self.quiet:
            return
        self._clear_progress()
        prefix = f"[{spec.run_id}/{spec.step_name}/{spec.task_id} (pid {pid})] "
        text = line.decode("utf-8", errors="replace")
        out = sys.stdout if stream == "stdout" else sys.stderr
        out.write(prefix + text + ("" if text.endswith("\n") else "\n"))
        out.flush()

    def status(self, message: str) -> None:
        self._clear_progress()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        sys.stderr.write(f"{stamp} {message}\n")
        sys.stderr.flush()

    def progress(self, step: str, done: int, total: int, running: int) -> None:
        if self.quiet:
            return
        text = f"  {step}: {done}/{total} tasks done, {running} running"
        if self.tty:
            sys.stderr.write("\r\033[K" + text)
            sys.stderr.flush()
            self._progress_shown = True
        elif done == total or done % max(1, total // 10) == 0:
            self.status(text.strip())


class LocalScheduler:
    """Executes one run of a flow on this machine."""

    def __init__(self, flow_cls: type["FlowSpec"], graph: "FlowGraph", env: RunEnvironment,
                 run: RunInfo, max_workers: int = 16, max_num_splits: int = 100,
                 origin: OriginRun | None = None, console: Console | None = None):
        self.flow_cls = flow_cls
        self.graph = graph
        self.env = env
        self.run = run
        self.max_workers = max(1, max_workers)
        self.max_num_splits = max_num_splits
        self.origin = origin
        self.console = console or Console()
        self.ready: collections.deque[PendingTask] = collections.deque()
        self.waiting: list[PendingTask] = []  # retries that must wait
        self.workers: dict[int, Worker] = {}  # pid -> worker
        self.arrivals: dict[tuple, dict[int, InputRef]] = {}
        self.steps_registered: set[str] = set()
        self.foreach_totals: dict[str, list[int]] = {}  # step -> [done, total]
        self.failure: str | None = None
        self.end_done = False
        self.selector = selectors.DefaultSelector()
        self._last_heartbeat = 0.0

    # --- task bookkeeping ----------------------------------------------------------------

    def _max_retries(self, step: str) -> int:
        return sum(d.retries() for d in self.graph[step].decorators)

    def _retry_delay(self, step: str) -> float:
        return max([d.retry_delay_seconds() for d in self.graph[step].decorators] + [0.0])

    def _timeout(self, step: str) -> float | None:
        limits = [t for t in (d.timeout_seconds() for d in self.graph[step].decorators) if t]
        return min(limits) if limits else None

    def queue(self, step: str, inputs: list[InputRef], stack: list[SplitFrame]) -> None:
        """Allocate a task of ``step`` and put it in line to run (or to be cloned)."""
        md, run = self.env.metadata, self.run
        if step not in self.steps_registered:
            md.register_step(run.flow_name, run.run_id, step, run.user)
            self.steps_registered.add(step)
        task = md.new_task(run.flow_name, run.run_id, step, run.user)
        spec = TaskSpec(flow_name=run.flow_name, run_id=run.run_id, step_name=step,
                        task_id=str(task["task_id"]), attempt=0, inputs=inputs, stack=stack,
                        max_retries=self._max_retries(step), user=run.user,
                        namespace=run.namespace, tags=run.tags,
                        origin_run_id=run.origin_run_id)
        self.ready.append(PendingTask(spec))
        if stack and stack[-1].kind == "foreach":
            self.foreach_totals.setdefault(step, [0, 0])[1] += 1

    def start(self, params_task: InputRef) -> bool:
        """Run the flow from its start step; returns True when the run succeeded."""
        self.queue("start", [params_task], [])
        return self._loop()

    # --- the loop ------------------------------------------------------------------------

    def _loop(self) -> bool:
        try:
            while True:
                self._launch_ready()
                if not self.workers and not self.ready and not self.waiting:
                    break
                self._wait_for_events()
                self._check_deadlines()
                self._heartbeat()
        except KeyboardInterrupt:
            self._kill_all()
            self.console.status(f"Run {self.run.flow_name}/{self.run.run_id} interrupted: "
                                f"stopped every task.")
            raise
        finally:
            self.selector.close()
        return self.failure is None and self.end_done

    def _launch_ready(self) -> None:
        now = time.monotonic()
        for pending in [p for p in self.waiting if p.not_before <= now]:
            self.waiting.remove(pending)
            self.ready.append(pending)
        while self.ready and self.failure is None:
            pending = self.ready[0]
            if self._try_clone(pending.spec):
                self.ready.popleft()
                continue
            if len(self.workers) >= self.max_workers:
                return
            self.ready.popleft()
            self._fork(pending.spec)
        if self.failure is not None:
            self.ready.clear()
            self.waiting.clear()

    def _wait_for_events(self) -> None:
        timeout = 1.0
        now = time.monotonic()
        for pending in self.waiting:
            timeout = min(timeout, max(0.0, pending.not_before - now))
        for worker in self.workers.values():
            if worker.deadline is not None:
                timeout = min(timeout, max(0.0, worker.deadline - now))
            if worker.pidfd is None:
                timeout = min(timeout, 0.02)  # no pidfd: poll for exits
        for key, _ in self.selector.select(timeout):
            kind, worker, stream = key.data
            if kind == "exit":
                self._reap(worker)
            else:
                self._read_stream(worker, key.fd, stream)
        for worker in [w for w in self.workers.values() if w.pidfd is None]:
            pid, status = os.waitpid(worker.pid, os.WNOHANG)
            if pid:
                self._reap(worker, status)

    # --- processes -----------------------------------------------------------------------

    def _fork(self, spec: TaskSpec) -> None:
        store = TaskDataStore(self.env.backend, spec.flow_name, spec.run_id, spec.step_name,
                              spec.task_id)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the task process
            code = 2
            try:
                os.setpgid(0, 0)  # Ctrl-C goes to the scheduler, which stops tasks itself
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                for fd in (out_r, err_r, res_r):
                    os.close(fd)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                os.close(out_w)
                os.close(err_w)
                sys.stdout.reconfigure(line_buffering=True)
                sys.stderr.reconfigure(line_buffering=True)
                result = TaskRunner(self.flow_cls, self.graph, spec, self.env).run()
                payload = json.dumps(result.to_json()).encode()
                os.write(res_w, payload)
                code = 0 if result.ok else 1
            except BaseException:
                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        for fd in (out_w, err_w, res_w):
            os.close(fd)
        try:
            pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
        except OSError:
            pidfd = None
        timeout = self._timeout(spec.step_name)
        now = time.monotonic()
        worker = Worker(spec=spec, pid=pid, pidfd=pidfd, result_fd=res_r,
                        streams={out_r: "stdout", err_r: "stderr"},
                        sinks={"stdout": LogSink(store, spec.attempt, "stdout"),
                               "stderr": LogSink(store, spec.attempt, "stderr")},
                        started=now, deadline=now + timeout if timeout else None)
        self.workers[pid] = worker
        for fd, stream in worker.streams.items():
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ, ("stream", worker, stream))
        if pidfd is not None:
            self.selector.register(pidfd, selectors.EVENT_READ, ("exit", worker, None))

    def _read_stream(self, worker: Worker, fd: int, stream: str) -> bool:
        """Read what is available now; returns False when nothing more is to be had now."""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return False
        if not data:
            self._close_stream(worker, fd, stream)
            return False
        worker.sinks[stream].write(data)
        self._emit(worker, stream, data)
        return True

    def _close_stream(self, worker: Worker, fd: int, stream: str) -> None:
        self.selector.unregister(fd)
        os.close(fd)
        del worker.streams[fd]
        self._emit(worker, stream, b"", final=True)

    def _emit(self, worker: Worker, stream: str, data: bytes, final: bool = False) -> None:
        buffered = worker.partial[stream] + data
        lines = buffered.split(b"\n")
        worker.partial[stream] = b"" if final else lines.pop()
        for line in lines:
            if line or not final:
                self.console.task_output(worker.spec, worker.pid, stream, line)

    def _reap(self, worker: Worker, status: int | None = None) -> None:
        if status is None:
            _, status = os.waitpid(worker.pid, 0)
        # The process is gone, so whatever it wrote is in the pipes: drain them. A
        # background process it started may hold them open, so stop at "nothing more now".
        for fd, stream in list(worker.streams.items()):
            while self._read_stream(worker, fd, stream):
                pass
            if fd in worker.streams:
                self._close_stream(worker, fd, stream)
        if worker.pidfd is not None:
            self.selector.unregister(worker.pidfd)
            os.close(worker.pidfd)
        payload = _read_all(worker.result_fd)
        os.close(worker.result_fd)
        for sink in worker.sinks.values():
            sink.close()
        del self.workers[worker.pid]
        result = TaskResult.from_json(json.loads(payload)) if payload else None
        if result is None:
            self._on_crash(worker.spec, _exit_reason(status))
        elif result.ok:
            self._on_success(worker.spec, result)
        else:
            self._on_failure(worker.spec, result.error or "failed")

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers.values()):
            if worker.deadline is not None and now >= worker.deadline:
                self.console.status(f"Task {_path(worker.spec)} exceeded its @timeout: killing it.")
                _kill_group(worker.pid)
                worker.deadline = None

    def _kill_all(self) -> None:
        for worker in list(self.workers.values()):
            _kill_group(worker.pid)
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        for worker in list(self.workers.values()):
            while time.monotonic() < deadline:
                pid, _ = os.waitpid(worker.pid, os.WNOHANG)
                if pid:
                    break
                time.sleep(0.01)
            for sink in worker.sinks.values():
                sink.close()
        self.workers.clear()

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_SECONDS:
            self._last_heartbeat = now
            try:
                self.env.metadata.heartbeat(self.run.flow_name, self.run.run_id)
            except Exception as exc:  # a missed heartbeat must not fail the run
                self.console.status(f"warning: heartbeat failed: {exc}")

    # --- outcomes ------------------------------------------------------------------------

    def _on_crash(self, spec: TaskSpec, reason: str) -> None:
        record_crash(spec, reason, self.env)
        if spec.crashed is None and spec.attempt >= spec.max_retries and any(
                d.name == "catch" for d in self.graph[spec.step_name].decorators):
            self.console.status(f"Task {_path(spec)} {reason}; running its @catch fallback.")
            self._requeue(spec, crashed=reason)
            return
        self._on_failure(spec, f"the task process {reason}")

    def _on_failure(self, spec: TaskSpec, error: str) -> None:
        if spec.attempt < spec.max_retries and spec.crashed is None:
            delay = self._retry_delay(spec.step_name)
            self.console.status(f"Task {_path(spec)} failed (attempt {spec.attempt + 1} of "
                                f"{spec.max_retries + 1}): {error}. Retrying"
                                + (f" in {delay:g} s." if delay else "."))
            self._requeue(spec, delay=delay)
            return
        if self.failure is None:
            self.failure = f"step {spec.step_name!r} (task {_path(spec)}) failed: {error}"
            self.console.status(f"Task {_path(spec)} failed: {error}")
            if self.workers:
                self.console.status("Stopping the other running tasks.")
                self._kill_all()

    def _requeue(self, spec: TaskSpec, delay: float = 0.0, crashed: str | None = None) -> None:
        new = TaskSpec(**{**spec.__dict__, "attempt": spec.attempt + 1, "crashed": crashed})
        self.waiting.append(PendingTask(new, time.monotonic() + delay))

    def _on_success(self, spec: TaskSpec, result: TaskResult) -> None:
        node = self.graph[spec.step_name]
        ref = InputRef(spec.step_name, spec.task_id, spec.attempt)
        stack = spec.stack
        if spec.step_name in self.foreach_totals:
            counts = self.foreach_totals[spec.step_name]
            counts[0] += 1
            if counts[1] >= 10:
                self.console.progress(spec.step_name, counts[0], counts[1], len(self.workers))
        if node.type == "end":
            self.end_done = True
        elif node.type == "foreach":
            count = result.foreach_count or 0
            if count > self.max_num_splits:
                self._fail_run(ForeachError(
                    f"the foreach in step {node.name!r} would start {count} tasks, more than "
                    f"--max-num-splits ({self.max_num_splits})",
                    f"raise the limit: run --max-num-splits {count}"))
                return
            for i in range(count):
                self._arrive(node.out[0], stack + [SplitFrame(node.name, "foreach", i, count,
                                                              result.foreach_var)], ref)
        elif node.type == "split":
            for i, target in enumerate(node.out):
                self._arrive(target, stack + [SplitFrame(node.name, "static", i,
                                                         len(node.out))], ref)
        elif node.type == "switch":
            # no frame: the one branch taken needs no join to wait for it (graph.py)
            self._arrive(result.targets[0], stack, ref)
        else:
            self._arrive(node.out[0], stack, ref)

    def _fail_run(self, exc: Exception) -> None:
        if self.failure is None:
            self.failure = str(exc)
            self.console.status(str(exc))
            self._kill_all()

    def _arrive(self, step: str, stack: list[SplitFrame], parent: InputRef) -> None:
        node = self.graph[step]
        if not node.is_join:
            self.queue(step, [parent], stack)
            return
        frame = stack[-1]
        key = (step, stack_key(stack[:-1]))
        inputs = self.arrivals.setdefault(key, {})
        inputs[frame.index] = parent
        if len(inputs) == frame.count:
            del self.arrivals[key]
            self.queue(step, [inputs[i] for i in sorted(inputs)], stack[:-1])

    # --- resume --------------------------------------------------------------------------

    def _try_clone(self, spec: TaskSpec) -> bool:
        origin = self.origin
        if origin is None or spec.step_name in origin.rerun or spec.attempt:
            return False
        found = origin.tasks.get((spec.step_name, stack_key(spec.stack)))
        if found is None:
            return False
        result = clone_task(spec, origin.run_id, found[0], found[1], self.env)
        self._on_success(spec, result)
        return True


def record_crash(spec: TaskSpec, reason: str, env: RunEnvironment) -> None:
    """Write what a task could not: a failed attempt with the reason as its exception."""
    from .datastore.artifacts import ContentAddressedStore
    from .decorators.catch import CaughtException

    store = TaskDataStore(env.backend, spec.flow_name, spec.run_id, spec.step_name, spec.task_id)
    if store.has_index(spec.attempt):
        return  # it got as far as persisting
    cas = ContentAddressedStore(env.backend, spec.flow_name)
    infos = cas.save({"_success": False,
                      "_exception": CaughtException("TaskCrashed", f"the task process {reason}",
                                                    "")})
    store.save_index(spec.attempt, TaskIndex(infos, {"ok": False, "stack": [
        f.to_json() for f in spec.stack]}))
    env.metadata.register_metadata(spec.flow_name, spec.run_id, spec.step_name, spec.task_id,
                                   spec.user, done_metadata(spec.attempt, False))


def _read_all(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def _exit_reason(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"was killed by signal {name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)} without reporting a result"


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
            return
        except (ProcessLookupError, PermissionError):
            continue


def _path(spec: TaskSpec) -> str:
    return f"{spec.run_id}/{spec.step_name}/{spec.task_id}"

