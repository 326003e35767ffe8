"""``current``: what a running step can know about itself.

    from headwater import current
    print(current.flow_name, current.run_id, current.step_name, current.task_id)

Outside a running task (a flow instantiated in a unit test, a notebook) the values are
``None`` (``retry_count`` 0, ``parameter_names`` empty) and ``is_running_flow`` is False.
``current.run`` and ``current.task`` are the Client API's ``Run`` and ``Task`` of the running
task (read whatever the namespace); ``origin_run_id`` is set on every task of a resumed run. Decorators
add attributes of their own (``current.secrets``, ``current.card``) with ``_set_extra``.
"""

from __future__ import annotations

from typing import Any


class Current:
    """The running task's identity; one instance per process, set by the task executor."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.flow_name: str | None = None
        self.run_id: str | None = None
        self.step_name: str | None = None
        self.task_id: str | None = None
        self.retry_count: int = 0
        self.origin_run_id: str | None = None
        self.namespace: str | None = None
        self.username: str | None = None
        self.parameter_names: list[str] = []
        self.is_running_flow: bool = False
        self.tags: set[str] = set()  # a set, as Metaflow's: user code calls .update on it
        # set by @project, as in Metaflow
        self.project_name: str | None = None
        self.branch_name: str | None = None
        self.project_flow_name: str | None = None
        self.is_production: bool = False
        self.is_user_branch: bool = False
        self._extras: dict[str, Any] = {}

    def _set(self, **values: Any) -> None:
        for key, value in values.items():
            if not hasattr(self, key):
                raise AttributeError(f"current has no attribute {key!r}")
            setattr(self, key, value)

    def _set_extra(self, name: str, value: Any) -> None:
        """Expose ``value`` as ``current.<name>`` (used by decorators)."""
        self._extras[name] = value

    def _del_extra(self, name: str) -> None:
        """Remove ``current.<name>`` (the decorator's task is over)."""
        self._extras.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        extras = self.__dict__.get("_extras", {})
        if name in extras:
            return extras[name]
        raise AttributeError(
            f"current has no attribute {name!r}"
            + (" (it is set by a step decorator that this step does not use)"
               if name in ("secrets", "card", "parallel") else ""))

    @property
    def run(self) -> Any:
        """The running run as a Client ``Run`` (``None`` outside a task)."""
        if not self.run_id:
            return None
        from .client import Run

        return Run(f"{self.flow_name}/{self.run_id}", _namespace_check=False)

    @property
    def task(self) -> Any:
        """The running task as a Client ``Task`` (``None`` outside a task)."""
        if not self.task_id:
            return None
        from .client import Task

        return Task(self.pathspec, _namespace_check=False)

    @property
    def pathspec(self) -> str | None:
        """``Flow/run/step/task`` of the running task."""
        if not self.task_id:
            return None
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    def __repr__(self) -> str:
        return f"<current {self.pathspec or self.flow_name or '(not running)'}>"


current = Current()
