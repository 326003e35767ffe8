"""The card view: which cards a task has and their HTML, behind two functions so the
cards module (``headwater.cards``, issue 13) can be wired in one place.

Until that module exists, cards are read with Metaflow's card layout in the card root
(``METAFLOW_CARD_LOCALROOT`` / ``..._S3ROOT`` / ``..._AZUREROOT``)::

    <Flow>/runs/<run>/steps/<step>/tasks/<task>/cards/<type>-<index>-<id>-<hash>.html

The page shows a card in an iframe with ``sandbox="allow-scripts"`` (no same origin: a
card cannot read the session cookie or call the service) and the card response carries a
``Content-Security-Policy: sandbox allow-scripts`` of its own, so opening it directly is
sandboxed too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.datastore.base import StorageBackend

CARD_FILE = re.compile(r"[A-Za-z0-9_.:-]+\.html\Z")


@dataclass(frozen=True)
class CardRef:
    """One card of a task: ``id`` is its file name (checked before any read)."""

    id: str
    type: str


def card_prefix(flow: str, run: str, step: str, task: str) -> str:
    return f"{flow}/runs/{run}/steps/{step}/tasks/{task}/cards/"


def list_cards(backend: "StorageBackend", flow: str, run: str, step: str,
               task: str) -> list[CardRef]:
    """The task's cards, in name order."""
    prefix = card_prefix(flow, run, step, task)
    found = []
    for key in backend.list(prefix):
        name = key[len(prefix):] if key.startswith(prefix) else key.rsplit("/", 1)[-1]
        if CARD_FILE.match(name):
            found.append(CardRef(name, name.split("-", 1)[0]))
    return sorted(found, key=lambda c: c.id)


def read_card(backend: "StorageBackend", flow: str, run: str, step: str, task: str,
              card_id: str) -> bytes | None:
    """The card's HTML, or ``None`` when there is no such card."""
    from headwater.exceptions import DataNotFound

    if not CARD_FILE.match(card_id) or card_id.startswith("."):
        return None
    try:
        return backend.get_bytes(card_prefix(flow, run, step, task) + card_id)
    except DataNotFound:
        return None
