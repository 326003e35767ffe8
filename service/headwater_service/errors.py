"""API errors: each is a status code, a stable ``error`` code and a message that says what
is wrong and how to fix it. They render as ``{"error": ..., "message": ..., "status": ...}``.

No error body ever carries a raw database message, a stack trace or a request header.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response

from . import API_VERSION

VERSION_HEADER = "METADATA_SERVICE_VERSION"
JSON = "application/json"


def json_error(status: int, code: str, message: str,
               headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps({"error": code, "message": message, "status": status})
    return Response(body, status_code=status, media_type=JSON, headers=headers)


class ApiError(Exception):
    """Raised anywhere in a request; the app turns it into a JSON error response."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers

    def response(self) -> Response:
        return json_error(self.status, self.code, self.message, self.headers)


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class DatabaseUnavailable(ApiError):
    """Postgres cannot be reached (or timed out): the client should retry later."""

    status, code = 503, "database_unavailable"

    def __init__(self, message: str):
        super().__init__(message, {"Retry-After": "1"})


class SchemaBehind(ApiError):
    """The database schema is older than this route needs; only an operator can fix it."""

    status, code = 503, "schema_outdated"


__all__ = ["API_VERSION", "ApiError", "BadRequest", "Conflict", "DatabaseUnavailable", "JSON",
           "NotFound", "PayloadTooLarge", "SchemaBehind", "Unauthorized", "VERSION_HEADER",
           "json_error"]
