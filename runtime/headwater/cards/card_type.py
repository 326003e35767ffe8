"""The card-type extension point: one class per kind of card, registered by name.

    from headwater.cards import CardType, Markdown, register_card_type

    @register_card_type
    class LossCard(CardType):
        type = "loss"

        def render(self, task, components):
            return [Markdown(f"# Loss of {task.pathspec}"),
                    Markdown(f"final loss: {task.artifacts['loss']:.3f}")] + components

    @card(type="loss")
    @step
    def train(self): ...

``render`` gets the task (``TaskInfo``) and what the step appended with ``current.card``, and
returns the components to show; the page around them (styles, inlined libraries) is the
framework's. Register the class in a module the flow imports (or in the flow file itself):
``@register_card_type`` adds it for the process; built-in types are listed in
``cards/registry.py``.
"""

from __future__ import annotations

from typing import Any, Sequence

from .components import Component
from .task_info import TaskInfo


class CardType:
    """Base of every card type."""

    #: The name used in ``@card(type=...)``.
    type: str = ""
    #: Whether ``current.card.append`` adds components to this card.
    editable: bool = True
    #: Options ``@card(options={...})`` accepts, with their defaults.
    default_options: dict[str, Any] = {}

    def __init__(self, options: dict[str, Any] | None = None):
        from .components import CardError

        options = dict(options or {})
        unknown = sorted(set(options) - set(self.default_options))
        if unknown:
            raise CardError(f"card type {self.type!r} has no option(s) {', '.join(unknown)}",
                            f"its options: {', '.join(self.default_options) or 'none'}")
        self.options = {**self.default_options, **options}

    def title(self, task: TaskInfo) -> str:
        return f"{task.pathspec} ({self.type} card)"

    def render(self, task: TaskInfo, components: Sequence[Component]) -> list[Component]:
        """The components the card shows."""
        raise NotImplementedError
