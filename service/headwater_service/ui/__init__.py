"""The web UI, served by the metadata service under ``/ui`` (docs/ui.md).

``UiGate`` sits in front of the API's middleware: requests under ``/ui`` go to the UI app
(pages, static files, read-only JSON routes, login with a session cookie), everything else
to the API unchanged. The UI app has the API's access log, body limit and version header,
and its own authentication (``session.py``) in place of the ``x-api-key`` check.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount

from ..config import ServiceConfig, key_digest
from ..errors import json_error
from ..middleware import ServiceMiddleware
from ..store import Store
from .datastore import DatastoreReader
from .routes import UiApi, routes
from .session import COOKIE_NAME, Sessions

PREFIX = "/ui"
#: Paths under /ui served without a session (the login page and what it loads).
OPEN_PATHS = ("/ui/login", "/ui/static/", "/ui/api/session")


class _SessionCheck:
    """Lets a request through with a valid session cookie (or a valid ``x-api-key``, for
    scripts); otherwise a page redirects to the login, an API route answers 401."""

    def __init__(self, app: Callable, sessions: Sessions):
        self.app, self.sessions = app, sessions

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope["path"]
        if (scope["type"] != "http" or not self.sessions.required
                or path.startswith(OPEN_PATHS)):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        key = request.headers.get("x-api-key")
        if self.sessions.valid(request.cookies.get(COOKIE_NAME)) or (
                key is not None and key_digest(key) in self.sessions.key_digests):
            await self.app(scope, receive, send)
            return
        response: Response
        if path.startswith("/ui/api/"):
            response = json_error(401, "unauthorized", "log in at /ui/login first")
        else:
            from urllib.parse import quote

            target = path + ("?" + scope["query_string"].decode("latin-1")
                             if scope.get("query_string") else "")
            response = RedirectResponse(f"/ui/login?next={quote(target, safe='/')}",
                                        status_code=303)
        await response(scope, receive, send)


def ui_app(store: Store, config: ServiceConfig) -> Callable:
    """The UI as an ASGI app for paths under ``/ui``."""
    sessions = Sessions(config.api_key_digests)
    api = UiApi(store, sessions, DatastoreReader())

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return json_error(405, "method_not_allowed", f"{request.method} is not allowed on "
                              f"{request.url.path}: the UI routes are read-only")
        return json_error(exc.status_code, "not_found" if exc.status_code == 404 else "error",
                          f"no UI route {request.url.path}" if exc.status_code == 404
                          else str(exc.detail))

    async def internal(request: Request, exc: Exception) -> Response:
        import logging

        logging.getLogger("headwater_service.ui").error(
            "unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
        return json_error(500, "internal_error", "internal error; the service log has the "
                                                 "details")

    app = Starlette(routes=[Mount(PREFIX, routes=routes(api))],
                    exception_handlers={HTTPException: http_error, Exception: internal})
    open_config = dataclasses.replace(config, api_key_digests=frozenset())
    checked = _SessionCheck(app, sessions)
    return ServiceMiddleware(checked, config=open_config, public_paths=frozenset())


class UiGate:
    """ASGI middleware: ``/ui`` to the UI app, the rest to the API."""

    def __init__(self, app: Callable, config: ServiceConfig, store: Store):
        self.app = app
        self.ui = ui_app(store, config)

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[Any]],
                       send: Callable) -> None:
        if scope["type"] == "http" and (scope["path"] == PREFIX
                                        or scope["path"].startswith(PREFIX + "/")):
            await self.ui(scope, receive, send)
        else:
            await self.app(scope, receive, send)


__all__ = ["UiGate", "ui_app"]
