"""The API: every route, its handler, and what it declares for ``/openapi.json``.

Routes, bodies, response shapes and status codes follow metaflow-service 2.5.1 so the
unmodified metaflow client works against this service (``shared/reference/
metadata-service-api.md``). A handler checks the path ids and the body, runs one statement
from ``queries.py`` and returns the JSON text Postgres built. ``ENDPOINTS`` is the single
list the app routes from and the OpenAPI document is written from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from . import API_VERSION, __version__
from . import queries as q
from . import schemas as s
from .errors import JSON, ApiError, BadRequest, Conflict, NotFound, json_error
from .faults import crash_point
from .paths import Key, attempt, check_name, key
from .store import Store, schema_message
from .validation import validate

T = TypeVar("T")

# metaflow-service encodes this body twice (a JSON string holding JSON) and the metaflow
# client's heartbeat thread decodes it twice, so it must stay a string.
HEARTBEAT_BODY = orjson.dumps(orjson.dumps({"wait_time_in_seconds": 10}).decode())

# Schema versions (see migrations/): 2 added the heartbeat columns of runs and tasks, 4 the
# tasks' idempotency keys.
V1, V2, V4 = 1, 2, 4

IDEMPOTENCY_KEY = "Idempotency-Key"


@dataclass(frozen=True)
class Endpoint:
    """One route: how it is served and how it is documented."""

    method: str
    path: str
    handler: str  # name of the ``Api`` method
    summary: str
    schema: int = V1  # the schema version its statements need (0: no database)
    body: dict | None = None  # request body schema: the body is read, checked and passed on
    body_required: bool = False  # False: an empty body counts as {}
    response: dict | None = None  # success response schema
    status: int = 200
    public: bool = False  # served without an API key (probes, documents)
    media_type: str = JSON
    query: tuple[str, ...] = ()  # optional string query parameters
    headers: tuple[str, ...] = ()  # optional request headers (schemas.HEADERS)
    errors: tuple[int, ...] = (400, 404)


_FLOW = "/flows/{flow_id}"
_RUN = _FLOW + "/runs/{run_number}"
_STEP = _RUN + "/steps/{step_name}"
_TASK = _STEP + "/tasks/{task_id}"

ENDPOINTS: tuple[Endpoint, ...] = (
    # --- service ---
    Endpoint("GET", "/ping", "ping", "Liveness; the METADATA_SERVICE_VERSION header carries the "
             "API version clients gate features on", schema=0, public=True,
             response={"type": "string"}, media_type="text/plain", errors=()),
    Endpoint("GET", "/version", "version", "The API version", schema=0, public=True,
             response={"type": "string"}, media_type="text/plain", errors=()),
    Endpoint("GET", "/healthcheck", "healthcheck", "Liveness with versions", schema=0,
             public=True, response=s.HEALTH, errors=()),
    Endpoint("GET", "/ready", "ready", "Readiness: the database answers and its schema is "
             "current (503 otherwise)", schema=0, public=True, response=s.READINESS,
             errors=(503,)),
    # --- flows ---
    Endpoint("GET", "/flows", "get_flows", "Every flow", response=s.array_of(s.FLOW), errors=()),
    Endpoint("GET", _FLOW, "get_flow", "One flow", response=s.FLOW),
    Endpoint("POST", _FLOW, "create_flow", "Register a flow (409 if it exists)",
             body=s.CREATE_FLOW, response=s.FLOW, errors=(400, 409)),
    # --- runs ---
    Endpoint("POST", _FLOW + "/run", "create_run", "Start a run: allocates run_number, or "
             "records the client's non-numeric run id", schema=V2, body=s.CREATE_RUN,
             response=s.RUN, errors=(400, 404, 409)),
    Endpoint("GET", _FLOW + "/runs", "get_runs", "Runs of a flow, newest first", schema=V2,
             response=s.array_of(s.RUN)),
    Endpoint("GET", _RUN, "get_run", "One run", schema=V2, response=s.RUN),
    Endpoint("POST", _RUN + "/heartbeat", "run_heartbeat", "Say the run is alive", schema=V2,
             response=s.HEARTBEAT),
    Endpoint("PATCH", _RUN + "/tag/mutate", "mutate_run_tags", "Add and remove user tags of a "
             "run atomically", body=s.TAG_MUTATION, body_required=True, response=s.TAGS),
    Endpoint("GET", _RUN + "/metadata", "get_run_metadata", "Every metadata row of a run",
             response=s.array_of(s.METADATA)),
    Endpoint("GET", _RUN + "/artifacts", "get_run_artifacts", "Artifacts of a run (each task's "
             "latest attempt)", response=s.array_of(s.ARTIFACT)),
    # --- steps ---
    Endpoint("GET", _RUN + "/steps", "get_steps", "Steps of a run", response=s.array_of(s.STEP)),
    Endpoint("GET", _STEP, "get_step", "One step", response=s.STEP),
    Endpoint("POST", _STEP + "/step", "create_step", "Register a step (409 if it exists)",
             body=s.CREATE_STEP, response=s.STEP, errors=(400, 404, 409)),
    Endpoint("GET", _STEP + "/artifacts", "get_step_artifacts", "Artifacts of a step (each "
             "task's latest attempt)", response=s.array_of(s.ARTIFACT)),
    Endpoint("GET", _STEP + "/filtered_tasks", "get_filtered_tasks", "Pathspecs of the tasks "
             "with a metadata row whose field and value (a regular expression, searched) match",
             response=s.PATHSPECS, query=("metadata_field_name", "pattern")),
    # --- tasks ---
    Endpoint("GET", _STEP + "/tasks", "get_tasks", "Tasks of a step", schema=V2,
             response=s.array_of(s.TASK)),
    Endpoint("GET", _TASK, "get_task", "One task", schema=V2, response=s.TASK),
    Endpoint("POST", _STEP + "/task", "create_task", "Start a task: allocates task_id, or "
             "records the client's non-numeric task id; with an Idempotency-Key header, the "
             "same key again returns the task it created", schema=V4, body=s.CREATE_TASK,
             response=s.TASK, headers=(IDEMPOTENCY_KEY,), errors=(400, 404, 409)),
    Endpoint("POST", _TASK + "/heartbeat", "task_heartbeat", "Say the task (and its run) is "
             "alive", schema=V2, response=s.HEARTBEAT),
    Endpoint("GET", _TASK + "/metadata", "get_task_metadata", "Metadata rows of a task, oldest "
             "first", response=s.array_of(s.METADATA)),
    Endpoint("POST", _TASK + "/metadata", "create_metadata", "Append metadata rows to a task",
             body=s.METADATA_ROWS, body_required=True, response=s.METADATA_CREATED),
    Endpoint("POST", _TASK + "/artifact", "create_artifacts", "Record the artifacts of one "
             "attempt (re-sending identical rows is a no-op; different rows under a stored "
             "attempt and name are a 409)", body=s.ARTIFACT_ROWS, body_required=True,
             response=s.ARTIFACTS_CREATED,
             errors=(400, 404, 409)),
    Endpoint("GET", _TASK + "/artifacts", "get_task_artifacts", "Artifacts of the task's latest "
             "attempt", response=s.array_of(s.ARTIFACT)),
    Endpoint("GET", _TASK + "/artifacts/{name}", "get_artifact", "One artifact of the task's "
             "latest attempt", response=s.ARTIFACT),
    Endpoint("GET", _TASK + "/artifacts/{name}/attempt/{attempt_id}", "get_attempt_artifact",
             "One artifact of one attempt", response=s.ARTIFACT),
    Endpoint("GET", _TASK + "/attempt/{attempt_id}/artifacts", "get_attempt_artifacts",
             "Artifacts of one attempt", response=s.array_of(s.ARTIFACT)),
)


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=JSON)


def _tags(value: list | None) -> str:
    return orjson.dumps(value or []).decode()


def _known(rows: list[dict], fields: tuple[str, ...]) -> str:
    """The rows as JSON with only the validated fields: what else a client sends (extra
    fields are allowed) never reaches the database."""
    return orjson.dumps([{k: row.get(k) for k in fields} for row in rows]).decode()


async def read_body(request: Request, schema: dict, required: bool) -> Any:
    """The decoded JSON body, validated against ``schema``. An empty body is ``{}`` unless
    the route requires one."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise BadRequest("the request needs a JSON body")
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    validate(value, schema)
    return value


