"""Putting tasks into their environments.

``prepare_environments`` runs once per run, before any task starts: it resolves each
distinct spec that has no snapshot yet (one resolution per spec, by uv or a conda backend,
whatever number of steps share it), snapshots lock and package files in the datastore, and
builds each lock's environment in the local cache. The local backend then starts a step's
attempts with ``exec_step``: the forked task process replaces itself with the environment's
python running the flow's hidden ``step`` command. That command calls ``enter_environment``
first, which, outside the environment (a remote container, a fresh machine), rebuilds it
from the snapshot alone and re-executes itself inside it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Callable

from .cache import SUPPORT_VARIABLE, EnvironmentCache, find_interpreter
from .declared import step_spec
from .errors import SnapshotMissing
from .snapshot import SnapshotStore
from .spec import EnvironmentSpec, Lock

if TYPE_CHECKING:
    from ..compute.base import ComputeContext
    from ..datastore.base import StorageBackend
    from ..graph import FlowGraph
    from ..task import RunEnvironment, TaskSpec

# Set inside an environment: the spec key it was built for (so the step command runs
# there instead of re-executing) and the lock hash (recorded in the task's metadata).
INSIDE_VARIABLE = "HEADWATER_ENVIRONMENT"
LOCK_VARIABLE = "HEADWATER_ENVIRONMENT_LOCK"
# Where an environment's step command writes its TaskResult for the local backend.
RESULT_FD_VARIABLE = "HEADWATER_RESULT_FD"
METADATA_FIELD = "environment-lock"  # the task metadata field holding the lock hash
OPTION = "environments"  # ComputeContext.options key: step name -> StepEnvironment
_result_fd: int | None = None


@dataclass(frozen=True)
class StepEnvironment:
    spec: EnvironmentSpec
    lock: Lock
    python: str


def prepare_environments(flow_cls: type, graph: "FlowGraph", backend: "StorageBackend",
                         say: Callable[[str], None]) -> dict[str, StepEnvironment]:
    """Resolve (where no snapshot exists), snapshot and build every step's environment."""
    by_spec: dict[EnvironmentSpec, list[str]] = {}
    for node in graph:
        spec = step_spec(flow_cls, graph, node.name)
        if spec is not None:
            by_spec.setdefault(spec, []).append(node.name)
    store, cache = SnapshotStore(backend), EnvironmentCache()
    out: dict[str, StepEnvironment] = {}
    for spec, steps in by_spec.items():
        lock, python = ensure_environment(spec, store, cache, say, ", ".join(steps))
        out.update({s: StepEnvironment(spec, lock, python) for s in steps})
    return out


def ensure_environment(spec: EnvironmentSpec, store: SnapshotStore, cache: EnvironmentCache,
                       say: Callable[[str], None], steps: str,
                       offline: bool = False) -> tuple[Lock, str]:
    """The lock and built python of ``spec``: from the snapshot if there is one, else by
    resolving (never when ``offline``)."""
    resolved_dir = tempfile.mkdtemp(prefix="hw-wheels-")
    try:
        lock = store.lock_for(spec)
        if lock is None:
            if offline:
                raise SnapshotMissing(f"no snapshot of the environment {spec.describe()} in "
                                      f"the datastore ({store.backend.root})",
                                      "run the flow (python flow.py run) where the package "
                                      "index is reachable first")
            find_interpreter(spec.python)  # before resolving: a typo stores nothing
            lock = _resolve(spec, store, say, steps, resolved_dir)
            fill = partial(_copy_wheels, lock, resolved_dir)
        else:
            say(f"Environment for step(s) {steps}: lock {lock.lock_hash} from the snapshot "
                f"(no resolution)")
            fill = partial(store.fetch_wheels, lock)
        started = time.monotonic()
        python, built = cache.ensure(lock, fill)
    finally:
        shutil.rmtree(resolved_dir, ignore_errors=True)
    if built:
        say(f"Built environment {lock.lock_hash} in {time.monotonic() - started:.1f} s "
            f"at {cache.path(lock)}")
    else:
        say(f"Reusing cached environment {lock.lock_hash} at {cache.path(lock)}")
    return lock, python


