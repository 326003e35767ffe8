"""Where cards are kept: the datastore's card root, next to the task.

The card root is ``METAFLOW_CARD_LOCALROOT`` / ``METAFLOW_CARD_AZUREROOT`` /
``METAFLOW_CARD_S3ROOT`` for the task's datastore type, else ``<sysroot>/mf.cards``
(``StorageBackend.for_cards``). Under it, each card of an attempt is two objects:

    <Flow>/<run>/<step>/<task>/cards/<attempt>.<slot>.html   the self-contained page
    <Flow>/<run>/<step>/<task>/cards/<attempt>.<slot>.json   type, id, status, time, size

The page is written first and the description last (each atomically), so a reader that
finds a description always finds its page; a live card is rewritten in place as the task
runs, and the final render replaces it.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from enum import Enum
from typing import TYPE_CHECKING

from ..exceptions import DataNotFound
from .components import CardError

if TYPE_CHECKING:
    from ..datastore.base import StorageBackend
    from ..settings import Settings

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")


class CardStatus(str, Enum):
    """The state of a stored card."""

    RUNNING = "running"  # a live card: the task is still running
    FINAL = "final"
    ERROR = "error"  # the card failed to render; the page says why


def check_name(value: str, what: str) -> str:
    """A card id or type name, safe in a storage key."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise CardError(f"{what} {value!r} is not a valid name",
                        "use letters, digits, '_', '-' and '.', starting with a letter, digit "
                        "or '_' (at most 80 characters)")
    return value


@dataclass
class StoredCard:
    """The description of one stored card."""

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    attempt: int
    slot: str
    type: str
    id: str | None
    status: str
    updated_at: float
    size: int
    reason: str | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "StoredCard":
        return cls(**json.loads(data))


def card_backend(settings: "Settings", ds_type: str | None = None) -> "StorageBackend":
    """The card root of datastore type ``ds_type`` (default: the configured one)."""
    from ..datastore import backend_class

    return backend_class(ds_type or settings.datastore_type).for_cards(settings)


def _slot_order(card: StoredCard) -> tuple:
    return (0, int(card.slot), "") if card.slot.isdigit() else (1, 0, card.slot)


class CardStore:
    """Reads and writes the cards of tasks in one card root."""

    def __init__(self, backend: "StorageBackend"):
        self.backend = backend

    @classmethod
    def from_settings(cls, settings: "Settings", ds_type: str | None = None) -> "CardStore":
        return cls(card_backend(settings, ds_type))

    @staticmethod
    def _prefix(flow_name: str, run_id: str, step_name: str, task_id: str) -> str:
        return f"{flow_name}/{run_id}/{step_name}/{task_id}/cards/"

    def _key(self, card: StoredCard, suffix: str) -> str:
        base = self._prefix(card.flow_name, card.run_id, card.step_name, card.task_id)
        return f"{base}{card.attempt}.{card.slot}.{suffix}"

    def save(self, card: StoredCard, page: str) -> StoredCard:
        """Store ``page`` as ``card`` (its size and time are filled in)."""
        check_name(card.slot, "card slot")
        check_name(card.type, "card type")
        data = page.encode("utf-8")
        card.size = len(data)
        card.updated_at = time.time()
        self.backend.put_bytes(self._key(card, "html"), data)
        self.backend.put_bytes(self._key(card, "json"), card.to_json())
        return card

    def list(self, flow_name: str, run_id: str, step_name: str, task_id: str,
             attempt: int | None = None) -> list[StoredCard]:
        """The task's cards (of ``attempt``, default: the latest attempt that has cards)."""
        prefix = self._prefix(flow_name, str(run_id), step_name, str(task_id))
        keys = [k for k in self.backend.list(prefix) if k.endswith(".json")]
        cards = [StoredCard.from_json(data) for _, data in self.backend.get_many(keys)]
        if not cards:
            return []
        wanted = attempt if attempt is not None else max(c.attempt for c in cards)
        return sorted((c for c in cards if c.attempt == wanted), key=_slot_order)

    def describe(self, card: StoredCard) -> StoredCard:
        """The card's current description (a live card changes while its task runs)."""
        try:
            return StoredCard.from_json(self.backend.get_bytes(self._key(card, "json")))
        except DataNotFound:
            return card

    def html(self, card: StoredCard) -> str:
        """The card's page."""
        return self.backend.get_bytes(self._key(card, "html")).decode("utf-8")
