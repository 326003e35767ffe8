"""The ASGI application: routes, middleware, error handlers and the database lifecycle.

Built on Starlette (docs/metadata-service.md says why not FastAPI). Serve it with
``headwater-service serve`` or any ASGI server, e.g.
``uvicorn --factory headwater_service.app:create_app`` (settings from the environment,
``config.py``).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import openapi
from .config import ServiceConfig
from .errors import JSON, json_error
from .middleware import ServiceMiddleware
from .routes import ENDPOINTS, Api, endpoint
from .store import Store
from .ui import UiGate

log = logging.getLogger("headwater_service.app")

_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no route {request.url.path}: see /openapi.json for the API"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return json_error(exc.status_code, _CODES.get(exc.status_code, "error"), message,
                      dict(exc.headers or {}))


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return json_error(500, "internal_error", "internal error; the service log has the details")


def create_app(config: ServiceConfig | None = None) -> Starlette:
    """The service as an ASGI app (settings from the environment unless given)."""
    config = config or ServiceConfig.from_env()
    store = Store(config)
    api = Api(store)
    document = orjson.dumps(openapi.document())

    async def openapi_json(request: Request) -> Response:
        return Response(document, media_type=JSON)

    by_path: dict[str, list] = {}
    for spec in ENDPOINTS:
        by_path.setdefault(spec.path, []).append(spec)
    # Deepest paths first: the router tries routes in order, and the task routes (no two
    # patterns overlap) carry most of the traffic.
    routes = [Route(path, endpoint(api, specs), methods=[s.method for s in specs])
              for path, specs in sorted(by_path.items(), key=lambda item: -item[0].count("/"))]
    routes.append(Route("/openapi.json", openapi_json, methods=["GET"]))
    public = frozenset(spec.path for spec in ENDPOINTS if spec.public) | {"/openapi.json"}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        try:
            yield
        finally:
            await store.close()

    app = Starlette(
        routes=routes, lifespan=lifespan,
        middleware=[Middleware(UiGate, config=config, store=store),  # /ui: docs/ui.md
                    Middleware(ServiceMiddleware, config=config, public_paths=public)],
        exception_handlers={HTTPException: _http_error, Exception: _internal_error})
    app.state.store = store
    return app
