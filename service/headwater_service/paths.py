"""Ids taken from URL paths, checked before they reach SQL.

Flow, step and artifact names are Python identifiers. A run or task is addressed by its
allocated integer or by the non-numeric string a client registered it with (``argo-x1``,
``sfn-...``): a ``Key`` says which, so the store picks the matching column. Anything else
(slashes, dots at the start, control characters, ``%``...) is a 400 naming the id.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .errors import BadRequest, NotFound

MAX_ID_LENGTH = 255
MAX_BIGINT = 2**63 - 1

# Shared with schemas.py so the OpenAPI document states the same rules.
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$"
# An id a client chooses: the same characters, but not all digits (digits are allocated ids).
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]*[A-Za-z_.:-][A-Za-z0-9_.:-]*$"

_NAME = re.compile(NAME_PATTERN[:-1] + r"\Z")
_ID = re.compile(ID_PATTERN[:-1] + r"\Z")


class Key(NamedTuple):
    """A run or task reference: ``number`` (allocated) or ``name`` (client-chosen)."""

    value: int | str

    @property
    def is_number(self) -> bool:
        return isinstance(self.value, int)


def check_name(kind: str, value: str) -> str:
    """A flow, step or artifact name."""
    if len(value) > MAX_ID_LENGTH or not _NAME.match(value):
        raise BadRequest(f"invalid {kind} {value[:80]!r}: use letters, digits and underscores, "
                         f"not starting with a digit, at most {MAX_ID_LENGTH} characters")
    return value


def key(kind: str, value: str) -> Key:
    """A run or task id from a path: an integer, or a registered non-numeric name."""
    if len(value) > MAX_ID_LENGTH or not _ID.match(value):
        raise BadRequest(f"invalid {kind} id {value[:80]!r}: use the number the service "
                         f"allocated or the name it was registered with (letters, digits, "
                         f"'_', '.', ':', '-')")
    if value.isdigit():
        number = int(value)
        if number > MAX_BIGINT:
            raise NotFound(f"{kind} {value} does not exist")
        return Key(number)
    return Key(value)


def attempt(value: str) -> int:
    """An attempt number from a path."""
    if not value.isdigit() or len(value) > 9:
        raise BadRequest(f"invalid attempt {value[:80]!r}: expected a non-negative integer")
    return int(value)
