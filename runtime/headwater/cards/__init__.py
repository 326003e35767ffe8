"""Cards: HTML reports of tasks, stored with them.

    from headwater import card, current, step
    from headwater.cards import Markdown, Table, Image, VegaChart, get_cards

Components (``components.py``) are what a step appends with ``current.card``; card types
(``card_type.py``, registered in ``registry.py``) turn a task and its components into a
page (``template.py``: one self-contained HTML file); ``storage.py`` keeps cards in the
datastore's card root; ``get_cards`` reads them back. Names load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Markdown": "headwater.cards.components",
    "Table": "headwater.cards.components",
    "Image": "headwater.cards.components",
    "Artifact": "headwater.cards.components",
    "Error": "headwater.cards.components",
    "Section": "headwater.cards.components",
    "ProgressBar": "headwater.cards.components",
    "VegaChart": "headwater.cards.components",
    "Component": "headwater.cards.components",
    "CardError": "headwater.cards.components",
    "CardType": "headwater.cards.card_type",
    "TaskInfo": "headwater.cards.task_info",
    "register_card_type": "headwater.cards.registry",
    "get_cards": "headwater.cards.client",
    "Card": "headwater.cards.client",
    "CardList": "headwater.cards.client",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'headwater.cards' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
