"""``Step("Flow/12/train")``: the tasks one step of a run started.

    step = Run("HelloFlow/12")["start"]
    step.task.data.system_info        # a linear step has one task
    [t.index for t in run["fan"].tasks()]
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..exceptions import ObjectNotFound
from ._object import MetaflowObject, listing

if TYPE_CHECKING:
    from .task import Task


class Step(MetaflowObject["Task"]):
    """A step of a run. Iterating gives its tasks (a foreach step has one per item)."""

    _NAME = "step"
    _DEPTH = 3
    _FORM = "FlowName/RunId/StepName"

    def _fetch(self, components: list[str]) -> dict:
        obj = self._provider.get_step(*components)
        if obj is None:
            from .run import Run

            run = Run("/".join(components[:2]), _namespace_check=False)  # or: no such run
            raise run._missing_step(components[2])
        return obj

    def _components_of(self, obj: dict, parent) -> list[str]:
        return parent._components + [obj["step_name"]]

    def _parent_class(self) -> type:
        from .run import Run

        return Run

    def _children(self) -> list["Task"]:
        from .task import Task

        return [Task(_object=obj, _parent=self, _namespace_check=False)
                for obj in self._provider.get_tasks(*self._components)]

    def _child(self, task_id: str) -> "Task":
        from .task import Task

        flow, run, step = self._components
        obj = self._provider.get_task(flow, run, step, task_id)
        if obj is None:
            raise self._missing_task(task_id)
        return Task(_object=obj, _parent=self, _namespace_check=False)

    def _missing_task(self, task_id: str) -> ObjectNotFound:
        known = sorted((t.id for t in self._children()), key=task_order)
        return ObjectNotFound(
            f"task {self.pathspec}/{task_id} does not exist",
            f"tasks of step {self.pathspec}: {listing(known)}" if known else
            f"step {self.pathspec} has no task yet")

    def tasks(self, *tags: str) -> list["Task"]:
        """The step's tasks (each carries the run's tags; ``tags`` filters by them)."""
        wanted = set(tags)
        return [task for task in self._children() if wanted <= task.tags]

    def control_tasks(self, *tags: str) -> list["Task"]:
        """The control task (node 0) of each ``@parallel`` gang of this step (none for a
        step that is not ``@parallel``); ``tags`` filters as ``tasks`` does."""
        control = []
        for task in self.tasks(*tags):
            task._stored_artifacts()  # reads the index, which holds the split stack
            stack = task._state.get("stack") or []
            # a num_parallel fan-out is the foreach frame that names no attribute
            if stack and stack[-1][1] == "foreach" and stack[-1][4] is None \
                    and int(stack[-1][2]) == 0:
                control.append(task)
        return control

    @property
    def task(self) -> "Task | None":
        """A task of this step: *the* task of a step that is not inside a foreach."""
        tasks = self._children()
        return tasks[0] if tasks else None

    @property
    def origin_pathspec(self) -> str | None:
        """For a step ``resume`` reused: the step of the run its tasks were cloned from."""
        task = self.task
        origin = task.origin_pathspec if task is not None else None
        return origin.rsplit("/", 1)[0] if origin else None

    @property
    def parent_steps(self) -> list["Step"]:
        """The steps of the run this step's tasks started from (none for ``start``)."""
        run = self.parent
        names: dict[str, None] = {}  # in order, once each
        for task in self._children():
            names.update((step, None) for step, _ in task._input_tasks())
        return [run[name] for name in names]  # type: ignore[index]

    @property
    def child_steps(self) -> list["Step"]:
        """The steps of the run this step's tasks went to (none for ``end``; a step the
        run has not reached, or a switch branch not taken, is not listed)."""
        run = self.parent
        names: dict[str, None] = {}  # in order, once each
        for task in self._children():
            task._stored_artifacts()  # reads the index, which names the targets
            names.update((step, None) for step in task._state.get("targets") or []
                         if step in run)  # type: ignore[operator]
        return [run[name] for name in names]  # type: ignore[index]

    @property
    def finished_at(self) -> datetime | None:
        """When the step's last task finished (``None`` while any task has not)."""
        times = [task.finished_at for task in self._children()]
        if not times or any(t is None for t in times):
            return None
        return max(times)  # type: ignore[type-var]


def task_order(task_id: str) -> tuple:
    """Sort key for task ids: numbers in numeric order, then names."""
    return (0, int(task_id), "") if task_id.isdigit() else (1, 0, task_id)
