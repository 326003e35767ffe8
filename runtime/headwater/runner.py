"""Running flows from Python: ``Runner`` (a flow file) and ``NBRunner`` (a flow class defined
in a notebook), with the Metaflow API users know.

    with Runner("flow.py").run(alpha=0.5) as running:
        print(running.status, running.run.data.total)

Each run is ``python flow.py run`` in a child process (a crash or ``os._exit`` in a flow
never takes the caller down), started directly, with no wrapper process and no polling:
the child writes the run id to a file the moment the run exists, and its output goes to two
files the caller reads (``.stdout``/``.stderr``) or streams (``stream_log``). The Client that
reads the result back is loaded in a thread while the child runs, so what the Runner adds to
the child's lifetime is a few milliseconds (``bench/runner_bench.py`` measures it against
Metaflow's Runner).
"""

from __future__ import annotations

import ast
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator

from .exceptions import HeadwaterException
from .status import Status

if TYPE_CHECKING:
    from .client import Run, Task


# Reading the run back is prepared (``_warm_client``, in a thread) once the child has run
# this long: by then the child is past its own interpreter start, so the two do not compete
# for CPU and disk while it starts. Prepared this way, reading the result after the child
# exits takes ~2 ms instead of ~15 ms (``bench/runner_bench.py``).
WARM_AFTER_SECONDS = 0.05
# How often a streamed log is read while the child runs (its exit is noticed at once).
STREAM_POLL_SECONDS = 0.05


class RunnerError(HeadwaterException):
    headline = "Runner error"


def _option(name: str, value: Any) -> list[str]:
    """``alpha=0.5`` -> ``--alpha 0.5``; ``flag=True`` -> ``--flag``; lists repeat."""
    flag = "--" + name.replace("_", "-")
    if value is True:
        return [flag]
    if value is False or value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [part for item in value for part in (flag, str(item))]
    return [flag, str(value)]


def flow_name_of(path: str) -> str:
    """The name of the flow class a flow file runs (the class its ``__main__`` block
    instantiates, else the only class deriving from FlowSpec)."""
    tree = ast.parse(Path(path).read_text(), filename=path)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    for node in tree.body:
        if isinstance(node, ast.If):
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) \
                        and call.func.id in classes:
                    return call.func.id
    flows = [n.name for n in tree.body if isinstance(n, ast.ClassDef)
             and any(getattr(b, "id", getattr(b, "attr", "")) == "FlowSpec" for b in n.bases)]
    if len(flows) == 1:
        return flows[0]
    raise RunnerError(f"cannot tell which flow {path} runs",
                      "end the file with: if __name__ == '__main__': MyFlow()")


