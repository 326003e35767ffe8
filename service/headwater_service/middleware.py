"""The ASGI middleware every request passes: API-key check, body size limit, the
``METADATA_SERVICE_VERSION`` header, and one structured access-log line.

Written as plain ASGI (not Starlette's ``BaseHTTPMiddleware``) because it runs on every
request and must not cost more than a few microseconds.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable

from . import API_VERSION
from .config import ServiceConfig, key_digest
from .errors import PayloadTooLarge, json_error
from .logs import write_access

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

_VERSION = (b"metadata_service_version", API_VERSION.encode())


class ServiceMiddleware:
    """Wraps the app. ``public_paths`` are served without an API key (probes, documents)."""

    def __init__(self, app: Callable, config: ServiceConfig, public_paths: frozenset[str]):
        self.app = app
        self.digests = config.api_key_digests
        self.max_body = config.max_body_bytes
        self.public_paths = public_paths
        self.access_log = config.access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        outcome = {"status": 0, "bytes": 0}

        async def send_with_version(message: dict) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                message["headers"] = list(message.get("headers", ())) + [_VERSION]
            elif message["type"] == "http.response.body":
                outcome["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            refusal = self._refuse(scope)
            if refusal is not None:
                await refusal(scope, receive, send_with_version)
            else:
                await self.app(scope, self._limited(receive), send_with_version)
        finally:
            if self.access_log:
                client = scope.get("client")
                write_access(scope["method"], scope["path"], outcome["status"],
                             outcome["bytes"], time.perf_counter() - started,
                             client[0] if client else None)

    def _refuse(self, scope: Scope):
        """A response for a request that must not reach the app, or ``None``."""
        key = length = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                key = value
            elif name == b"content-length":
                length = value
        if self.digests and scope["path"] not in self.public_paths:
            # Compared as SHA-256 digests: the lookup time says nothing about the key.
            if key is None or key_digest(key.decode("latin-1")) not in self.digests:
                return json_error(401, "unauthorized",
                                  "a valid API key is required in the x-api-key header "
                                  "(clients: set METAFLOW_SERVICE_AUTH_KEY)")
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                return json_error(400, "bad_request", "the Content-Length header is not a number")
            if too_big:
                return PayloadTooLarge(f"the request body is larger than {self.max_body} bytes; "
                                       f"send fewer rows per request").response()
        return None

    def _limited(self, receive: Receive) -> Receive:
        """``receive`` that stops a body (e.g. chunked) once it exceeds the limit."""
        limit = self.max_body
        seen = 0

        async def receive_limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(f"the request body is larger than {limit} bytes; "
                                          f"send fewer rows per request")
            return message

        return receive_limited
