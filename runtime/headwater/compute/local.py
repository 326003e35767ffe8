"""Local compute: each task attempt in its own OS process on this machine.

Attempts are started with ``fork()`` from the already-warm scheduler process (the flow
module, the runtime and the user's imports are loaded once), so starting one costs a few
milliseconds instead of a fresh interpreter. Each attempt runs in its own process group; its
stdout and stderr come back through pipes, are appended to the attempt's log files
(``LogSink``) and reported as ``TaskOutput`` lines; its ``TaskResult`` comes through a third
pipe. An exit is seen through a pidfd in the same ``select`` as the pipes (polled with
``waitpid`` where pidfds do not exist).

An attempt that dies without a result (``os._exit``, ``kill -9``, a segfault) is reported
with the reason in one line, which also goes to its stderr log: ``killed by signal SIGSEGV
(11, segmentation fault)``. ``kill`` sends SIGTERM to the attempt's process group and SIGKILL
after ``KILL_GRACE_SECONDS``; ``kill_all`` does the same for every attempt and returns once
they are gone, their pipes drained and their log files closed.
"""

from __future__ import annotations

import faulthandler
import fcntl
import json
import os
import selectors
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import interrupts
from ..datastore.task_store import TaskDataStore
from ..log_times import LineClock
from .base import Compute, ComputeEvent, Stream, TaskExited, TaskKey, TaskOutput, task_key

if TYPE_CHECKING:
    from ..task import TaskRunner, TaskSpec

# After SIGTERM, how long an attempt's processes get to exit before SIGKILL.
KILL_GRACE_SECONDS = 2.0
# Without pidfds, how often exits are polled.
POLL_SECONDS = 0.02
# The result payload's field with the index the attempt stored (not part of TaskResult).
INDEX_FIELD = "_index"


class LogSink:
    """One log stream of one task attempt: appended to a local file as it comes, with the
    time of each line in its sidecar (``log_times.py``); stored in the datastore when the
    attempt ends (nothing to upload for the local datastore)."""

    def __init__(self, store: TaskDataStore, attempt: int, stream: str):
        self.store, self.attempt, self.stream = store, attempt, stream
        self.clock = LineClock()
        keys = (store.log_key(attempt, stream), store.log_times_key(attempt, stream))
        in_place = [store.backend.file_path(key) for key in keys]
        if all(path is not None for path in in_place):
            self.paths, self.upload = [path for path in in_place if path is not None], False
        else:
            self.paths, self.upload = [], True
            for _ in keys:
                fd, path = tempfile.mkstemp(prefix="hw-log-")
                os.close(fd)
                self.paths.append(path)
        os.makedirs(os.path.dirname(self.paths[0]), exist_ok=True)
        self.file, self.times = (open(path, "ab", buffering=0) for path in self.paths)

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.times.write(self.clock.stamps(data))

    def close(self) -> None:
        if self.file.closed:
            return
        self.file.close()
        self.times.close()
        if self.upload:
            with open(self.paths[0], "rb") as f:
                data = f.read()
            if data:  # a missing log reads as empty: a silent task costs no request
                with open(self.paths[1], "rb") as f:
                    self.store.save_log(self.attempt, self.stream, data, f.read())
            for path in self.paths:
                os.unlink(path)


@dataclass
class _Process:
    """A running attempt: its process, pipes and log files."""

    spec: "TaskSpec"
    key: TaskKey
    pid: int
    pidfd: int | None
    result_fd: int
    streams: dict[int, Stream]  # fd -> stream
    sinks: dict[Stream, LogSink]
    where: str
    partial: dict[Stream, bytes] = field(
        default_factory=lambda: {Stream.STDOUT: b"", Stream.STDERR: b""})
    kill_reason: str | None = None
    kill_after: float | None = None  # when SIGKILL follows the SIGTERM already sent


