"""The card view: which cards a task attempt has and their HTML, behind two functions so
the cards module (``headwater.cards``, issue 13) is wired in one place.

Cards live in the card root (``METAFLOW_CARD_LOCALROOT`` / ``..._S3ROOT`` /
``..._AZUREROOT``, else ``<sysroot>/mf.cards``) in the layout ``headwater.cards.storage``
writes; each card of an attempt is two objects::

    <Flow>/<run>/<step>/<task>/cards/<attempt>.<slot>.html   the self-contained page
    <Flow>/<run>/<step>/<task>/cards/<attempt>.<slot>.json   type, id, status, time, size

When ``headwater.cards`` is installed its ``CardStore`` reads them; without it (a service
built before the cards module) the same layout is read here.

The page shows a card in an iframe with ``sandbox="allow-scripts"`` (no same origin: a
card's script cannot read the session cookie, the page, or call the service as the user),
and the card response carries ``Content-Security-Policy: sandbox allow-scripts`` as well,
so opening its address directly is sandboxed too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.datastore.base import StorageBackend

# "<attempt>.<slot>": what the page asks for; checked before it becomes part of a key
CARD_ID = re.compile(r"(\d{1,9})\.([A-Za-z0-9_][A-Za-z0-9_.-]{0,79})\Z")


@dataclass(frozen=True)
class CardRef:
    """One card of a task attempt."""

    id: str  # "<attempt>.<slot>"
    type: str
    status: str


def card_prefix(flow: str, run: str, step: str, task: str) -> str:
    return f"{flow}/{run}/{step}/{task}/cards/"


def list_cards(backend: "StorageBackend", flow: str, run: str, step: str, task: str,
               attempt: int) -> list[CardRef]:
    """The attempt's cards, in slot order."""
    try:
        from headwater.cards.storage import CardStore
    except ImportError:
        return _list_stored(backend, flow, run, step, task, attempt)
    return [CardRef(f"{c.attempt}.{c.slot}", c.type, c.status)
            for c in CardStore(backend).list(flow, run, step, task, attempt)]


def _list_stored(backend: "StorageBackend", flow: str, run: str, step: str, task: str,
                 attempt: int) -> list[CardRef]:
    prefix = card_prefix(flow, run, step, task)
    found = []
    for key in backend.list(prefix):
        name = key[len(prefix):]
        if not name.endswith(".json") or not CARD_ID.match(name[:-5]):
            continue
        card_id = name[:-5]
        if int(card_id.split(".", 1)[0]) != attempt:
            continue
        try:
            described = json.loads(backend.get_bytes(key))
        except (ValueError, OSError):
            continue
        if isinstance(described, dict):
            found.append(CardRef(card_id, str(described.get("type", "")),
                                 str(described.get("status", ""))))
    return sorted(found, key=lambda c: (not c.id.split(".", 1)[1].isdigit(), c.id))


def read_card(backend: "StorageBackend", flow: str, run: str, step: str, task: str,
              card_id: str) -> bytes | None:
    """The card's HTML, or ``None`` when there is no such card."""
    from headwater.exceptions import DataNotFound

    if not CARD_ID.match(card_id) or ".." in card_id:
        return None
    try:
        return backend.get_bytes(card_prefix(flow, run, step, task) + card_id + ".html")
    except DataNotFound:
        return None
