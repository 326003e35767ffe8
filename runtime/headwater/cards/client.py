"""Reading cards back: ``get_cards(task)``.

    from headwater import Task
    from headwater.cards import get_cards
    cards = get_cards(Task("TrainFlow/12/train/4"))   # or get_cards("TrainFlow/12/train/4")
    cards[0].html, cards[0].type, cards[0].id
    cards["metrics"]                                  # by id
    cards[0]                                          # in Jupyter: shows the card

Cards are read from the card root of the datastore the task wrote to (its ``ds-type``).
"""

from __future__ import annotations

import html as _html
from typing import TYPE_CHECKING, Iterator

from ..exceptions import ObjectNotFound

if TYPE_CHECKING:
    from ..client.task import Task
    from .storage import CardStore, StoredCard


class Card:
    """One stored card: ``.html``, ``.id``, ``.type``, ``.status`` (read on first use)."""

    def __init__(self, store: "CardStore", stored: "StoredCard"):
        self._store = store
        self._stored = stored
        self._html: str | None = None

    @property
    def id(self) -> str | None:
        return self._stored.id

    @property
    def type(self) -> str:
        return self._stored.type

    @property
    def status(self) -> str:
        """``final``, ``running`` (a live card of a task still running) or ``error``."""
        return self._stored.status

    @property
    def pathspec(self) -> str:
        return self._stored.pathspec

    @property
    def attempt(self) -> int:
        return self._stored.attempt

    @property
    def stored(self) -> "StoredCard":
        return self._stored

    @property
    def html(self) -> str:
        """The card's complete, self-contained HTML page."""
        if self._html is None:
            self._html = self._store.html(self._stored)
        return self._html

    def refresh(self) -> "Card":
        """Read the card again (a live card changes while its task runs)."""
        self._stored = self._store.describe(self._stored)
        self._html = None
        return self

    def _repr_html_(self) -> str:
        # An iframe keeps the card's styles and scripts to itself inside a notebook.
        return (f'<iframe srcdoc="{_html.escape(self.html, quote=True)}" '
                f'style="width:100%;height:640px;border:1px solid #ddd" '
                f'sandbox="allow-scripts"></iframe>')

    def __repr__(self) -> str:
        ident = f" id={self.id!r}" if self.id else ""
        return f"<Card {self.type}{ident} of {self.pathspec} ({self.status})>"


class CardList:
    """The cards of one task, in the order the step declares them; index by position or id."""

    def __init__(self, pathspec: str, cards: list[Card]):
        self.pathspec = pathspec
        self._cards = cards

    def __len__(self) -> int:
        return len(self._cards)

    def __iter__(self) -> Iterator[Card]:
        return iter(self._cards)

    def __getitem__(self, key: int | str) -> Card:
        if isinstance(key, int):
            return self._cards[key]
        for found in self._cards:
            if found.id == key:
                return found
        ids = ", ".join(repr(c.id) for c in self._cards if c.id) or "none"
        raise KeyError(f"task {self.pathspec} has no card with id {key!r} (ids: {ids})")

    def _repr_html_(self) -> str:
        return "".join(c._repr_html_() for c in self._cards)

    def __repr__(self) -> str:
        return f"<CardList of {self.pathspec}: {', '.join(repr(c) for c in self._cards)}>"


def _as_task(task: "Task | str") -> "Task":
    from ..client.task import Task

    if isinstance(task, str):
        return Task(task)
    if not isinstance(task, Task):
        raise TypeError(f"get_cards takes a Task or a task pathspec, not {type(task).__name__}")
    return task


def card_store_for(task: "Task") -> "CardStore":
    """The card store of the datastore the task wrote to."""
    from ..client._services import services
    from .storage import CardStore

    ds_type = task.metadata_dict.get("ds-type")
    return CardStore.from_settings(services().settings, ds_type)


def get_cards(task: "Task | str", id: str | None = None, type: str | None = None,
              attempt: int | None = None) -> CardList:
    """The cards of ``task`` (a ``Task`` or ``"Flow/run/step/task"``), optionally only those
    with ``id`` or of ``type``, of the task's latest attempt (or ``attempt``). A task that
    ``resume`` reused from an earlier run has the original task's cards."""
    found = _as_task(task)
    store = card_store_for(found)
    flow_name, run_id, step_name, task_id = found.pathspec.split("/")
    if attempt is None:
        attempt = found.current_attempt
    stored = store.list(flow_name, run_id, step_name, task_id, attempt)
    if not stored and found.origin_pathspec:
        # `resume` reused this task from an earlier run: its cards are the original's.
        return get_cards(found.origin_pathspec, id=id, type=type)
    cards = [Card(store, s) for s in stored
             if (id is None or s.id == id) and (type is None or s.type == type)]
    return CardList(found.pathspec, cards)


def no_cards_error(pathspec: str, id: str | None = None) -> ObjectNotFound:
    which = f" with id {id!r}" if id else ""
    return ObjectNotFound(f"task {pathspec} has no card{which}",
                          "add @card to the step (or run it again with --with card)")
