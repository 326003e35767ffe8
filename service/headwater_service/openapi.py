"""The OpenAPI 3.1 document (``GET /openapi.json``), written from ``routes.ENDPOINTS`` and
``schemas.py``: the same schemas the service validates against."""

from __future__ import annotations

import re
from typing import Any

from . import API_VERSION, __version__
from . import schemas as s
from .routes import ENDPOINTS, Endpoint

_PARAM = re.compile(r"{(\w+)}")
_PARAM_SCHEMAS = {"flow_id": s.NAME_PARAM, "step_name": s.NAME_PARAM, "name": s.NAME_PARAM,
                  "run_number": s.ID_PARAM, "task_id": s.ID_PARAM,
                  "attempt_id": s.ATTEMPT_PARAM}
_REASONS = {400: "Malformed request: bad JSON, a wrong type, an invalid id",
            401: "Missing or invalid API key (x-api-key)",
            404: "The object (or its parent) does not exist",
            409: "The object already exists",
            413: "The request body is too large",
            503: "The database is unavailable, or its schema is older than this route needs "
                 "(run `headwater-service db upgrade`)"}


def _json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _operation(spec: Endpoint) -> dict[str, Any]:
    params = [{"name": name, "in": "path", "required": True, "schema": _PARAM_SCHEMAS[name]}
              for name in _PARAM.findall(spec.path)]
    params += [{"name": name, "in": "query", "required": False, "schema": s.QUERY[name]}
               for name in spec.query]
    params += [{"name": name, "in": "header", "required": False, "schema": s.HEADERS[name]}
               for name in spec.headers]
    ok = {"description": "Success",
          "content": {spec.media_type: {"schema": spec.response or {}}}}
    responses: dict[str, Any] = {str(spec.status): ok}
    codes = set(spec.errors)
    if not spec.public:
        codes |= {401, 503}
    if spec.body is not None:
        codes |= {400, 413}
    if spec.schema:
        codes.add(503)
    if _PARAM.search(spec.path):
        codes.add(400)
    for code in sorted(codes):
        if str(code) not in responses:
            responses[str(code)] = {"description": _REASONS[code],
                                    "content": _json_content(s.ERROR)}
    operation: dict[str, Any] = {"summary": spec.summary, "operationId": spec.handler,
                                 "responses": responses}
    if params:
        operation["parameters"] = params
    if spec.body is not None:
        operation["requestBody"] = {"required": spec.body_required,
                                    "content": _json_content(spec.body)}
    if not spec.public:
        operation["security"] = [{}, {"apiKey": []}]  # the key is optional: service setting
    return operation


def document() -> dict[str, Any]:
    paths: dict[str, dict] = {}
    for spec in ENDPOINTS:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Headwater metadata service",
                 "version": __version__,
                 "description": f"The metadata API of metaflow-service {API_VERSION} (routes, "
                                f"shapes and status codes), on Postgres."},
        "paths": paths,
        "components": {"securitySchemes": {
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}},
    }
