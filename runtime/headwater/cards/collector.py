"""``current.card``: what a step adds to its cards while it runs.

    current.card.append(Markdown("# Training"))          # the step's default editable card
    current.card["metrics"].append(Table(rows))           # the card with id="metrics"
    bar = ProgressBar(max=epochs); current.card.append(bar)
    for epoch in range(epochs):
        ...; bar.update(epoch + 1); current.card.refresh()  # store a live version now

With one ``@card`` on the step, ``append`` goes to it; with several, to the one without an
``id`` (a step with several cards and none without an id uses ``current.card[id]``). A call
that has no card to go to prints one warning and is otherwise ignored: cards never fail a
task.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .components import Component, as_component

if TYPE_CHECKING:
    from .card_type import CardType

#: ``refresh`` stores a live card at most this often; calls in between are coalesced.
REFRESH_INTERVAL_SECONDS = 1.0


class CardSlot:
    """One ``@card`` of the running step: its type, id and the components appended."""

    def __init__(self, slot: str, card: "CardType", card_id: str | None,
                 customize: bool = False):
        self.slot = slot
        self.card = card
        self.id = card_id
        self.customize = customize  # the step's default editable card, whatever the others
        self.components: list[Component] = []
        self.lock = threading.Lock()

    @property
    def editable(self) -> bool:
        return self.card.editable


class CardHandle:
    """The components of one card: ``append``, ``extend``, ``clear``, ``refresh``."""

    def __init__(self, collector: "CardCollector", slot: CardSlot | None, what: str):
        self._collector = collector
        self._slot = slot
        self._what = what

    def _target(self) -> CardSlot | None:
        if self._slot is None:
            self._collector._warn(self._what)
        return self._slot

    def append(self, component: Any) -> None:
        slot = self._target()
        if slot is not None:
            with slot.lock:
                slot.components.append(as_component(component))

    def extend(self, components: Iterable[Any]) -> None:
        for component in components:
            self.append(component)

    def clear(self) -> None:
        slot = self._target()
        if slot is not None:
            with slot.lock:
                slot.components.clear()

    @property
    def components(self) -> list[Component]:
        slot = self._slot
        return list(slot.components) if slot is not None else []

    def refresh(self) -> None:
        """Store this card now with what it has so far (at most once a second)."""
        slot = self._target()
        if slot is not None:
            self._collector._schedule_refresh([slot])


class CardCollector(CardHandle):
    """``current.card``: the step's default editable card, and ``[id]`` for the others."""

    def __init__(self, store_live: Callable[[list[CardSlot]], None]):
        self._slots: list[CardSlot] = []
        self._store_live = store_live
        self._warned: set[str] = set()
        self._last_refresh = 0.0
        self._pending: set[str] = set()
        self._timer: threading.Timer | None = None
        self._refresh_lock = threading.Lock()
        self._closed = False
        super().__init__(self, None, "")

    # --- set up by @card -------------------------------------------------------------------

    def _add(self, slot: CardSlot) -> None:
        self._slots.append(slot)
        self._slot, self._what = self._default_slot()

    def _default_slot(self) -> tuple[CardSlot | None, str]:
        editable = [s for s in self._slots if s.editable]
        chosen = [s for s in editable if s.customize]
        if len(chosen) == 1:
            return chosen[0], ""
        if len(editable) == 1:
            return editable[0], ""
        without_id = [s for s in editable if s.id is None]
        if len(without_id) == 1:
            return without_id[0], ""
        if not self._slots:
            return None, "this step has no @card"
        if not editable:
            return None, "no @card on this step is editable"
        ids = ", ".join(repr(s.id) for s in editable if s.id)
        return None, (f"this step has several editable cards; use current.card[id] "
                      f"(ids: {ids})")

    @property
    def slots(self) -> list[CardSlot]:
        return list(self._slots)

    # --- the user API ------------------------------------------------------------------------

    def __getitem__(self, card_id: str) -> CardHandle:
        found = next((s for s in self._slots if s.id == card_id), None)
        if found is not None and not found.editable:
            return CardHandle(self, None, f"the card with id {card_id!r} is not editable")
        ids = ", ".join(repr(s.id) for s in self._slots if s.id) or "none"
        return CardHandle(self, found, f"no @card(id={card_id!r}) on this step (ids: {ids})")

    def __contains__(self, card_id: object) -> bool:
        return any(s.id == card_id for s in self._slots)

    def refresh(self) -> None:
        """Store every editable card now (at most once a second)."""
        if self._slot is not None:
            self._schedule_refresh([self._slot])
        else:
            self._schedule_refresh([s for s in self._slots if s.editable])

    # --- internals ---------------------------------------------------------------------------

    def _warn(self, what: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            print(f"Card warning: {what}; the call is ignored.", file=sys.stderr)

    def _schedule_refresh(self, slots: list[CardSlot]) -> None:
        with self._refresh_lock:
            if self._closed:
                return
            self._pending.update(s.slot for s in slots)
            wait = self._last_refresh + REFRESH_INTERVAL_SECONDS - time.monotonic()
            if wait <= 0:
                self._flush_locked()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._flush)
                self._timer.daemon = True
                self._timer.start()

    def _flush(self) -> None:
        with self._refresh_lock:
            self._timer = None
            if not self._closed:
                self._flush_locked()

    def _flush_locked(self) -> None:
        slots = [s for s in self._slots if s.slot in self._pending]
        self._pending.clear()
        self._last_refresh = time.monotonic()
        if slots:
            self._store_live(slots)

    def _close(self) -> None:
        """No more live refreshes (the final render follows)."""
        with self._refresh_lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
