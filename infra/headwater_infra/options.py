"""From stack configuration to the components' typed arguments.

A component's ``...Args`` dataclass lists what it is wired to (fields without a default:
resource group, subnet ids, ...) and its knobs (fields with a default). A stack's
``Pulumi.<env>.yaml`` sets knobs with camelCase keys; ``parse_knobs`` checks each value
against the field's type and returns keyword arguments for the dataclass, so a knob is
declared once, on the component, and a typo in a YAML file is an error that names the key
and the keys that exist::

    headwater-azure:storage:
      softDeleteDays: 14        # -> StorageArgs.soft_delete_days

No component reads Pulumi config itself: only the stack programs call ``read_config``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import sys
import types
import typing
from typing import Any, Literal, Mapping

__all__ = ["ConfigError", "WIRED", "parse_knobs", "parse_value", "read_config", "camel",
           "snake"]

# Field metadata for a field with a default that the stack sets, not the YAML (``protect``:
# derived from the environment, so no file can forget or override it).
WIRED = {"wired": True}


class ConfigError(ValueError):
    """A stack configuration value is missing or has the wrong shape."""


def camel(name: str) -> str:
    """``soft_delete_days`` -> ``softDeleteDays``."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def snake(name: str) -> str:
    """``softDeleteDays`` -> ``soft_delete_days``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def read_config(config: Any, keys: typing.Iterable[str]) -> dict[str, Any]:
    """Read a stack's settings from a ``pulumi.Config``: ``keys`` and any other key set in
    the config's namespace (so that ``StackSettings.load`` can report a misspelt one).
    Structured values come back as JSON text, plain strings as themselves."""
    from pulumi.runtime import config as runtime

    prefix = f"{config.name}:"
    present = {k[len(prefix):] for k in [*runtime.CONFIG.get(), *runtime.get_config_env()]
               if k.startswith(prefix)}
    values: dict[str, Any] = {}
    for key in sorted(set(keys) | present):
        raw = config.get(key)
        if raw is None:
            continue
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    return values


def _has_default(field: dataclasses.Field) -> bool:
    return (field.default is not dataclasses.MISSING
            or field.default_factory is not dataclasses.MISSING)  # type: ignore[misc]


def _is_knob(field: dataclasses.Field) -> bool:
    return _has_default(field) and not field.metadata.get("wired")


def parse_knobs(cls: type, raw: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """Keyword arguments for ``cls`` from the camelCase mapping ``raw`` found at ``where``
    (e.g. ``headwater-azure:storage``). Only fields with a default are settable."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping of settings, not {_describe(raw)}")
    knobs = {camel(f.name): f for f in dataclasses.fields(cls) if _is_knob(f)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        field = knobs.get(key)
        if field is None:
            raise ConfigError(_unknown_key(key, where, sorted(knobs)))
        kwargs[field.name] = parse_value(_hint(cls, field), value, f"{where}.{key}")
    return kwargs


def _hint(cls: type, field: dataclasses.Field) -> Any:
    """The field's type. Evaluated one field at a time: wiring fields may name types
    (``pulumi.Input[...]``) that only resolve inside Pulumi's own modules."""
    if not isinstance(field.type, str):
        return field.type
    return eval(field.type, vars(sys.modules[cls.__module__]))  # noqa: S307 - our own code


def parse_value(hint: Any, value: Any, where: str) -> Any:
    """Check ``value`` against the type ``hint`` and convert it (nested dataclasses,
    ``Optional``, ``Literal``, ``list``, ``dict``, scalars)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return parse_value(inner[0], value, where)
    if origin is Literal:
        if value not in args and str(value) in args:
            value = str(value)  # read_config reads the text "16" as the number 16
        if value not in args:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, args))}, "
                              f"not {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, not {_describe(value)}")
        return [parse_value(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, not {_describe(value)}")
        return {str(k): parse_value(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return _parse_dataclass(hint, value, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(f"{where} must be a whole number, not {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{where} must be a whole number, not {value!r}") from None
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, not {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(f"{where} must be a string, not {_describe(value)}")
        return str(value)
    raise TypeError(f"parse_value does not handle {hint!r} (at {where})")


def _parse_dataclass(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping of settings, not {_describe(value)}")
    fields = {camel(f.name): f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            raise ConfigError(_unknown_key(key, where, sorted(fields)))
        kwargs[field.name] = parse_value(_hint(cls, field), item, f"{where}.{key}")
    missing = [camel(f.name) for f in dataclasses.fields(cls)
               if not _has_default(f) and f.name not in kwargs]
    if missing:
        raise ConfigError(f"{where} is missing {', '.join(missing)}")
    try:
        return cls(**kwargs)
    except ValueError as exc:  # the dataclass's own checks (__post_init__)
        raise ConfigError(f"{where}: {exc}") from None


def _unknown_key(key: str, where: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{where} has no setting {key!r}{hint} (settings: {', '.join(known)})"


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if not isinstance(value, (dict, list)) \
        else f"a {type(value).__name__}"
