"""Renders a running task's cards and stores them; never lets a card fail the task.

One ``CardWriter`` per task process serves every ``@card`` (and ``@track_resources``) of the
step: it builds the ``TaskInfo`` from the flow object, renders a card in a worker thread with
the card's timeout, and stores the page in the card root. A render that raises or runs out of
time stores an error card with the reason instead; a failure to store is printed as a warning.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Sequence

from .collector import CardCollector, CardSlot
from .components import Component
from .renderer import render_card
from .stdout_tail import StdoutTail
from .storage import CardStatus, CardStore, StoredCard
from .task_info import FlowArtifacts, TaskInfo

if TYPE_CHECKING:
    from ..flowspec import FlowSpec
    from ..task import TaskContext
    from .card_type import CardType


class CardWriter:
    """Renders and stores the cards of the running task."""

    def __init__(self, flow: "FlowSpec", ctx: "TaskContext", graph: list[dict]):
        from ..current import current

        self.flow = flow
        self.ctx = ctx
        self.graph = graph
        self.parameter_names = list(current.parameter_names)
        self.started_at = time.time()
        self.finished_at: float | None = None
        self.ok: bool | None = None
        self.error: str | None = None
        self.tail = StdoutTail.install()
        self.collector = CardCollector(self._store_live)
        self._store: CardStore | None = None
        self.users = 0

    # --- the task ---------------------------------------------------------------------------

    def task_info(self, extra: dict[str, Any] | None = None) -> TaskInfo:
        spec = self.ctx.spec
        parameters = {}
        for name in self.parameter_names:
            try:
                parameters[name] = getattr(self.flow, name)
            except AttributeError:
                continue
        return TaskInfo(
            flow_name=spec.flow_name, run_id=str(spec.run_id), step_name=spec.step_name,
            task_id=str(spec.task_id), attempt=spec.attempt, user=spec.user,
            tags=list(spec.tags), started_at=self.started_at, finished_at=self.finished_at,
            ok=self.ok, error=self.error, parameters=parameters,
            artifacts=FlowArtifacts(self.flow, frozenset(self.parameter_names)),
            graph=self.graph, stdout_tail=self.tail.text(), extra=dict(extra or {}))

    def finish(self, ok: bool) -> None:
        """The step is over: no more live refreshes; the final renders follow."""
        self.collector._close()
        if self.finished_at is None:
            self.finished_at = time.time()
            self.ok = ok

    def close(self) -> None:
        self.tail.uninstall()

    # --- rendering ------------------------------------------------------------------------

    @property
    def store(self) -> CardStore:
        if self._store is None:
            self._store = CardStore.from_settings(self.ctx.settings, self.ctx.backend.TYPE)
        return self._store

    def _record(self, slot: str, card: "CardType", card_id: str | None, status: CardStatus,
                reason: str | None = None) -> StoredCard:
        spec = self.ctx.spec
        return StoredCard(spec.flow_name, str(spec.run_id), spec.step_name, str(spec.task_id),
                          spec.attempt, slot, card.type, card_id, status.value, 0.0, 0, reason)

    def _render_with_timeout(self, card: "CardType", task: TaskInfo,
                             components: Sequence[Component], meta: dict,
                             timeout: float) -> str:
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                result["page"] = render_card(card, task, components, meta)
            except BaseException as exc:  # reported as the error card's reason
                result["error"] = exc

        worker = threading.Thread(target=work, name="headwater-card-render", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise TimeoutError(f"rendering took longer than the card's timeout of {timeout:g} s")
        if "error" in result:
            raise result["error"]
        return result["page"]

    def write(self, slot: str, card: "CardType", card_id: str | None,
              components: Sequence[Component], timeout: float,
              extra: dict[str, Any] | None = None, live: bool = False,
              save_errors: bool = True) -> StoredCard | None:
        """Render and store one card; on a render failure store an error card instead
        (``save_errors``; else only warn). Returns what was stored (``None`` if nothing)."""
        status = CardStatus.RUNNING if live else CardStatus.FINAL
        record = self._record(slot, card, card_id, status)
        meta = {"id": card_id, "status": status.value, "slot": slot}
        try:
            task = self.task_info(extra)
            page = self._render_with_timeout(card, task, components, meta, timeout)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            if live:
                return None  # a failed live refresh is retried by the next one / the final render
            reason = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            if not isinstance(exc, TimeoutError):
                reason += "\n\n" + _user_traceback(exc)
            if not save_errors:
                print(f"Card warning: the {card.type} card of {self.ctx.pathspec} failed to "
                      f"render ({reason.splitlines()[0]}); no card was stored "
                      f"(save_errors=False).", file=sys.stderr)
                return None
            return self._write_error(slot, card, card_id, reason)
        try:
            return self.store.save(record, page)
        except Exception as exc:
            print(f"Card warning: the {card.type} card of {self.ctx.pathspec} could not be "
                  f"stored: {type(exc).__name__}: {exc}", file=sys.stderr)
            return None

    def _write_error(self, slot: str, card: "CardType", card_id: str | None,
                     reason: str) -> StoredCard | None:
        from .error_card import ErrorCard

        error_card = ErrorCard({"card_type": card.type, "card_id": card_id, "reason": reason})
        record = self._record(slot, card, card_id, CardStatus.ERROR, reason[:2000])
        try:
            page = render_card(error_card, self.task_info(), [],
                               {"id": card_id, "status": CardStatus.ERROR.value, "slot": slot,
                                "failed_type": card.type})
            stored = self.store.save(record, page)
        except Exception as exc:
            print(f"Card warning: the {card.type} card of {self.ctx.pathspec} failed "
                  f"({reason.splitlines()[0]}) and its error card could not be stored: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return None
        print(f"Card warning: the {card.type} card of {self.ctx.pathspec} failed to render "
              f"({reason.splitlines()[0]}); an error card was stored instead.",
              file=sys.stderr)
        return stored

    def _store_live(self, slots: list[CardSlot]) -> None:
        for slot in slots:
            with slot.lock:
                components = list(slot.components)
            self.write(slot.slot, slot.card, slot.id, components, timeout=30.0, live=True)


_active: CardWriter | None = None
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _user_traceback(exc: BaseException) -> str:
    """The traceback without the card machinery's own frames: where the card type or
    component went wrong."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(_PACKAGE + os.sep)
              or f.filename.endswith(("components.py", "values.py"))]
    return "".join(traceback.format_list(frames[-8:]))


def writer_for(flow: "FlowSpec", ctx: "TaskContext", graph: list[dict]) -> CardWriter:
    """The task's writer, shared by the step's card decorators (and ``@track_resources``);
    the first one to ask makes it and publishes ``current.card``. Each caller releases it
    with ``release_writer`` when done."""
    from ..current import current

    global _active
    if _active is None or _active.ctx is not ctx:
        _active = CardWriter(flow, ctx, graph)
        current._set_extra("card", _active.collector)
    _active.users += 1
    return _active


def release_writer(writer: CardWriter) -> None:
    """One user of ``writer`` is done; the last one restores stdout and ``current``."""
    from ..current import current

    global _active
    writer.users -= 1
    if writer.users <= 0:
        writer.close()
        if _active is writer:
            _active = None
            current._del_extra("card")
