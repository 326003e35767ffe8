"""A task attempt's record: the one module that writes and reads it.

An attempt's record is its index in the datastore (artifacts plus the state the scheduler
needs: ok, the transition the step chose, its split stack, and the parent tasks it started
from, which the Client's ``parent_tasks``/``child_tasks`` read) and its metadata rows, every one
tagged ``attempt_id:<n>``: ``attempt``/``ds-type``/``ds-root`` when it starts,
``origin-run-id``/``origin-task-id`` for a clone, the artifact rows, and
``attempt-done``/``attempt_ok`` when it ends. Until the index is written nothing of the
attempt is visible to a reader.

Writers: the task executor (``record_start`` / ``record_finish``), the scheduler for an
attempt that died without writing anything (``record_crash``), ``resume`` (``record_clone``),
the run launch (``record_parameters`` / ``clone_parameters``). Readers: the scheduler and
remote backends (``read_result``), resume planning (``finished_attempt``), the Client API
(``row_attempt``).
"""

from __future__ import annotations

import platform

from typing import TYPE_CHECKING, Any

# The datastore and metadata modules load on first use: the Client imports this module for
# its row readers and stays light.
if TYPE_CHECKING:
    from .datastore.task_store import TaskDataStore, TaskIndex
    from .flowspec import SplitFrame
    from .metadata.base import MetadataEntry
    from .run_state import RunInfo
    from .task import InputRef, RunEnvironment, TaskResult, TaskSpec

PARAMETERS_STEP = "_parameters"
ATTEMPT_TAG = "attempt_id:"


def attempt_tags(attempt: int) -> list[str]:
    return [f"{ATTEMPT_TAG}{attempt}"]


def row_attempt(row: dict) -> int | None:
    """The attempt a metadata or artifact row belongs to (its ``attempt_id:<n>`` tag)."""
    for tag in row.get("tags") or ():
        if isinstance(tag, str) and tag.startswith(ATTEMPT_TAG):
            try:
                return int(tag[len(ATTEMPT_TAG):])
            except ValueError:
                return None
    return None


def task_store(env: "RunEnvironment", spec: "TaskSpec") -> "TaskDataStore":
    from .datastore.task_store import TaskDataStore

    return TaskDataStore(env.backend, spec.flow_name, spec.run_id, spec.step_name, spec.task_id)


# --- writing -------------------------------------------------------------------------------


def start_metadata(env: "RunEnvironment", attempt: int) -> "list[MetadataEntry]":
    from .metadata.base import MetadataEntry

    tags = attempt_tags(attempt)
    return [MetadataEntry("attempt", str(attempt), "attempt", tags),
            MetadataEntry("ds-type", env.ds_type, "ds-type", tags),
            MetadataEntry("ds-root", env.backend.root, "ds-root", tags),
            MetadataEntry("python_version", platform.python_version(), "python_version", tags)]


def done_metadata(attempt: int, ok: bool) -> "list[MetadataEntry]":
    from .metadata.base import MetadataEntry

    tags = attempt_tags(attempt)
    return [MetadataEntry("attempt-done", str(attempt), "attempt-done", tags),
            MetadataEntry("attempt_ok", str(ok), "internal_attempt_status", tags)]


def origin_metadata(attempt: int, origin_run_id: str, origin_task_id: str
                    ) -> "list[MetadataEntry]":
    from .metadata.base import MetadataEntry

    tags = attempt_tags(attempt)
    return [MetadataEntry("origin-run-id", origin_run_id, "origin-run-id", tags),
            MetadataEntry("origin-task-id", origin_task_id, "origin-task-id", tags)]


def index_state(spec: "TaskSpec", ok: bool, targets: list[str] | None = None,
                foreach_count: int | None = None, foreach_var: str | None = None,
                error: str | None = None) -> dict[str, Any]:
    """The scheduler's part of an attempt's index (``read_result`` reads it back)."""
    state: dict[str, Any] = {"ok": ok, "targets": list(targets or []),
                             "foreach_count": foreach_count, "foreach_var": foreach_var,
                             "stack": [f.to_json() for f in spec.stack],
                             "inputs": [i.to_json() for i in spec.inputs]}
    if error is not None:
        state["error"] = error
    return state


