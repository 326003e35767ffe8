"""Write runs into a local sysroot the way the runtime does, without running a flow.

A unit-test fixture, not a fake component: it uses the real ``LocalMetadataProvider``,
``LocalBackend`` and ``TaskDataStore``, and writes each attempt's record through
``headwater.attempt``, the module the runtime itself records attempts with (metadata rows
tagged ``attempt_id:<n>``, artifacts in both the datastore index and the metadata, logs,
``_success`` / ``_exception``). Tests of real runs live in ``test_client_real_run.py``.
"""

from __future__ import annotations

import platform
from typing import Any

from headwater import __version__, attempt
from headwater.datastore.local import LocalBackend
from headwater.datastore.task_store import TaskDataStore, TaskIndex
from headwater.decorators.catch import CaughtException
from headwater.flowspec import SplitFrame
from headwater.metadata.local import LocalMetadataProvider
from headwater.settings import Settings
from headwater.task import RunEnvironment, TaskSpec


class RunBuilder:
    """One run of ``flow`` by ``user``; add tasks with ``task(...)``."""

    def __init__(self, sysroot, flow: str, user: str = "tester", tags: tuple = (),
                 namespace: str | None = None, parameters: dict | None = None):
        self.flow, self.user = flow, user
        self.md = LocalMetadataProvider(str(sysroot))
        self.backend = LocalBackend(str(sysroot))
        self.env = RunEnvironment(Settings(), self.backend, self.md)
        system_tags = [f"user:{user}", "runtime:dev",
                       f"python_version:{platform.python_version()}",
                       f"headwater_version:{__version__}"]
        if namespace:
            system_tags.append(namespace)
        self.md.register_flow(flow, user)
        self.run_id = str(self.md.new_run(flow, user, list(tags), system_tags)["run_number"])
        self.parameters = dict(parameters or {})
        self.inherited: dict = {}
        if parameters is not None:
            self.params_task = self.task("_parameters", self.parameters, inherit=False)
            self.inherited = self.index("_parameters", self.params_task).artifacts

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}"

    def index(self, step: str, task_id: str, attempt: int = 0) -> TaskIndex:
        return self.store(step, task_id).load_index(attempt)

    def store(self, step: str, task_id: str) -> TaskDataStore:
        return TaskDataStore(self.backend, self.flow, self.run_id, step, task_id)

    def task(self, step: str, artifacts: dict[str, Any] | None = None, *, attempts: int = 1,
             ok: bool = True, finished: bool = True, stdout: str = "", stderr: str = "",
             foreach: list[tuple[str, int, int]] = (), error: Exception | None = None,
             origin: tuple[str, str] | None = None, inherit: bool = True,
             task_id: str | None = None) -> str:
        """Record a task with ``attempts`` attempts; all but the last failed. The last one
        ends ``ok`` (or fails with ``error``), or is still running if not ``finished``.
        ``foreach`` is the split stack: ``(step, index, count)`` from outer to inner."""
        md, user = self.md, self.user
        md.register_step(self.flow, self.run_id, step, user)
        task_id = str(md.new_task(self.flow, self.run_id, step, user, task_id)["task_id"])
        store = self.store(step, task_id)
        stack = [SplitFrame(s, "foreach", i, n, "items") for s, i, n in foreach]
        for number in range(attempts):
            last = number == attempts - 1
            spec = TaskSpec(self.flow, self.run_id, step, task_id, number, [], stack,
                            attempts - 1, user)
            attempt.record_start(self.env, spec, origin if last else None)
            if stdout:
                store.save_log(number, "stdout", f"[attempt {number}] {stdout}".encode())
            if stderr:
                store.save_log(number, "stderr", f"[attempt {number}] {stderr}".encode())
            if last and not finished:
                break
            success = ok if last else False
            values: dict[str, Any] = dict(artifacts or {}) if success else {}
            values["_success"] = success
            if not success:
                failure = error if last and error else RuntimeError(f"attempt {number} failed")
                values["_exception"] = CaughtException.from_exception(failure)
            infos = dict(self.inherited) if inherit else {}
            infos.update(store.cas.save(values))
            attempt.record_finish(self.env, spec,
                                  TaskIndex(infos, attempt.index_state(spec, success)),
                                  success, store)
        return task_id

    def linear(self, steps: dict[str, dict], ok: bool = True) -> dict[str, str]:
        """One successful task per step (the last one fails unless ``ok``); step -> task id."""
        ids = {}
        names = list(steps)
        for name in names:
            last = name == names[-1]
            ids[name] = self.task(name, steps[name], ok=ok or not last)
        return ids
