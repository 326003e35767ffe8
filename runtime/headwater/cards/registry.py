"""Card types by name: the built-in ones (imported on first use), any registered with
``register_card_type``, and those installed packages declare as ``headwater.card_types``
entry points."""

from __future__ import annotations

from ..extensions import ExtensionGroup, extension_names, extension_target
from ..registry import load, unknown
from .card_type import CardType
from .components import CardError

CARD_TYPES: dict[str, str] = {
    "default": "headwater.cards.default_card:DefaultCard",
    "blank": "headwater.cards.blank_card:BlankCard",
    "error": "headwater.cards.error_card:ErrorCard",
    "resources": "headwater.cards.resources_card:ResourcesCard",
}

_registered: dict[str, type[CardType]] = {}


def register_card_type(cls: type[CardType]) -> type[CardType]:
    """Make ``cls`` available as ``@card(type=cls.type)`` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, CardType)) or not cls.type:
        raise CardError(f"{cls!r} is not a CardType subclass with a type name",
                        "subclass headwater.cards.CardType and set type = 'name'")
    if cls.type in CARD_TYPES:
        raise CardError(f"card type {cls.type!r} is built in", "choose another type name")
    _registered[cls.type] = cls
    return cls


def card_type_class(name: str) -> type[CardType]:
    """The class of the card type called ``name``."""
    if name in _registered:
        return _registered[name]
    group = ExtensionGroup.CARD_TYPES
    target = extension_target(CARD_TYPES, group, name)
    if target is None:  # not ``find``: the known names include those registered at run time
        raise unknown("card type", name, [*extension_names(CARD_TYPES, group), *_registered],
                      "use one of them, or register your own with @register_card_type or a "
                      "headwater.card_types entry point", CardError)
    return load(target)
