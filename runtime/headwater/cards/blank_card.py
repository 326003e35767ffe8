"""The blank card: only what the step appended with ``current.card``."""

from __future__ import annotations

from typing import Sequence

from .card_type import CardType
from .components import Component
from .task_info import TaskInfo


class BlankCard(CardType):
    """A page of the step's own components, nothing else."""

    type = "blank"

    def title(self, task: TaskInfo) -> str:
        return task.pathspec

    def render(self, task: TaskInfo, components: Sequence[Component]) -> list[Component]:
        return list(components)