class LocalCompute(Compute):
    """Forked task processes on this machine."""

    name = "local"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.selector = selectors.DefaultSelector()
        self.processes: dict[TaskKey, _Process] = {}
        self.polled: list[_Process] = []  # processes without a pidfd
        self.events: list[ComputeEvent] = []

    @property
    def running(self) -> int:
        return len(self.processes)

    # --- starting ------------------------------------------------------------------------

    def start(self, spec: "TaskSpec", timeout: float | None) -> None:
        # ``timeout`` is enforced by the scheduler through ``kill``.
        ctx = self.ctx
        store = TaskDataStore(ctx.env.backend, spec.flow_name, spec.run_id, spec.step_name,
                              spec.task_id)
        sys.stdout.flush()
        sys.stderr.flush()
        # A Ctrl-C between the fork and the bookkeeping below would leave a child that
        # ``kill_all`` does not know (or, inside the fork's hooks, be lost): hold it till then.
        with interrupts.deferred():
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            res_r, res_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                self._child(spec, (out_r, err_r, res_r), out_w, err_w, res_w)
            for fd in (out_w, err_w, res_w):
                os.close(fd)
            try:
                # Also here, not only in the child: from now on the terminal's Ctrl-C does
                # not reach it and ``kill`` finds its group, however late the child runs.
                os.setpgid(pid, pid)
            except OSError:
                pass  # it already exec'd into its environment's python (it set it), or died
            try:
                pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
            except OSError:
                pidfd = None
            proc = _Process(spec=spec, key=task_key(spec), pid=pid, pidfd=pidfd,
                            result_fd=res_r, streams={out_r: Stream.STDOUT, err_r: Stream.STDERR},
                            sinks={Stream.STDOUT: LogSink(store, spec.attempt, "stdout"),
                                   Stream.STDERR: LogSink(store, spec.attempt, "stderr")},
                            where=f"pid {pid}")
            self.processes[proc.key] = proc
            for fd, stream in proc.streams.items():
                os.set_blocking(fd, False)
                self.selector.register(fd, selectors.EVENT_READ, (proc, stream))
            if pidfd is not None:
                self.selector.register(pidfd, selectors.EVENT_READ, (proc, None))
            else:
                self.polled.append(proc)

    def _child(self, spec: "TaskSpec", parent_ends: tuple[int, ...], out_w: int, err_w: int,
               res_w: int) -> None:
        """The task process: never returns. It starts with the scheduler's SIGINT handler,
        which only records a Ctrl-C here (``start`` forks inside ``interrupts.deferred``), so
        no KeyboardInterrupt can carry it out of this function into the scheduler's code."""
        code = 2
        try:
            os.setpgid(0, 0)  # Ctrl-C goes to the scheduler, which stops tasks itself
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            for fd in parent_ends:
                os.close(fd)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.close(out_w)
            os.close(err_w)
            _print_to_fds()
            faulthandler.enable()  # a segfault leaves the Python stack in the stderr log
            ctx = self.ctx
            from ..environments.task_environment import exec_step

            exec_step(ctx, spec, res_w)  # a step with an environment: never returns
            result = self.task_runner(spec).run()
            payload = json.dumps(result.to_json()).encode()
            # The index it stored goes back too, so the tasks forked next read it from
            # memory; only when it fits the pipe, which is read after this process exits.
            index = TaskDataStore(ctx.env.backend, spec.flow_name, spec.run_id,
                                  spec.step_name, spec.task_id).known_index(spec.attempt)
            if index is not None:
                with_index = json.dumps({**result.to_json(),
                                         INDEX_FIELD: index.decode()}).encode()
                if len(with_index) <= _pipe_capacity(res_w):
                    payload = with_index
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

    def task_runner(self, spec: "TaskSpec") -> "TaskRunner":
        """What runs the attempt in the forked process (``spin`` runs its own kind)."""
        from ..task import TaskRunner

        ctx = self.ctx
        return TaskRunner(ctx.flow_cls, ctx.graph, spec, ctx.env)

    # --- waiting -------------------------------------------------------------------------

    def wait(self, timeout: float) -> list[ComputeEvent]:
        if self.events:
            timeout = 0.0
        if self.polled:
            timeout = min(timeout, POLL_SECONDS)
        for proc in self.processes.values():
            if proc.kill_after is not None:
                timeout = min(timeout, max(0.0, proc.kill_after - time.monotonic()))
        for key, _ in self.selector.select(timeout):
            proc, stream = key.data
            if proc.key not in self.processes:
                continue  # reaped earlier in this batch
            if stream is None:
                self._reap(proc)
            else:
                self._read(proc, key.fd, stream)
        for proc in list(self.polled):
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                self._reap(proc, status)
        self._escalate()
        events, self.events = self.events, []
        return events

    def _read(self, proc: _Process, fd: int, stream: Stream) -> bool:
        """Read what is available now; False when nothing more is to be had now."""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return False
        if not data:
            self._close_stream(proc, fd, stream)
            return False
        proc.sinks[stream].write(data)
        buffered = proc.partial[stream] + data
        cut = buffered.rfind(b"\n") + 1
        proc.partial[stream] = buffered[cut:]
        if cut:
            self.events.append(TaskOutput(proc.key, stream, buffered[:cut], proc.where))
        return True

    def _close_stream(self, proc: _Process, fd: int, stream: Stream) -> None:
        self.selector.unregister(fd)
        os.close(fd)
        del proc.streams[fd]
        rest, proc.partial[stream] = proc.partial[stream], b""
        if rest:
            self.events.append(TaskOutput(proc.key, stream, rest, proc.where))

    def _drain(self, proc: _Process) -> None:
        """The process is gone, so whatever it wrote is in the pipes. A background process
        it started may hold them open: stop at "nothing more now"."""
        for fd, stream in list(proc.streams.items()):
            while self._read(proc, fd, stream):
                pass
            if fd in proc.streams:
                self._close_stream(proc, fd, stream)

    def _reap(self, proc: _Process, status: int | None = None) -> None:
        if status is None:
            _, status = os.waitpid(proc.pid, 0)
        self._drain(proc)
        payload = self._release(proc)
        result = None
        if payload:
            from ..task import TaskResult

            data = json.loads(payload)
            index = data.pop(INDEX_FIELD, None)
            if index is not None:
                spec = proc.spec
                TaskDataStore(self.ctx.env.backend, spec.flow_name, spec.run_id,
                              spec.step_name, spec.task_id).remember_index(spec.attempt,
                                                                           index.encode())
            result = TaskResult.from_json(data)
        reason = None
        if result is None:
            reason = proc.kill_reason or exit_reason(status)
            line = f"Task process {reason}.\n".encode()
            proc.sinks[Stream.STDERR].write(line)
            self.events.append(TaskOutput(proc.key, Stream.STDERR, line, proc.where))
        for sink in proc.sinks.values():
            sink.close()
        self.events.append(TaskExited(proc.key, result, reason))

    def _release(self, proc: _Process) -> bytes:
        """Forget the process: close its exit and result descriptors; returns the result
        payload it wrote, if any."""
        del self.processes[proc.key]
        if proc.pidfd is not None:
            self.selector.unregister(proc.pidfd)
            os.close(proc.pidfd)
        else:
            self.polled.remove(proc)
        payload = _read_all(proc.result_fd)
        os.close(proc.result_fd)
        return payload

    # --- stopping ------------------------------------------------------------------------

    def kill(self, key: TaskKey, reason: str) -> None:
        proc = self.processes.get(key)
        if proc is None or proc.kill_after is not None:
            return
        proc.kill_reason = reason
        proc.kill_after = time.monotonic() + KILL_GRACE_SECONDS
        _signal_group(proc.pid, signal.SIGTERM)

    def _escalate(self) -> None:
        now = time.monotonic()
        for proc in self.processes.values():
            if proc.kill_after is not None and now >= proc.kill_after:
                _signal_group(proc.pid, signal.SIGKILL)

    def kill_all(self, reason: str) -> None:
        """Stop every attempt and forget them: no events follow for them."""
        # Ctrl-C held for these few seconds: a second one here would leave tasks running.
        with interrupts.deferred():
            self._stop_all()

    def _stop_all(self) -> None:
        procs = list(self.processes.values())
        for proc in procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        left = list(procs)
        while left and time.monotonic() < deadline:
            left = [p for p in left if not _reaped(p.pid, os.WNOHANG)]
            if left:
                time.sleep(0.01)
        for proc in left:
            _signal_group(proc.pid, signal.SIGKILL)
            _reaped(proc.pid, 0)
        for proc in procs:
            # Unregister the pipes before closing the log files they feed, so no read can
            # reach a closed file (issue 8 item 13).
            for fd in list(proc.streams):
                self.selector.unregister(fd)
                os.close(fd)
            proc.streams.clear()
            self._release(proc)
            for sink in proc.sinks.values():
                sink.close()
        self.events = [e for e in self.events if e.key not in {p.key for p in procs}]

    def close(self) -> None:
        self.selector.close()


