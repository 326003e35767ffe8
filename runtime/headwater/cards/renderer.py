"""A card type's components turned into the stored page."""

from __future__ import annotations

from typing import Sequence

from .card_type import CardType
from .components import Component
from .task_info import TaskInfo
from .template import page_assets, render_page


def render_card(card: CardType, task: TaskInfo, components: Sequence[Component],
                meta: dict | None = None) -> str:
    """The complete HTML page of ``card`` for ``task``."""
    shown = card.render(task, list(components))
    body = "".join(component.render() for component in shown)
    return render_page(card.title(task), body, page_assets(shown),
                       {"type": card.type, "pathspec": task.pathspec, **(meta or {})})
