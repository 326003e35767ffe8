"""``@card``: an HTML report of the task, stored with it.

    @card                                   # the default card: task, parameters, DAG, artifacts
    @card(type="blank", id="metrics")       # only what the step appends
    @step
    def train(self):
        current.card.append(Markdown("# Training"))
        current.card["metrics"].append(Table(rows, headers=["epoch", "loss"]))

Several ``@card`` may decorate one step. Each card renders when the task ends (whether the
step succeeded or not), within ``timeout`` seconds, into one self-contained HTML file in the
datastore's card root; ``current.card.refresh()`` stores a live version while the task runs.
A card that fails to render stores an error card instead: the task is never failed by a card.
See docs/cards.md.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .base import DecoratorError, SpinUse, StepDecorator

if TYPE_CHECKING:
    from ..cards.writer import CardWriter
    from ..flowspec import FlowSpec
    from ..graph import FlowGraph
    from ..task import TaskContext


class CardDecorator(StepDecorator):
    """Store an HTML card for each task of the step.

    ``type``: ``default`` (task, parameters, DAG, artifacts, stdout), ``blank`` (only appended
    components) or a registered custom type. ``id``: names the card for
    ``current.card[id]`` and ``card view --id``. ``options``: the card type's options.
    ``timeout``: seconds the render may take before an error card is stored instead.
    ``save_errors``: store an error card when the render fails (else no card).
    ``customize``: this card is the one ``current.card.append`` adds to, when the step has
    several editable cards (at most one may say so).
    """

    name = "card"
    spin_use = SpinUse.APPLIED
    defaults = {"type": "default", "id": None, "options": {}, "timeout": 45,
                "save_errors": True, "customize": False}
    allow_multiple = True

    def __init__(self, attributes: dict[str, Any] | None = None, from_cli: bool = False):
        super().__init__(attributes, from_cli)
        self._graph: list[dict] = []
        self._slot = "0"
        self._writer: "CardWriter | None" = None
        self._card: Any = None

    def _card_type(self):
        from ..cards.components import CardError
        from ..cards.registry import card_type_class

        try:
            return card_type_class(self.attributes["type"])(self.attributes["options"] or {})
        except CardError as exc:
            raise DecoratorError(f"@card(type={self.attributes['type']!r}): {exc.message}",
                                 exc.fix) from None

    def step_init(self, flow_cls: type["FlowSpec"], graph: "FlowGraph", step_name: str) -> None:
        from ..cards.components import CardError
        from ..cards.storage import check_name

        card_id = self.attributes["id"]
        if card_id is not None:
            try:
                check_name(card_id, "@card id")
            except CardError as exc:
                raise DecoratorError(f"step {step_name!r}: {exc.message}", exc.fix) from None
        timeout = self.attributes["timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise DecoratorError(f"@card(timeout={timeout!r}) on step {step_name!r} must be a "
                                 f"positive number of seconds")
        if not isinstance(self.attributes["options"] or {}, dict):
            raise DecoratorError(f"@card(options=...) on step {step_name!r} must be a dict")
        self._card_type()  # unknown type or option: fail before the run starts
        cards = [d for d in graph[step_name].decorators if isinstance(d, CardDecorator)]
        ids = [d.attributes["id"] for d in cards if d.attributes["id"] is not None]
        if len(ids) != len(set(ids)):
            raise DecoratorError(f"step {step_name!r} has two @card with the same id",
                                 "give each card its own id")
        if sum(bool(d.attributes["customize"]) for d in cards) > 1:
            raise DecoratorError(f"step {step_name!r} has several @card(customize=True)",
                                 "set customize=True on one card only")
        self._slot = str(cards.index(self))
        self._graph = graph.describe()

    def task_pre_step(self, flow: "FlowSpec", ctx: "TaskContext") -> None:
        from ..cards.collector import CardSlot
        from ..cards.writer import writer_for

        try:
            self._card = self._card_type()
            self._writer = writer_for(flow, ctx, self._graph or _describe(flow))
            self._writer.collector._add(CardSlot(self._slot, self._card, self.attributes["id"],
                                                 bool(self.attributes["customize"])))
        except Exception as exc:  # a card never fails the task
            print(f"Card warning: @card could not start: {exc}", file=sys.stderr)
            self._writer = None

    def task_exception(self, flow: "FlowSpec", ctx: "TaskContext", exc: BaseException) -> bool:
        if self._writer is not None and self._writer.error is None:
            self._writer.error = f"{type(exc).__name__}: {exc}"
        return False

    def task_finished(self, flow: "FlowSpec", ctx: "TaskContext", ok: bool) -> None:
        from ..cards.writer import release_writer

        writer = self._writer
        if writer is None:
            return
        try:
            writer.finish(ok)
            slot = next(s for s in writer.collector.slots if s.slot == self._slot)
            writer.write(self._slot, self._card, self.attributes["id"], list(slot.components),
                         timeout=float(self.attributes["timeout"]),
                         save_errors=bool(self.attributes["save_errors"]))
        finally:
            release_writer(writer)
            self._writer = None


def _describe(flow: "FlowSpec") -> list[dict]:
    """The graph when ``step_init`` did not run in this process."""
    from ..graph import FlowGraph

    return FlowGraph(type(flow)).describe()
