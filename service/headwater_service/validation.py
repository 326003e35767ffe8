"""Checks a decoded JSON body against the schemas in ``schemas.py``.

The same schema dicts are published in ``/openapi.json``, so what the document promises is
what is enforced. Only the JSON Schema keywords those schemas use are implemented: ``type``,
``properties``, ``required``, ``items``, ``minItems``/``maxItems``,
``minLength``/``maxLength``, ``minimum``/``maximum`` and ``pattern``. Unknown properties are
allowed (clients send extra fields, e.g. ``ts_epoch``), but a known one must have its type.

Each schema is compiled once into nested closures (``compile_schema``): validation runs on
every write request, so it must not walk the schema dict each time.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from .errors import BadRequest

Check = Callable[[Any, str], None]

_TYPE_NAMES = {"object": "an object", "array": "an array", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "true or false",
               "null": "null"}
_PY_TYPES = {"object": (dict,), "array": (list,), "string": (str,), "integer": (int,),
             "number": (int, float), "boolean": (bool,), "null": (type(None),)}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "an array", str: "a string", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)


def _type_check(types: list[str]) -> Check:
    # exact types: a bool is an int in Python but not an integer in JSON
    allowed = frozenset(py for t in types for py in _PY_TYPES[t])
    expected = " or ".join(_TYPE_NAMES[t] for t in types)
    integral_floats = "integer" in types  # JSON Schema: 1.0 is an integer

    def check(value: Any, where: str) -> None:
        if type(value) not in allowed and not (
                integral_floats and type(value) is float and value.is_integer()):
            raise BadRequest(f"{where} must be {expected}, not {_describe(value)}")

    return check


def compile_schema(schema: dict) -> Check:
    """A function ``check(value, where)`` raising ``BadRequest`` naming the first place
    ``value`` breaks ``schema``."""
    checks: list[Check] = []
    types = schema.get("type")
    if types is not None:
        checks.append(_type_check([types] if isinstance(types, str) else list(types)))

    required = tuple(schema.get("required", ()))
    properties = {name: compile_schema(sub) for name, sub in
                  schema.get("properties", {}).items()}
    if required or properties:
        def check_object(value: Any, where: str) -> None:
            if type(value) is not dict:
                return
            for name in required:
                if name not in value:
                    raise BadRequest(f"{where} is missing the required field {name!r}")
            for name, sub in properties.items():
                if name in value:
                    sub(value[name], f"{where}.{name}")
        checks.append(check_object)

    min_items, max_items = schema.get("minItems"), schema.get("maxItems")
    items = compile_schema(schema["items"]) if "items" in schema else None
    if items or min_items is not None or max_items is not None:
        def check_array(value: Any, where: str) -> None:
            if type(value) is not list:
                return
            if min_items is not None and len(value) < min_items:
                raise BadRequest(f"{where} must have at least {min_items} items")
            if max_items is not None and len(value) > max_items:
                raise BadRequest(f"{where} has {len(value)} items; at most {max_items} are "
                                 f"accepted in one request")
            if items is not None:
                for i, item in enumerate(value):
                    items(item, f"{where}[{i}]")
        checks.append(check_array)

    min_length, max_length = schema.get("minLength"), schema.get("maxLength")
    pattern = schema.get("pattern")
    rule = schema.get("description") or f"the pattern {pattern}"
    # JSON Schema's "$" is end of string; Python's also matches before a final newline.
    regex = re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
                       ) if pattern else None
    if _can_be(schema, "string"):
        def check_string(value: Any, where: str) -> None:
            if type(value) is not str:
                return
            if min_length is not None and len(value) < min_length:
                raise BadRequest(f"{where} must not be shorter than {min_length} characters")
            if max_length is not None and len(value) > max_length:
                raise BadRequest(f"{where} is {len(value)} characters long; the limit is "
                                 f"{max_length}")
            if "\x00" in value:  # Postgres text cannot hold NUL
                raise BadRequest(f"{where} contains a NUL character")
            if regex is not None and not regex.search(value):
                raise BadRequest(f"{where} {value[:80]!r} is not valid: expected {rule}")
        checks.append(check_string)

    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if minimum is not None or maximum is not None:
        def check_number(value: Any, where: str) -> None:
            if type(value) not in (int, float):
                return
            if minimum is not None and value < minimum:
                raise BadRequest(f"{where} must be at least {minimum}")
            if maximum is not None and value > maximum:
                raise BadRequest(f"{where} must be at most {maximum}")
        checks.append(check_number)

    if len(checks) == 1:
        return checks[0]

    def check_all(value: Any, where: str) -> None:
        for check in checks:
            check(value, where)

    return check_all


def _can_be(schema: dict, type_name: str) -> bool:
    types = schema.get("type")
    return types is None or type_name == types or (isinstance(types, list)
                                                   and type_name in types)


# id(schema) -> (schema, check); holding the schema keeps its id from being reused
_compiled: dict[int, tuple[dict, Check]] = {}


def validate(value: Any, schema: dict, where: str = "body") -> None:
    """Raise ``BadRequest`` naming the first place ``value`` breaks ``schema``."""
    entry = _compiled.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = _compiled[id(schema)] = (schema, compile_schema(schema))
    entry[1](value, where)