def _resolve(spec: EnvironmentSpec, store: SnapshotStore, say: Callable[[str], None],
             steps: str, package_dir: str) -> Lock:
    resolve: Callable[[EnvironmentSpec, str], Lock]
    if spec.kind == "conda":
        from .conda import find_backend

        backend = find_backend(spec)  # or one line saying none exists (and how to @pypi)
        name, resolve = backend.name, backend.resolve
    else:
        from . import resolver

        name, resolve = resolver.RESOLVER, resolver.resolve

    started = time.monotonic()
    say(f"Resolving environment for step(s) {steps}: {spec.describe()} ({name})")
    lock = resolve(spec, package_dir)
    new = store.save(lock, package_dir)
    say(f"Resolved environment {lock.lock_hash} in {time.monotonic() - started:.1f} s: "
        f"{len(lock.packages)} package(s), {new} new package file(s) stored in the snapshot")
    return lock


def _copy_wheels(lock: Lock, source: str, target: str) -> None:
    for package in lock.packages:
        shutil.copyfile(os.path.join(source, package.filename),
                        os.path.join(target, package.filename))


def task_variables(spec: EnvironmentSpec, lock: Lock, datastore_type: str) -> dict[str, str]:
    """What a task process inside the environment needs in its environment variables."""
    return {INSIDE_VARIABLE: spec.key, LOCK_VARIABLE: lock.lock_hash,
            SUPPORT_VARIABLE: EnvironmentCache().support_path(datastore_type)}


def exec_step(ctx: "ComputeContext", spec: "TaskSpec", result_fd: int) -> None:
    """In a forked task process: become the environment's python running the hidden
    ``step`` command, when the step has an environment; return otherwise."""
    env = ctx.options.get(OPTION, {}).get(spec.step_name)
    if env is None:
        return
    argv = [env.python, ctx.flow_file]
    for with_spec in ctx.options.get("with_specs", ()):
        argv += ["--with", with_spec]
    for name, path in ctx.options.get("config_files", {}).items():
        argv += ["--config", name, path] if name else ["--config-file", path]
    argv += ["--quiet", "step", "--spec", json.dumps(spec.to_json())]
    os.set_inheritable(result_fd, True)
    variables = {**os.environ, **task_variables(env.spec, env.lock, ctx.env.backend.TYPE),
                 RESULT_FD_VARIABLE: str(result_fd)}
    os.execve(env.python, argv, variables)


def enter_environment(flow_cls: type, graph: "FlowGraph", task: "TaskSpec",
                      run_env: "RunEnvironment") -> None:
    """At the start of the hidden ``step`` command: outside the step's environment, build it
    from the snapshot (no index) and re-execute this command in it (never returns); inside
    it, record the lock in the task's metadata and return."""
    step_name = task.step_name
    spec = step_spec(flow_cls, graph, step_name)
    if spec is None:
        return
    if os.environ.get(INSIDE_VARIABLE) == spec.key:
        from ..metadata.base import MetadataEntry

        global _result_fd
        # Taken out of the environment so processes the step starts do not inherit it.
        fd = os.environ.pop(RESULT_FD_VARIABLE, None)
        _result_fd = int(fd) if fd else None
        if _result_fd is not None:
            os.set_inheritable(_result_fd, False)
        run_env.metadata.register_metadata(
            task.flow_name, task.run_id, step_name, task.task_id, task.user,
            [MetadataEntry(METADATA_FIELD, os.environ.get(LOCK_VARIABLE, ""), "environment"),
             MetadataEntry("environment-python", sys.executable, "environment")])
        return
    backend = run_env.backend
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    lock, python = ensure_environment(spec, SnapshotStore(backend), EnvironmentCache(), say,
                                      step_name, offline=True)
    argv = [python] + sys.argv
    os.execve(python, argv, {**os.environ, **task_variables(spec, lock, backend.TYPE)})
    return None  # not reached


def write_result(result_json: dict) -> bool:
    """Hand the task's result to the local backend that started this environment's step
    command; False when no backend waits for it on a descriptor."""
    fd = _result_fd
    if fd is None:
        return False
    os.write(int(fd), json.dumps(result_json).encode())
    return True