def record_start(env: "RunEnvironment", spec: "TaskSpec",
                 origin: tuple[str, str] | None = None) -> None:
    """The attempt began (``origin``: the (run, task) a clone copies)."""
    entries = start_metadata(env, spec.attempt)
    if origin is not None:
        entries += origin_metadata(spec.attempt, *origin)
    elif spec.origin_run_id:  # executed again by a resume: the run it resumes, as Metaflow
        from .metadata.base import MetadataEntry

        entries.append(MetadataEntry("origin-run-id", spec.origin_run_id, "origin-run-id",
                                     attempt_tags(spec.attempt)))
    env.metadata.register_metadata(spec.flow_name, spec.run_id, spec.step_name, spec.task_id,
                                   spec.user, entries)


def record_finish(env: "RunEnvironment", spec: "TaskSpec", index: "TaskIndex", ok: bool,
                  store: "TaskDataStore | None" = None) -> None:
    """The attempt ended: its index (which makes it visible), its artifacts, its outcome."""
    from .metadata.base import ArtifactRecord

    store = store or task_store(env, spec)
    store.save_index(spec.attempt, index)
    md = env.metadata
    md.register_artifacts(spec.flow_name, spec.run_id, spec.step_name, spec.task_id, spec.user,
                          [ArtifactRecord(name, info.sha, info.type, store.cas.key(info.sha),
                                          env.ds_type, spec.attempt)
                           for name, info in index.artifacts.items()])
    md.register_metadata(spec.flow_name, spec.run_id, spec.step_name, spec.task_id, spec.user,
                         done_metadata(spec.attempt, ok))


def record_crash(env: "RunEnvironment", spec: "TaskSpec", reason: str) -> None:
    """Write what a task could not: a failed attempt with the reason as its exception."""
    from .datastore.task_store import TaskIndex
    from .decorators.catch import CaughtException

    store = task_store(env, spec)
    if store.has_index(spec.attempt):
        return  # it got as far as persisting
    infos = store.cas.save({"_success": False,
                            "_exception": CaughtException(
                                "TaskCrashed", f"the task process {reason}", "")})
    store.save_index(spec.attempt, TaskIndex(infos, {
        "ok": False, "stack": [f.to_json() for f in spec.stack],
        "inputs": [i.to_json() for i in spec.inputs]}))
    env.metadata.register_metadata(spec.flow_name, spec.run_id, spec.step_name, spec.task_id,
                                   spec.user, done_metadata(spec.attempt, False))


def record_clone(env: "RunEnvironment", spec: "TaskSpec", origin_run_id: str,
                 origin_task_id: str, origin_attempt: int) -> "TaskResult":
    """Record a successful task of an earlier run as attempt 0 of ``spec``, by reference:
    the index is copied, the artifact blobs are shared."""
    from .datastore.task_store import TaskDataStore
    from .metadata.base import ArtifactRecord

    origin = TaskDataStore(env.backend, spec.flow_name, origin_run_id, spec.step_name,
                           origin_task_id)
    index = origin.load_index(origin_attempt)
    index.state["stack"] = [f.to_json() for f in spec.stack]
    index.state["inputs"] = [i.to_json() for i in spec.inputs]  # this run's parents
    store = task_store(env, spec)
    store.save_index(0, index)
    for stream in ("stdout", "stderr"):
        text = origin.load_log(origin_attempt, stream)
        if text:
            store.save_log(0, stream, text.encode(),
                           origin.load_log_times(origin_attempt, stream))
    md = env.metadata
    md.register_metadata(spec.flow_name, spec.run_id, spec.step_name, spec.task_id, spec.user,
                         start_metadata(env, 0) + origin_metadata(0, origin_run_id,
                                                                  origin_task_id))
    md.register_artifacts(spec.flow_name, spec.run_id, spec.step_name, spec.task_id, spec.user,
                          [ArtifactRecord(name, info.sha, info.type, store.cas.key(info.sha),
                                          env.ds_type, 0)
                           for name, info in index.artifacts.items()])
    md.register_metadata(spec.flow_name, spec.run_id, spec.step_name, spec.task_id, spec.user,
                         done_metadata(0, True))
    return _result(index.state)


def _parameters_spec(env: "RunEnvironment", run: "RunInfo", task_id: str | None = None
                     ) -> "TaskSpec":
    from .task import TaskSpec

    md = env.metadata
    md.register_step(run.flow_name, run.run_id, PARAMETERS_STEP, run.user)
    task_id = str(md.new_task(run.flow_name, run.run_id, PARAMETERS_STEP, run.user,
                              task_id=task_id)["task_id"])
    return TaskSpec(run.flow_name, run.run_id, PARAMETERS_STEP, task_id, 0, [], [], 0,
                    run.user)