class Ids:
    """The ids a route's path names, checked (a bad one is a 400).

    ``run``, ``step`` and ``task`` are read only by routes whose path names them."""

    __slots__ = ("flow", "_run", "_step", "_task")

    def __init__(self, request: Request):
        p = request.path_params
        self.flow = check_name("flow", p["flow_id"])
        self._run = key("run", p["run_number"]) if "run_number" in p else None
        self._step = check_name("step", p["step_name"]) if "step_name" in p else None
        self._task = key("task", p["task_id"]) if "task_id" in p else None

    @property
    def run(self) -> Key:
        return _named(self._run, "run_number")

    @property
    def step(self) -> str:
        return _named(self._step, "step_name")

    @property
    def task(self) -> Key:
        return _named(self._task, "task_id")

    def params(self, **extra: Any) -> dict:
        values = {"flow": self.flow, "run": self._run.value if self._run else None,
                  "step": self._step, "task": self._task.value if self._task else None}
        values.update(extra)
        return values

    def sql(self, variants: q.Variants) -> str:
        return variants.by(self.run.is_number, self._task.is_number if self._task else True)

    def path(self) -> str:
        parts = [self.flow] + [str(x.value if isinstance(x, Key) else x)
                               for x in (self._run, self._step, self._task) if x is not None]
        return "/".join(parts)