class ExecutingRun:
    """A run started by a ``Runner``: its process, its output, and (once it exists) its
    Client ``Run``."""

    def __init__(self, runner: "Runner", process: subprocess.Popen, workdir: str):
        """Made by ``Runner``, never directly."""
        self.runner = runner
        self.process = process
        self._workdir = workdir
        self._run: "Run | None" = None
        self._warming = threading.Timer(WARM_AFTER_SECONDS, _warm_client)
        self._warming.daemon = True
        self._warming.start()

    @classmethod
    def command_args(cls, workdir: str) -> list[str]:
        """What the command is told so this object can find what it started."""
        return ["--run-id-file", os.path.join(workdir, "run-id")]

    # --- context manager: the run is waited for on exit ----------------------------------

    def __enter__(self) -> "ExecutingRun":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.kill()
        self.wait()

    async def __aenter__(self) -> "ExecutingRun":
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.kill()
        await self.async_wait()

    # --- state ---------------------------------------------------------------------------

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    @property
    def status(self) -> Status:
        """``running``, ``successful`` or ``failed`` (a ``str``, as Metaflow's)."""
        code = self.process.poll()
        return Status.RUNNING if code is None else Status.ended(code == 0)

    @property
    def run_id(self) -> str | None:
        path = os.path.join(self._workdir, "run-id")
        try:
            with open(path) as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None

    @property
    def run(self) -> "Run":
        """The Client ``Run`` (available as soon as the run has been created)."""
        if self._run is None:
            run_id = self.run_id
            if run_id is None:
                raise self._not_started("the flow", "a run", ".run once .run_id is set")
            self._client_ready()
            from .client import Run

            self._run = Run(f"{self.runner.flow_name}/{run_id}", _namespace_check=False)
        return self._run

    def _not_started(self, who: str, what: str, when: str) -> RunnerError:
        """Why ``what`` cannot be read yet: the child ended without it, or is still going."""
        if self.process.poll() is not None:
            return RunnerError(f"{who} exited ({self.process.returncode}) before it started "
                               f"{what}: {self.stderr.strip()[-500:]}",
                               "see .stderr for the whole message")
        return RunnerError(f"{who} has not started {what} yet",
                           f"wait() for it, or read {when}")

    def _client_ready(self) -> None:
        """Let the thread preparing the Client finish (or never begin) before reading."""
        self._warming.cancel()
        self._warming.join()

    def _read(self, stream: str) -> str:
        with open(self._log_path(stream), "rb") as f:
            return f.read().decode("utf-8", errors="replace")

    @property
    def stdout(self) -> str:
        return self._read("stdout")

    @property
    def stderr(self) -> str:
        return self._read("stderr")

    # --- waiting -------------------------------------------------------------------------

    def wait(self, timeout: float | None = None, stream: str | None = None) -> "ExecutingRun":
        """Block until the run ends (``stream="stdout"``/``"stderr"`` echoes it meanwhile);
        ``subprocess.TimeoutExpired`` if it is still running after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if stream is None:
            if timeout is None:
                self.process.wait()
            elif not _exits_within(self.process, timeout):
                raise subprocess.TimeoutExpired(self.process.args, timeout)
            return self
        with open(self._log_path(stream), "rb") as f:
            while True:
                ended = self.process.poll() is not None
                chunk = f.read()  # after the poll: an ended child has written everything
                if chunk:
                    sys.stdout.write(chunk.decode("utf-8", errors="replace"))
                    sys.stdout.flush()
                if ended:
                    return self
                if deadline is not None and time.monotonic() > deadline:
                    raise subprocess.TimeoutExpired(self.process.args, timeout or 0)
                _exits_within(self.process, STREAM_POLL_SECONDS)

    async def async_wait(self, timeout: float | None = None) -> "ExecutingRun":
        import asyncio  # only async callers pay for importing it

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.wait, timeout)
        return self

    async def stream_log(self, stream: str = "stdout",
                         position: int | None = None) -> AsyncIterator[tuple[int, str]]:
        """The run's output line by line as it is written, until the run ends, as
        ``(position, line)``: ``position`` is the byte offset after the line, from which a
        later ``stream_log(stream, position)`` goes on. Lines come without their line end."""
        import asyncio

        with open(self._log_path(stream), "rb") as f:
            f.seek(position or 0)
            offset = position or 0
            pending = b""
            while True:
                ended = self.process.poll() is not None
                chunk = f.read()
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    offset += len(line) + 1
                    yield offset, line.decode("utf-8", errors="replace").rstrip()
                if ended:
                    if pending:
                        yield offset + len(pending), \
                            pending.decode("utf-8", errors="replace").rstrip()
                    return
                if not chunk:
                    await asyncio.sleep(STREAM_POLL_SECONDS)

    def _log_path(self, stream: str) -> str:
        if stream not in ("stdout", "stderr"):
            raise RunnerError(f"unknown output stream {stream!r}",
                              "use stream='stdout' or stream='stderr'")
        return os.path.join(self._workdir, stream)

    def kill(self) -> None:
        """Interrupt the run as Ctrl-C would (its tasks are stopped; it stays resumable)."""
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


class ExecutingTask(ExecutingRun):
    """A ``spin`` started by ``Runner.spin``/``async_spin``: what an ``ExecutingRun`` has
    (``status``, ``stdout``, ``stderr``, ``wait``, ``stream_log``...), its ``.task`` the
    Client ``Task`` of the spun task and ``.run`` the ``spin-<n>`` run holding it, both
    read from where spun runs are recorded (``headwater.spin``)."""

    def __init__(self, runner: "Runner", process: subprocess.Popen, workdir: str):
        super().__init__(runner, process, workdir)
        self._task: "Task | None" = None

    @classmethod
    def command_args(cls, workdir: str) -> list[str]:
        return super().command_args(workdir) + [
            "--runner-attribute-file", os.path.join(workdir, "attributes")]

    def _attributes(self) -> dict | None:
        import json

        try:
            with open(os.path.join(self._workdir, "attributes")) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):  # not written (yet)
            return None

    def _read_spun(self, cls: type, depth: int) -> Any:
        found = self._attributes()
        if found is None:
            raise self._not_started("spin", "a task", ".task once it has started")
        self._client_ready()
        from .client import _services
        from .settings import Settings
        from .spin import spin_settings

        pathspec = "/".join(found["pathspec"].split("/")[:depth])
        with _services.pinned(spin_settings(Settings(env=self.runner.env),
                                            found["spin_root"])):
            return cls(pathspec, _namespace_check=False)

    @property
    def task(self) -> "Task":
        """The Client ``Task`` of the spun task (available once it has started)."""
        if self._task is None:
            from .client import Task

            self._task = self._read_spun(Task, 4)
        return self._task

    @property
    def run(self) -> "Run":
        """The ``spin-<n>`` run that holds the spun task."""
        if self._run is None:
            from .client import Run

            self._run = self._read_spun(Run, 2)
        return self._run


def _exits_within(process: subprocess.Popen, seconds: float) -> bool:
    """Whether ``process`` ends within ``seconds``, woken the moment it does (a pidfd; a
    timed ``Popen.wait`` polls with sleeps of up to 50 ms)."""
    if seconds <= 0:
        return process.poll() is not None
    try:
        fd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # no pidfds here
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        import select

        select.select([fd], [], [], seconds)
    finally:
        os.close(fd)
    return process.poll() is not None


def _warm_client() -> None:
    """Load what reading the run back needs (the Client's modules, the metadata provider
    and datastore the settings select) while the child runs the flow: otherwise a caller
    pays for those imports after the run has ended. Any problem is left for the read
    itself to report, in the caller's thread."""
    import importlib

    try:
        for module in ("client", "client.task", "datastore.artifacts"):  # what a read runs
            importlib.import_module(f"{__package__}.{module}")
        from .client import _services

        services = _services.services()
        services.provider
        services.backend()
    except Exception:  # noqa: BLE001 - reported by the read, not by this thread
        pass


