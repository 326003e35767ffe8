"""``Run("Flow/12")``: one run, its steps, its result and its tags.

    run = Run("HelloFlow/12")
    run.successful, run.finished, run.finished_at
    run.data.processed_data          # the end step's artifacts
    run["start"].task.stdout
    run.add_tag("baseline")
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable

from ..exceptions import ObjectNotFound, TaggingError
from ._object import MetaflowObject, listing, to_datetime

if TYPE_CHECKING:
    from .code import MetaflowCode
    from .step import Step
    from .task import MetaflowData, Task

# Longest user tag accepted (the metadata service's limit).
MAX_TAG_LENGTH = 500

# Tags with these prefixes are written by the runtime (Metaflow's and ours): never user tags.
SYSTEM_TAG_PREFIXES = ("user:", "runtime:", "python_version:", "date:", "metaflow_version:",
                       "headwater_version:", "project:", "project_branch:", "schedule:")


class Run(MetaflowObject["Step"]):
    """A run of a flow. Iterating gives its steps (the internal ``_parameters`` step is
    left out but can be read with ``run["_parameters"]``)."""

    _NAME = "run"
    _DEPTH = 2
    _FORM = "FlowName/RunId"

    def _fetch(self, components: list[str]) -> dict:
        flow_name, run_id = components
        obj = self._provider.get_run(flow_name, run_id)
        if obj is None:
            if self._provider.get_flow(flow_name) is None:
                from .flow import Flow

                Flow(flow_name)  # raises the flow's own, more useful, not-found error
            raise ObjectNotFound(
                f"run {flow_name}/{run_id} does not exist in {self._provider.describe()}",
                f"list the runs with Flow({flow_name!r}).runs() (namespace(None) lists "
                f"every user's runs)")
        return obj

    def _components_of(self, obj: dict, parent) -> list[str]:
        return [obj["flow_id"], str(obj.get("run_id") or obj["run_number"])]

    def _parent_class(self) -> type:
        from .flow import Flow

        return Flow

    def _all_steps(self) -> list["Step"]:
        from .step import Step

        return [Step(_object=obj, _parent=self, _namespace_check=False)
                for obj in self._provider.get_steps(*self._components)]

    def _children(self) -> list["Step"]:
        return [step for step in self._all_steps() if not step.id.startswith("_")]

    def _child(self, step_name: str) -> "Step":
        from .step import Step

        flow, run = self._components
        obj = self._provider.get_step(flow, run, step_name)
        if obj is None:
            raise self._missing_step(step_name)
        return Step(_object=obj, _parent=self, _namespace_check=False)

    def _missing_step(self, step_name: str) -> ObjectNotFound:
        known = [step.id for step in self._children()]
        return ObjectNotFound(
            f"step {self.pathspec}/{step_name} does not exist",
            f"steps of run {self.pathspec}: {listing(known)}" if known else
            f"run {self.pathspec} has not started any step yet")

    def steps(self, *tags: str) -> list["Step"]:
        """The run's steps (every step carries the run's tags; ``tags`` filters by them)."""
        wanted = set(tags)
        return [step for step in self._children() if wanted <= step.tags]

    # --- result ------------------------------------------------------------------------

    @property
    def end_task(self) -> "Task | None":
        """The task of the ``end`` step, or ``None`` when the run has not got there."""
        try:
            return self._child("end").task
        except ObjectNotFound:
            return None

    @property
    def origin_pathspec(self) -> str | None:
        """For a run made by ``resume``: the run it resumed (``Flow/run``), else None."""
        from ..attempt import PARAMETERS_STEP

        if PARAMETERS_STEP not in self:
            return None
        task = self[PARAMETERS_STEP].task
        origin = task.metadata_dict.get("origin-run-id") if task is not None else None
        return f"{self._components[0]}/{origin}" if origin else None

    @property
    def code(self) -> "MetaflowCode | None":
        """The code package the run shipped to remote compute (``None`` when every task ran
        on this machine): the package of the first task, in step order, that names one."""
        from .code import code_of

        for step in self._all_steps():
            for task in step:
                found = code_of(task)
                if found is not None:
                    return found
        return None

    @property
    def successful(self) -> bool:
        """Whether the run reached its end step and that step succeeded."""
        end = self.end_task
        return end is not None and end.successful

    @property
    def finished(self) -> bool:
        """Whether the end step has finished (successfully or not)."""
        end = self.end_task
        return end is not None and end.finished

    @property
    def finished_at(self) -> datetime | None:
        """When the end step finished (``None`` while the run has not finished)."""
        end = self.end_task
        return end.finished_at if end is not None else None

    @property
    def last_heartbeat_at(self) -> datetime | None:
        """When the run's scheduler last said it was alive (every few seconds while it runs)."""
        seconds = self._object.get("last_heartbeat_ts")
        return to_datetime(seconds * 1000) if seconds else None

    @property
    def data(self) -> "MetaflowData | None":
        """The end step's artifacts (``run.data.x``), or ``None`` before the end step."""
        end = self.end_task
        return end.data if end is not None else None

    # --- tags --------------------------------------------------------------------------

    def add_tag(self, tag: str) -> None:
        """Add a user tag (a list of tags is taken too, as Metaflow does)."""
        self.add_tags(_one_or_many(tag))

    def add_tags(self, tags: Iterable[str]) -> None:
        """Add user tags (system tags among them are ignored, with a warning)."""
        self._mutate(add=self._addable(_check_tags(tags)), remove=[])

    def remove_tag(self, tag: str) -> None:
        """Remove a user tag (system tags cannot be removed; a list is taken too)."""
        self.remove_tags(_one_or_many(tag))

    def remove_tags(self, tags: Iterable[str]) -> None:
        """Remove user tags (system tags cannot be removed)."""
        self._mutate(add=[], remove=self._removable(_check_tags(tags)))

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> None:
        """Remove one user tag and add another in one step (lists are taken too)."""
        self.replace_tags(_one_or_many(tag_to_remove), _one_or_many(tag_to_add))

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        """Remove some user tags and add others in one step."""
        tags_to_remove, tags_to_add = list(tags_to_remove), list(tags_to_add)
        if not tags_to_remove and not tags_to_add:
            raise TaggingError("replace_tags was given no tag to remove and none to add",
                               "name at least one tag to remove or to add")
        remove = self._removable(_check_tags(tags_to_remove))
        self._mutate(add=self._addable(_check_tags(tags_to_add)), remove=remove)

    def _is_system_tag(self, tag: str) -> bool:
        if tag in self.user_tags:
            return False  # added as a user tag before this rule: the user may remove it
        return tag in self.system_tags or tag.startswith(SYSTEM_TAG_PREFIXES)

    def _addable(self, tags: list[str]) -> list[str]:
        system = [t for t in tags if self._is_system_tag(t)]
        if system:
            warnings.warn(
                f"{', '.join(map(repr, system))} "
                f"{'is a system tag' if len(system) == 1 else 'are system tags'}, which "
                f"cannot be added as {'a user tag' if len(system) == 1 else 'user tags'}: "
                f"ignored", UserWarning, stacklevel=3)
        return [t for t in tags if t not in system]

    def _removable(self, tags: list[str]) -> list[str]:
        system = [t for t in tags if self._is_system_tag(t)]
        if system:
            raise TaggingError(
                f"{', '.join(map(repr, system))} of run {self.pathspec} "
                f"{'is a system tag' if len(system) == 1 else 'are system tags'}; "
                f"system tags cannot be removed",
                "remove only tags that were added with --tag or add_tag (see run.user_tags)")
        return tags

    def _mutate(self, add: list[str], remove: list[str]) -> None:
        flow_name, run_id = self._components
        tags = self._provider.mutate_run_tags(flow_name, run_id, add, remove)
        self._object = dict(self._object, tags=list(tags))


def _one_or_many(tag: Any) -> list:
    """The argument of ``add_tag`` and friends as a list: one tag, or the tags of a list."""
    return list(tag) if isinstance(tag, (list, tuple, set, frozenset)) else [tag]


def _check_tags(tags: Any) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]  # a single tag given where a list was expected
    out = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise TaggingError(f"tag {tag!r} is not a non-empty string",
                                 "tags are short strings such as 'baseline' or 'exp:42'")
        if len(tag) > MAX_TAG_LENGTH:
            raise TaggingError(f"tag {tag[:40]!r}... is {len(tag)} characters long",
                                 f"use at most {MAX_TAG_LENGTH} characters")
        out.append(tag)
    return out
