"""The dev stack's error: one line naming the problem, and the fix."""

from __future__ import annotations

from ..exceptions import HeadwaterException


class DevStackError(HeadwaterException):
    headline = "Dev stack"
