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
