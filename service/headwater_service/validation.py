"""Checks a decoded JSON body against the schemas in ``schemas.py``.

The same schema dicts are published in ``/openapi.json``, so what the document promises is
what is enforced. Only the JSON Schema keywords those schemas use are implemented: ``type``,
``properties``, ``required``, ``items``, ``minItems``/``maxItems``,
``minLength``/``maxLength``, ``minimum``/``maximum`` and ``pattern``. Unknown properties are
allowed (clients send extra fields, e.g. ``ts_epoch``), but a known one must have its type.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .errors import BadRequest

_TYPE_NAMES = {"object": "an object", "array": "an array", "string": "a string",
               "integer": "an integer", "boolean": "true or false", "null": "null"}


def _is(value: Any, type_name: str) -> bool:
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "object":
        return isinstance(value, dict)
    if type_name == "array":
        return isinstance(value, list)
    if type_name == "integer":  # bool is an int in Python, not in JSON
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "null":
        return value is None
    raise ValueError(f"schema uses unsupported type {type_name!r}")


@lru_cache(maxsize=None)
def _regex(pattern: str) -> re.Pattern:
    # JSON Schema's "$" is end of string; Python's also matches before a final newline.
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "an array", str: "a string", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)


def validate(value: Any, schema: dict, where: str = "body") -> None:
    """Raise ``BadRequest`` naming the first place ``value`` breaks ``schema``."""
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else types
        if not any(_is(value, t) for t in allowed):
            expected = " or ".join(_TYPE_NAMES[t] for t in allowed)
            raise BadRequest(f"{where} must be {expected}, not {_describe(value)}")
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                raise BadRequest(f"{where} is missing the required field {name!r}")
        properties = schema.get("properties")
        if properties:
            for name, sub in properties.items():
                if name in value:
                    validate(value[name], sub, f"{where}.{name}")
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise BadRequest(f"{where} must have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise BadRequest(f"{where} has {len(value)} items; at most {schema['maxItems']} "
                             f"are accepted in one request")
        items = schema.get("items")
        if items:
            for i, item in enumerate(value):
                validate(item, items, f"{where}[{i}]")
    elif isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            raise BadRequest(f"{where} must not be shorter than {schema['minLength']} "
                             f"characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise BadRequest(f"{where} is {len(value)} characters long; the limit is "
                             f"{schema['maxLength']}")
        if "\x00" in value:  # Postgres text cannot hold NUL
            raise BadRequest(f"{where} contains a NUL character")
        if "pattern" in schema and not _regex(schema["pattern"]).search(value):
            raise BadRequest(f"{where} {value[:80]!r} does not match {schema['pattern']}")
    elif isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise BadRequest(f"{where} must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise BadRequest(f"{where} must be at most {schema['maximum']}")