class Runner:
    """Runs a flow file's ``run``, ``resume`` and ``spin`` from Python.

    ``Runner(flow_file, show_output=False, profile=None, env=None, cwd=None, **options)``:
    ``options`` are the flow's top-level options (``with_=["retry"]`` for ``--with``,
    ``datastore="s3"``, ``quiet=True``...); ``env`` adds environment variables for the run;
    ``profile`` picks ``METAFLOW_PROFILE``. ``file_read_timeout`` is accepted as Metaflow's
    Runner takes it; nothing here waits on a file (the run id is read when asked for).
    """

    def __init__(self, flow_file: str, show_output: bool = False, profile: str | None = None,
                 env: dict[str, str] | None = None, cwd: str | None = None,
                 file_read_timeout: int = 3600, **options: Any):
        if not os.path.isfile(flow_file):
            raise RunnerError(f"flow file {flow_file!r} does not exist",
                              "pass the path of a file that defines the flow")
        self.flow_file = os.path.abspath(flow_file)
        self.flow_name = flow_name_of(self.flow_file)
        self.show_output = show_output
        self.cwd = cwd
        self.env = dict(os.environ)
        self.env.update(env or {})
        if profile:
            self.env["METAFLOW_PROFILE"] = profile
        if "METAFLOW_DATASTORE_SYSROOT_LOCAL" not in self.env and (cwd or env or profile):
            # the child writes where this process's Client will read (with this process's
            # environment and directory it finds the same root itself)
            from .datastore.local import local_root
            from .settings import Settings

            self.env["METAFLOW_DATASTORE_SYSROOT_LOCAL"] = local_root(Settings())
        self.top_level: list[str] = []
        for name, value in options.items():
            self.top_level += _option(name.rstrip("_"), value)

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def _start(self, command: str, args: list[str],
               executing: type[ExecutingRun] = ExecutingRun) -> ExecutingRun:
        workdir = tempfile.mkdtemp(prefix="headwater-runner-")
        argv = [sys.executable, self.flow_file, *self.top_level, command,
                *executing.command_args(workdir), *args]
        out = open(os.path.join(workdir, "stdout"), "wb")
        err = open(os.path.join(workdir, "stderr"), "wb")
        try:
            process = subprocess.Popen(argv, env=self.env, cwd=self.cwd, stdout=out,
                                       stderr=err, stdin=subprocess.DEVNULL)
        finally:
            out.close()
            err.close()
        return executing(self, process, workdir)

    def _parameters(self, params: dict[str, Any]) -> list[str]:
        args: list[str] = []
        for name, value in params.items():
            if isinstance(value, bool):
                args += ["--" + name.replace("_", "-"), "true" if value else "false"]
            else:
                args += _option(name, value)
        return args

    def run(self, **params: Any) -> ExecutingRun:
        """Run the flow with ``params`` (parameters and run options such as ``tags=[...]``,
        ``max_workers=4``); returns when the run has ended."""
        return self._start_run(params).wait(stream="stdout" if self.show_output else None)

    def resume(self, **options: Any) -> ExecutingRun:
        """Resume the latest (or ``origin_run_id=``) run; returns when it has ended."""
        running = self._start("resume", self._resume_args(options))
        return running.wait(stream="stdout" if self.show_output else None)

    def _start_run(self, params: dict[str, Any]) -> ExecutingRun:
        args = []
        for key in ("tags", "max_workers", "max_num_splits"):
            if key in params:
                value = params.pop(key)
                args += _option("tag" if key == "tags" else key, value)
        return self._start("run", args + self._parameters(params))

    async def async_run(self, **params: Any) -> ExecutingRun:
        """Start the run and return at once; ``await running.async_wait()`` for its end."""
        return self._start_run(params)

    async def async_resume(self, **options: Any) -> ExecutingRun:
        return self._start("resume", self._resume_args(options))

    def spin(self, pathspec: str, **options: Any) -> ExecutingTask:
        """Run one step of an earlier run again (``python flow.py spin PATHSPEC``);
        ``options``: ``skip_decorators``, ``artifacts_module``, ``persist``,
        ``max_log_size``, ``tags``. Returns when the spun task has ended."""
        running = self._start_spin(pathspec, options)
        running.wait(stream="stdout" if self.show_output else None)
        return running

    async def async_spin(self, pathspec: str, **options: Any) -> ExecutingTask:
        """Start the spin and return at once; ``await running.async_wait()`` for its end."""
        return self._start_spin(pathspec, options)

    def _start_spin(self, pathspec: str, options: dict[str, Any]) -> ExecutingTask:
        args: list[str] = []
        for name, value in options.items():
            if name in ("persist", "skip_decorators") and isinstance(value, bool):
                flag = name.replace("_", "-")
                args.append(f"--{flag}" if value else f"--no-{flag}")
            else:
                args += _option("tag" if name == "tags" else name, value)
        running = self._start("spin", args + [pathspec], ExecutingTask)
        assert isinstance(running, ExecutingTask)
        return running

    @staticmethod
    def _resume_args(options: dict[str, Any]) -> list[str]:
        args: list[str] = []
        step = options.pop("step", None)
        for name, value in options.items():
            args += _option("tag" if name == "tags" else name, value)
        return args + ([step] if step else [])