def _named(value: T | None, param: str) -> T:
    if value is None:  # a handler asked for an id its route's path does not have
        raise RuntimeError(f"the route has no {{{param}}} in its path")
    return value


class Api:
    """The handlers; each returns a response or raises an ``ApiError``."""

    def __init__(self, store: Store):
        self.store = store

    async def _read(self, ids: Ids, variants: q.Variants, what: str, **extra: Any) -> Response:
        row = await self.store.one(ids.sql(variants), ids.params(**extra), read=True,
                                   missing=f"{what} {ids.path()} does not exist")
        return _json(row[0])

    # --- service ---------------------------------------------------------------------------

    async def ping(self, request: Request) -> Response:
        return PlainTextResponse("pong")

    async def version(self, request: Request) -> Response:
        return PlainTextResponse(API_VERSION)

    async def healthcheck(self, request: Request) -> Response:
        return _json(orjson.dumps({"status": "UP", "version": API_VERSION,
                                   "service_version": __version__}))

    async def ready(self, request: Request) -> Response:
        expected = self.store.expected_schema
        try:
            version = await self.store.refresh_schema()
        except ApiError:
            return _json(orjson.dumps({
                "ready": False, "database": "unreachable", "schema_version": None,
                "expected_schema_version": expected,
                "message": "the database does not answer"}), 503)
        body: dict[str, Any] = {"ready": version >= expected, "database": "ok",
                                "schema_version": version, "expected_schema_version": expected}
        if version < expected:
            body["message"] = schema_message(version, expected, expected)
        return _json(orjson.dumps(body), 200 if body["ready"] else 503)

    # --- flows -----------------------------------------------------------------------------

    async def get_flows(self, request: Request) -> Response:
        row = await self.store.one(q.FLOWS, {}, read=True)
        return _json(row[0])

    async def get_flow(self, request: Request) -> Response:
        flow = check_name("flow", request.path_params["flow_id"])
        row = await self.store.one(q.FLOW, {"flow": flow}, read=True,
                                   missing=f"flow {flow} does not exist")
        return _json(row[0])

    async def create_flow(self, request: Request, body: dict) -> Response:
        flow = check_name("flow", request.path_params["flow_id"])
        row = await self.store.one(q.CREATE_FLOW, {
            "flow": flow, "user": body.get("user_name"), "tags": _tags(body.get("tags")),
            "system_tags": _tags(body.get("system_tags"))},
            conflict=f"flow {flow} already exists")
        return _json(row[0])

    # --- runs ------------------------------------------------------------------------------

    async def create_run(self, request: Request, body: dict) -> Response:
        flow = check_name("flow", request.path_params["flow_id"])
        run_id = body.get("run_number")
        row = await self.store.one(q.CREATE_RUN, {
            "flow": flow, "run_id": run_id, "user": body.get("user_name"),
            "tags": _tags(body.get("tags")), "system_tags": _tags(body.get("system_tags"))},
            missing=f"flow {flow} does not exist: register it first (POST /flows/{flow})",
            conflict=f"run {flow}/{run_id} already exists")
        return _json(row[0])

    async def get_runs(self, request: Request) -> Response:
        flow = check_name("flow", request.path_params["flow_id"])
        row = await self.store.one(q.RUNS, {"flow": flow}, read=True,
                                   missing=f"flow {flow} does not exist")
        return _json(row[0])

    async def get_run(self, request: Request) -> Response:
        return await self._read(Ids(request), q.RUN, "run")

    async def run_heartbeat(self, request: Request) -> Response:
        ids = Ids(request)
        await self.store.one(ids.sql(q.RUN_HEARTBEAT), ids.params(),
                             missing=f"run {ids.path()} does not exist")
        return _json(HEARTBEAT_BODY)

    async def mutate_run_tags(self, request: Request, body: dict) -> Response:
        ids = Ids(request)
        add, remove = body.get("tags_to_add") or [], set(body.get("tags_to_remove") or [])

        async def work(conn) -> list[str]:
            cur = await conn.execute(ids.sql(q.LOCK_RUN_TAGS), ids.params())
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"run {ids.path()} does not exist")
            number, tags = row
            kept = [t for t in tags if t not in remove]
            kept += [t for t in dict.fromkeys(add) if t not in kept]
            if kept != tags:
                await conn.execute(q.SET_RUN_TAGS, {"tags": _tags(kept), "flow": ids.flow,
                                                    "number": number})
            return kept

        tags = await self.store.transaction(work)
        return _json(orjson.dumps({"tags": tags}))

    async def get_run_metadata(self, request: Request) -> Response:
        return await self._read(Ids(request), q.RUN_METADATA, "run")

    async def get_run_artifacts(self, request: Request) -> Response:
        return await self._read(Ids(request), q.RUN_ARTIFACTS, "run")

    # --- steps -----------------------------------------------------------------------------

    async def get_steps(self, request: Request) -> Response:
        return await self._read(Ids(request), q.STEPS, "run")

    async def get_step(self, request: Request) -> Response:
        return await self._read(Ids(request), q.STEP, "step")

    async def create_step(self, request: Request, body: dict) -> Response:
        ids = Ids(request)
        row = await self.store.one(ids.sql(q.CREATE_STEP), ids.params(user=body.get("user_name")),
                                   missing=f"run {ids.flow}/{ids.run.value} does not exist",
                                   conflict=f"step {ids.path()} already exists")
        return _json(row[0])

    async def get_step_artifacts(self, request: Request) -> Response:
        return await self._read(Ids(request), q.STEP_ARTIFACTS, "step")

    async def get_filtered_tasks(self, request: Request) -> Response:
        ids = Ids(request)
        query = request.query_params
        field = query.get("metadata_field_name") or None
        pattern = query.get("pattern") or None
        for name, value in (("metadata_field_name", field), ("pattern", pattern)):
            if value is not None:
                validate(value, s.QUERY[name], name)
        return await self._read(ids, q.FILTERED_TASKS, "step", field=field, pattern=pattern,
                                match_all=field is None and pattern is None)

    # --- tasks -----------------------------------------------------------------------------

    async def get_tasks(self, request: Request) -> Response:
        return await self._read(Ids(request), q.TASKS, "step")

    async def get_task(self, request: Request) -> Response:
        return await self._read(Ids(request), q.TASK, "task")

    async def create_task(self, request: Request, body: dict) -> Response:
        ids = Ids(request)
        name = body.get("task_id")
        idempotency_key = request.headers.get(IDEMPOTENCY_KEY)
        if idempotency_key is not None:
            validate(idempotency_key, s.HEADERS[IDEMPOTENCY_KEY], IDEMPOTENCY_KEY)
        params = ids.params(user=body.get("user_name"), task_name=name, key=idempotency_key)
        missing = (f"step {ids.path()} does not exist: register it first "
                   f"(POST .../steps/{ids.step}/step)")
        row = await self.store.first(ids.sql(q.CREATE_TASK), params, missing=missing,
                                     conflict=f"task {ids.path()}/{name} already exists")
        if row is None:  # the same key committed by a concurrent request: read its task
            row = await self.store.one(ids.sql(q.TASK_BY_KEY), params, read=True,
                                       missing=missing)
        crash_point("create_task")
        return _json(row[0])

    async def task_heartbeat(self, request: Request) -> Response:
        ids = Ids(request)
        await self.store.one(ids.sql(q.TASK_HEARTBEAT), ids.params(),
                             missing=f"task {ids.path()} does not exist")
        return _json(HEARTBEAT_BODY)

    async def get_task_metadata(self, request: Request) -> Response:
        return await self._read(Ids(request), q.TASK_METADATA, "task")

    async def create_metadata(self, request: Request, rows: list[dict]) -> Response:
        ids = Ids(request)
        for row in rows:
            if not isinstance(row["value"], str):  # stored as its JSON text
                row["value"] = orjson.dumps(row["value"]).decode()
        found, created = await self.store.one(ids.sql(q.CREATE_METADATA), ids.params(
            rows=_known(rows, ("field_name", "value", "type", "user_name", "tags",
                               "system_tags"))))
        if not found:
            raise NotFound(f"task {ids.path()} does not exist")
        return _json(orjson.dumps({"metadata_created": created}))

    async def create_artifacts(self, request: Request, rows: list[dict]) -> Response:
        ids = Ids(request)
        seen: dict[tuple, tuple] = {}
        for row in rows:  # the same row twice is one record; two different ones a conflict
            row["attempt_id"] = int(row.get("attempt_id") or 0)
            slot = (row["attempt_id"], row["name"])
            content = tuple(row[k] for k in ("location", "ds_type", "sha", "type",
                                             "content_type"))
            if seen.setdefault(slot, content) != content:
                raise Conflict(f"artifact {row['name']!r} of attempt {slot[0]} appears twice in "
                               f"the request with different contents; nothing was written")
        found, clashes, created = await self.store.one(ids.sql(q.CREATE_ARTIFACTS), ids.params(
            rows=_known(rows, ("name", "location", "ds_type", "sha", "type", "content_type",
                               "attempt_id", "user_name"))))
        if not found:
            raise NotFound(f"task {ids.path()} does not exist")
        if clashes:
            raise Conflict(f"{clashes} artifact(s) of task {ids.path()} are already recorded "
                           f"with a different location or sha for the same attempt; nothing "
                           f"was written")
        return _json(orjson.dumps({"artifacts_created": created}))

    async def get_task_artifacts(self, request: Request) -> Response:
        return await self._read(Ids(request), q.TASK_ARTIFACTS, "task")

    async def get_artifact(self, request: Request) -> Response:
        ids = Ids(request)
        name = check_name("artifact", request.path_params["name"])
        row = await self.store.one(ids.sql(q.ARTIFACT), ids.params(name=name), read=True,
                                   missing=f"artifact {ids.path()}/{name} does not exist")
        return _json(row[0])

    async def get_attempt_artifact(self, request: Request) -> Response:
        ids = Ids(request)
        name = check_name("artifact", request.path_params["name"])
        number = attempt(request.path_params["attempt_id"])
        row = await self.store.one(ids.sql(q.ATTEMPT_ARTIFACT),
                                   ids.params(name=name, attempt=number), read=True,
                                   missing=f"artifact {ids.path()}/{name} of attempt {number} "
                                           f"does not exist")
        return _json(row[0])

    async def get_attempt_artifacts(self, request: Request) -> Response:
        ids = Ids(request)
        number = attempt(request.path_params["attempt_id"])
        return await self._read(ids, q.ATTEMPT_ARTIFACTS, "task", attempt=number)


def endpoint(api: Api, specs: list[Endpoint]):
    """The Starlette endpoint for one path and its methods: schema gate, the body read and
    validated against the endpoint's ``body`` schema, handler, errors as JSON. (One route per
    path, so a 405 lists every method the path has in ``Allow``.)"""
    store = api.store
    by_method = {spec.method: (getattr(api, spec.handler), spec) for spec in specs}
    if "GET" in by_method:
        by_method["HEAD"] = by_method["GET"]

    async def serve(request: Request) -> Response:
        handler, spec = by_method[request.method]
        try:
            if spec.schema:
                await store.require_schema(spec.schema)
            if spec.body is not None:  # the handler gets the body its table entry declares
                return await handler(request, await read_body(request, spec.body,
                                                              spec.body_required))
            return await handler(request)
        except ApiError as exc:
            return exc.response()

    serve.__name__ = "_".join(spec.handler for spec in specs)
    return serve


__all__ = ["Api", "ENDPOINTS", "Endpoint", "HEARTBEAT_BODY", "endpoint", "json_error"]
