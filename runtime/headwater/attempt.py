"""A task attempt's record: the one module that writes and reads it.

An attempt's record is its index in the datastore (artifacts plus the transition the step
chose) and its metadata rows (start, done, origin for clones).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .datastore.task_store import TaskDataStore
from .exceptions import DataNotFound

if TYPE_CHECKING:
    from .task import RunEnvironment, TaskResult, TaskSpec


def read_result(env: "RunEnvironment", spec: "TaskSpec") -> "TaskResult | None":
    """What the attempt ``spec`` recorded as its outcome; None when it recorded nothing."""
    from .task import TaskResult

    store = TaskDataStore(env.backend, spec.flow_name, spec.run_id, spec.step_name, spec.task_id)
    try:
        state = store.load_index(spec.attempt).state
    except DataNotFound:
        return None
    return TaskResult(ok=bool(state.get("ok")), targets=list(state.get("targets") or []),
                      foreach_count=state.get("foreach_count"),
                      foreach_var=state.get("foreach_var"))


def record_parameters(env: "RunEnvironment", flow_name: str, run_id: str, user: str,
                      values: dict, task_id: str | None = None) -> tuple[str, int]:
    """Create the run's ``_parameters`` task holding parameter and config values (its id
    allocated by the provider unless ``task_id`` is given)."""
    from .datastore.task_store import TaskIndex
    from .task import artifact_records, done_metadata, start_metadata

    md = env.metadata
    md.register_step(flow_name, run_id, "_parameters", user)
    task_id = str(md.new_task(flow_name, run_id, "_parameters", user, task_id=task_id)["task_id"])
    store = TaskDataStore(env.backend, flow_name, run_id, "_parameters", task_id)
    index = TaskIndex(store.cas.save(values), {"ok": True, "targets": ["start"], "stack": []})
    md.register_metadata(flow_name, run_id, "_parameters", task_id, user,
                         start_metadata(env, 0))
    store.save_index(0, index)
    md.register_artifacts(flow_name, run_id, "_parameters", task_id, user,
                          artifact_records(index, store, env, 0))
    md.register_metadata(flow_name, run_id, "_parameters", task_id, user,
                         done_metadata(0, True))
    return task_id, 0
