"""The card stored instead of one that failed to render: which card, and why.

A failing card never fails its task; this card keeps the reason where the card would be.
"""

from __future__ import annotations

from typing import Sequence

from .card_type import CardType
from .components import Component, Error, Markdown
from .task_header import TaskHeader
from .task_info import TaskInfo


class ErrorCard(CardType):
    """Shows the failed card's type and the error (``options``: ``card_type``, ``reason``)."""

    type = "error"
    editable = False
    default_options = {"card_type": "", "card_id": None, "reason": ""}

    def title(self, task: TaskInfo) -> str:
        return f"{task.pathspec} (card failed to render)"

    def render(self, task: TaskInfo, components: Sequence[Component]) -> list[Component]:
        which = self.options["card_type"] + (f" (id {self.options['card_id']})"
                                             if self.options["card_id"] else "")
        return [TaskHeader(task, "Card error"),
                Markdown(f"The **{which}** card of this task could not be rendered. "
                         f"The task itself was not affected."),
                Error(self.options["reason"], title="Why")]
