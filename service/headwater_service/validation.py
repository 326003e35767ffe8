"""Checks a decoded JSON body against the schemas in ``schemas.py``.

The same schema dicts are published in ``/openapi.json``, so what the document promises is
what is enforced. ``fastjsonschema`` compiles each schema once into Python code (validation
runs on every write request); its first error is turned into a message naming the place in
the body, what it must be and what it is. Unknown properties are allowed (clients send extra
fields, e.g. ``ts_epoch``), but a known one must have its type.
"""

from __future__ import annotations

from typing import Any, Callable

import fastjsonschema

from .errors import BadRequest

Check = Callable[[Any, str], None]

_TYPE_NAMES = {"object": "an object", "array": "an array", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "true or false",
               "null": "null"}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "an array", str: "a string", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)


def compile_schema(schema: dict) -> Check:
    """A function ``check(value, where)`` raising ``BadRequest`` naming the first place
    ``value`` breaks ``schema``."""
    # No defaults are filled in (a check never changes the body), and formats are not
    # checked: "regex" means Postgres' dialect, which Postgres itself checks.
    validator = fastjsonschema.compile(schema, use_default=False, use_formats=False)

    def check(value: Any, where: str) -> None:
        try:
            validator(value)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise BadRequest(_message(exc, where)) from None

    return check


def _message(exc: fastjsonschema.JsonSchemaValueException, where: str) -> str:
    """The error in our words: ``exc.name`` is the place (``data.tags[0]``), ``exc.rule`` the
    keyword broken, ``exc.definition`` the (sub)schema holding it."""
    name = exc.name or "data"
    place = where + name[len("data"):] if name.startswith("data") else f"{where}.{name}"
    value, schema, rule = exc.value, exc.definition or {}, exc.rule
    limit = schema.get(rule) if rule else None
    if rule == "type":
        types = schema["type"]
        expected = " or ".join(_TYPE_NAMES[t] for t in ([types] if isinstance(types, str)
                                                        else types))
        return f"{place} must be {expected}, not {_describe(value)}"
    if rule == "required":
        missing = next(n for n in schema["required"] if n not in value)
        return f"{place} is missing the required field {missing!r}"
    if rule == "minItems":
        return f"{place} must have at least {limit} items"
    if rule == "maxItems":
        return f"{place} has {len(value)} items; at most {limit} are accepted in one request"
    if rule == "minLength":
        return f"{place} must not be shorter than {limit} characters"
    if rule == "maxLength":
        return f"{place} is {len(value)} characters long; the limit is {limit}"
    if rule == "pattern":
        if "\x00" in value:  # every free-text pattern refuses NUL: Postgres text cannot hold it
            return f"{place} contains a NUL character"
        rule_text = schema.get("description") or f"the pattern {limit}"
        return f"{place} {value[:80]!r} is not valid: expected {rule_text}"
    if rule == "minimum":
        return f"{place} must be at least {limit}"
    if rule == "maximum":
        return f"{place} must be at most {limit}"
    return exc.message.replace(name, place, 1)


# id(schema) -> (schema, check); holding the schema keeps its id from being reused
_compiled: dict[int, tuple[dict, Check]] = {}


def validate(value: Any, schema: dict, where: str = "body") -> None:
    """Raise ``BadRequest`` naming the first place ``value`` breaks ``schema``."""
    entry = _compiled.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = _compiled[id(schema)] = (schema, compile_schema(schema))
    entry[1](value, where)
