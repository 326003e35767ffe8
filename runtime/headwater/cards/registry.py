"""Card types by name: the built-in ones (imported on first use), any registered with
``register_card_type``, and those installed packages declare as ``headwater.card_types``
entry points."""

from __future__ import annotations

from ..registry import load
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
    from ..extensions import ExtensionGroup, extension_names, extension_target

    if name in _registered:
        return _registered[name]
    group = ExtensionGroup.CARD_TYPES
    target = extension_target(CARD_TYPES, group, name)
    if target is None:
        known = sorted(set(extension_names(CARD_TYPES, group)) | set(_registered))
        raise CardError(f"unknown card type {name!r}",
                        f"use one of {', '.join(known)}, or register your own with "
                        f"@register_card_type or a headwater.card_types entry point")
    return load(target)