def exit_reason(status: int) -> str:
    """Why a process that reported no result ended, in one line."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"was killed by signal {signal_description(sig)}"
    return f"exited with code {os.waitstatus_to_exitcode(status)} without reporting a result"


def signal_description(sig: int) -> str:
    """``SIGSEGV (11, segmentation fault)``."""
    try:
        name = signal.Signals(sig).name
    except ValueError:
        return str(sig)
    text = signal.strsignal(sig) or ""
    text = text.split(":")[0].lower()
    return f"{name} ({sig}, {text})" if text else f"{name} ({sig})"


def _signal_group(pid: int, sig: int) -> None:
    for send in (os.killpg, os.kill):
        try:
            send(pid, sig)
            return
        except (ProcessLookupError, PermissionError):
            continue


def _pipe_capacity(fd: int) -> int:
    """Bytes a write to the empty pipe ``fd`` takes without blocking."""
    try:
        return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
    except (AttributeError, OSError):  # not Linux: a page always fits
        return 4096


def _reaped(pid: int, options: int) -> bool:
    """``waitpid``: True once the process is gone. An interrupt inside ``_reap`` can leave a
    process that was reaped already among the running ones: that one is gone too."""
    try:
        return os.waitpid(pid, options)[0] != 0
    except ChildProcessError:
        return True


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


def _print_to_fds() -> None:
    """Point ``sys.stdout``/``sys.stderr`` at fds 1 and 2 (the pipes), line-buffered. In a
    process that replaced them (pytest's capture, a notebook's streams) they write elsewhere,
    so a task forked from there would print past its log."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = getattr(sys, name)
        try:
            ours = stream.fileno() == fd
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
            ours = False
        if ours:
            stream.reconfigure(line_buffering=True)
        else:
            setattr(sys, name, open(fd, "w", buffering=1, closefd=False,
                                    errors="backslashreplace"))