class NBRunner(Runner):
    """A ``Runner`` for a flow class defined in a notebook (or any module): its source is
    written to a file in ``base_dir`` (default: a temporary folder) and run from there."""

    def __init__(self, flow: type, show_output: bool = True, profile: str | None = None,
                 env: dict[str, str] | None = None, base_dir: str | None = None,
                 **options: Any):
        path = write_flow_file(flow, base_dir)
        super().__init__(path, show_output=show_output, profile=profile, env=env, **options)

    def cleanup(self) -> None:
        """Remove the flow file written for this runner (Metaflow's ``NBRunner.cleanup``)."""
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.flow_file)

    def nbrun(self, **params: Any) -> "Run":
        """Run and return the Client ``Run`` (what a notebook cell wants)."""
        return self.run(**params).run

    def nbresume(self, **options: Any) -> "Run":
        """Resume (as ``resume``) and return the Client ``Run`` of the resumed run."""
        return self.resume(**options).run


def write_flow_file(flow: type, base_dir: str | None = None) -> str:
    """Write the source of ``flow`` (the running notebook's cells, else its module's source)
    to ``<base_dir>/<flowname>.py`` with a ``__main__`` block, for ``NBRunner`` and
    ``NBDeployer``; ``base_dir`` defaults to a new temporary folder."""
    import inspect

    source = _notebook_source(flow)
    if source is None:
        try:
            source = inspect.getsource(inspect.getmodule(flow))  # type: ignore[arg-type]
        except (OSError, TypeError):
            raise RunnerError(f"cannot find the source of {flow.__name__}",
                              "define the flow in a notebook cell or a .py file") from None
    folder = base_dir or tempfile.mkdtemp(prefix="headwater-nb-")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{flow.__name__.lower()}.py")
    with open(path, "w") as f:
        f.write(source.rstrip() + f"\n\n\nif __name__ == '__main__':\n    {flow.__name__}()\n")
    return path


def _notebook_source(flow: type) -> str | None:
    """The cells of the running IPython session, when there is one."""
    try:
        from IPython import get_ipython  # type: ignore[import-not-found]
    except ModuleNotFoundError:
        return None
    shell = get_ipython()
    if shell is None or "__main__" != flow.__module__:
        return None
    cells = [c for c in shell.user_ns.get("In", []) if c and "get_ipython" not in c]
    return "\n\n".join(c for c in cells if "NBRunner" not in c) or None
