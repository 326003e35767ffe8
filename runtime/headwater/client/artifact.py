"""``DataArtifact("Flow/12/train/3/model")``: one stored artifact of a task.

    artifact = Task("HelloFlow/12/start/2").artifacts.system_info
    artifact.sha, artifact.size, artifact.finished_at
    artifact.data                     # loaded here, once per DataArtifact object

Large arrays are memory-mapped from the datastore (copy-on-write: changing the array never
changes what is stored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from ..exceptions import DataNotFound
from ._object import MetaflowObject, to_datetime

_NOT_LOADED = object()


class DataArtifact(MetaflowObject[NoReturn]):  # no children
    """An artifact of a task's attempt (the latest unless ``attempt`` is given)."""

    _NAME = "artifact"
    _DEPTH = 5
    _FORM = "FlowName/RunId/StepName/TaskId/ArtifactName"

    def __init__(self, pathspec: str | None = None, attempt: int | None = None, *,
                 _object: dict | None = None, _parent: MetaflowObject | None = None,
                 _namespace_check: bool = True):
        self._attempt_arg = attempt
        self._value: Any = _NOT_LOADED
        super().__init__(pathspec, _object=_object, _parent=_parent,
                         _namespace_check=_namespace_check)

    def _fetch(self, components: list[str]) -> dict:
        from .task import Task

        task = Task("/".join(components[:4]), attempt=self._attempt_arg, _namespace_check=False)
        artifact = task._artifact(components[4])
        if artifact is None:
            raise task._missing_artifact(components[4])
        self._parent = task
        return artifact._object

    def _components_of(self, obj: dict, parent) -> list[str]:
        return parent._components + [obj["name"]]

    def _parent_class(self) -> type:
        from .task import Task

        return Task

    def _children(self) -> list:
        return []

    def _child(self, child_id: str):
        raise TypeError("an artifact has no children; read its value with .data")

    @property
    def task(self):
        """The task that holds the artifact."""
        return self.parent

    @property
    def sha(self) -> str:
        """The content hash the artifact is stored under (equal values share it)."""
        return self._object["sha"]

    @property
    def size(self) -> int | None:
        """Stored size in bytes (``None`` when only the metadata record was reachable)."""
        return self._object.get("size")

    @property
    def type(self) -> str:
        """The Python type name of the value, as recorded when it was stored."""
        return self._object.get("type", "")

    @property
    def data(self) -> Any:
        """The value, loaded from the datastore on first access."""
        if self._value is _NOT_LOADED:
            store = self.parent._store()  # type: ignore[union-attr]
            try:
                self._value = store.cas.load(self.sha, self.size)
            except DataNotFound as exc:
                raise DataNotFound(
                    f"artifact {self.pathspec} is missing from the datastore "
                    f"{store.backend.root} ({exc.message})",
                    "its stored blob was removed outside Headwater; run the step again "
                    "(python flow.py resume STEP)") from None
        return self._value

    @property
    def created_at(self) -> datetime | None:
        """When the artifact was recorded (the metadata row), else when its task ended."""
        task = self.parent
        for row in task._rows_of_artifacts():  # type: ignore[union-attr]
            if row.get("name") == self.id and row.get("ts_epoch") is not None:
                return to_datetime(row["ts_epoch"])
        return task.finished_at  # type: ignore[union-attr]

    finished_at = created_at