def record_parameters(env: "RunEnvironment", run: "RunInfo", values: dict[str, Any],
                      task_id: str | None = None) -> "InputRef":
    """Create the run's ``_parameters`` task holding parameter and config values (its id
    allocated by the metadata provider unless ``task_id`` is given)."""
    from .datastore.task_store import TaskIndex
    from .task import InputRef

    spec = _parameters_spec(env, run, task_id)
    store = task_store(env, spec)
    index = TaskIndex(store.cas.save(values), index_state(spec, True, ["start"]))
    record_start(env, spec)
    record_finish(env, spec, index, True, store)
    return InputRef(PARAMETERS_STEP, spec.task_id, 0)


def clone_parameters(env: "RunEnvironment", run: "RunInfo", origin_run_id: str,
                     origin: tuple[str, int]) -> "InputRef":
    """The ``_parameters`` task of a resumed run: a clone of the origin run's."""
    from .task import InputRef

    spec = _parameters_spec(env, run)
    record_clone(env, spec, origin_run_id, origin[0], origin[1])
    return InputRef(PARAMETERS_STEP, spec.task_id, 0)


# --- reading -------------------------------------------------------------------------------


def _result(state: dict) -> "TaskResult":
    from .task import TaskResult

    return TaskResult(ok=bool(state.get("ok")), targets=list(state.get("targets") or []),
                      foreach_count=state.get("foreach_count"),
                      foreach_var=state.get("foreach_var"), error=state.get("error"))


def read_result(env: "RunEnvironment", spec: "TaskSpec") -> "TaskResult | None":
    """What the attempt ``spec`` recorded as its outcome; None when it recorded nothing."""
    from .exceptions import DataNotFound

    try:
        state = task_store(env, spec).load_index(spec.attempt).state
    except DataNotFound:
        return None
    return _result(state)


def input_tasks(state: dict) -> list[tuple[str, str]]:
    """(step, task id) of the parent tasks an attempt's index state names, without the
    run's ``_parameters`` task (none for records made before the index carried them)."""
    return [(ref[0], str(ref[1])) for ref in state.get("inputs") or []
            if ref[0] != PARAMETERS_STEP]


def attempt_numbers(rows: list[dict]) -> list[int]:
    """The attempts a task's metadata rows say were started, in order."""
    return sorted({int(row["value"]) for row in rows if row.get("field_name") == "attempt"})


def latest_attempt(rows: list[dict]) -> tuple[int | None, bool]:
    """From a task's metadata rows: its latest attempt and whether that one succeeded
    (None, False for a task that never started one)."""
    attempts: dict[int, bool] = {}
    for row in rows:
        if row["field_name"] == "attempt":
            attempts.setdefault(int(row["value"]), False)
        elif row["field_name"] == "attempt_ok":
            attempt = row_attempt(row)
            if attempt is not None:
                attempts[attempt] = row["value"] == "True"
    if not attempts:
        return None, False
    latest = max(attempts)
    return latest, attempts[latest]


def finished_attempt(env: "RunEnvironment", flow_name: str, run_id: str, step: str,
                     task_id: str) -> "tuple[int, list[SplitFrame]] | None":
    """The task's latest attempt and split stack if that attempt succeeded and its index
    exists (what ``resume`` can reuse); None otherwise."""
    from .datastore.task_store import TaskDataStore
    from .flowspec import SplitFrame

    attempt, ok = latest_attempt(env.metadata.get_metadata(flow_name, run_id, step, task_id))
    if attempt is None or not ok:
        return None
    store = TaskDataStore(env.backend, flow_name, run_id, step, task_id)
    if not store.has_index(attempt):
        return None
    state = store.load_index(attempt).state
    return attempt, [SplitFrame.from_json(f) for f in state.get("stack", [])]


def latest_success(env: "RunEnvironment", flow_name: str, run_id: str, step: str,
                   task_id: str, attempts: int
                   ) -> "tuple[int, list[SplitFrame], TaskResult] | None":
    """The newest of a task's first ``attempts`` attempts that succeeded, with its split
    stack and result, read from the indexes alone (deployed tasks find their parents this
    way, without a metadata round trip per parent)."""
    from .datastore.task_store import TaskDataStore
    from .flowspec import SplitFrame

    store = TaskDataStore(env.backend, flow_name, run_id, step, task_id)
    for attempt in reversed(range(attempts)):
        if not store.has_index(attempt):
            continue
        state = store.load_index(attempt).state
        if state.get("ok"):
            return attempt, [SplitFrame.from_json(f) for f in state.get("stack", [])], \
                _result(state)
    return None
