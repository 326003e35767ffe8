"""What a card type is told about the task it describes.

Built by ``@card`` in the task process when the card renders (at the end of the task, or on
``current.card.refresh()``); artifacts are read from the running flow object, so a card needs
no datastore read of its own and works the same for local and remote tasks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ..status import Status

if TYPE_CHECKING:
    from ..flowspec import FlowSpec


class FlowArtifacts(Mapping[str, Any]):
    """The task's artifacts by name, each value read from the flow object on access
    (inherited ones load from the datastore then, not before)."""

    def __init__(self, flow: "FlowSpec | None", exclude: frozenset[str] = frozenset()):
        self._flow = flow
        self._exclude = exclude
        self._found: list[str] | None = None

    @property
    def _names(self) -> list[str]:
        # Listed on first use: a card type that never looks at artifacts never touches the
        # flow object (a live card renders from another thread while the step runs).
        if self._found is None:
            flow = self._flow
            names = flow._artifact_names() if flow is not None else ()
            self._found = sorted(n for n in names if n not in self._exclude)
        return self._found

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        return getattr(self._flow, name)

    def unloaded(self, name: str) -> tuple[int | None, str] | None:
        """``(stored bytes, type name)`` of an artifact inherited from a parent and not read
        by this task yet (reading it would load it), else None."""
        flow = self._flow
        if flow is None or name in flow.__dict__:
            return None
        info = flow._state().artifacts.get(name)
        return (info.size, info.type) if info is not None else None

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@dataclass
class TaskInfo:
    """The task a card describes."""

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    attempt: int = 0
    user: str | None = None
    tags: list[str] = field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None
    #: None while the task runs; then whether the step body succeeded.
    ok: bool | None = None
    error: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: Mapping[str, Any] = field(default_factory=dict)
    #: The flow's steps as ``FlowGraph.describe()`` lists them.
    graph: list[dict] = field(default_factory=list)
    stdout_tail: str = ""
    #: Extra data for a card type (e.g. the resource series of ``@track_resources``).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    @property
    def running(self) -> bool:
        return self.ok is None

    @property
    def status(self) -> Status:
        return Status.RUNNING if self.ok is None else Status.ended(self.ok)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at
