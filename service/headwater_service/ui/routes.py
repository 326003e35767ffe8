"""The UI's read-only JSON routes (``/ui/api/...``), its pages and its login.

Every page is ``static/index.html`` (plain ES modules, no build step); the address says what
it shows (``/ui/Flow/Run/step/task``). A deep link to something that does not exist is
served with a 404 status and the page says what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import JSON, ApiError, BadRequest, NotFound, json_error
from ..paths import Key, check_name, key
from ..routes import Ids
from ..store import Store
from . import cards as card_view
from . import queries as q
from .datastore import DatastoreReader, OutOfReach, LruCache
from .preview import PreviewRefused, preview_type_allowed, render
from .session import COOKIE_NAME, Sessions
from .status import LogStream, RunStatus, TaskStatus, step_status, task_status

STATIC = Path(__file__).parent / "static"
UI_SCHEMA = 3  # migrations/0003_ui_indexes.sql
PAGE_SIZE, MAX_PAGE_SIZE = 50, 500
#: Tasks sent for a run's timeline; the step counts always cover every task.
MAX_TIMELINE_TASKS = 5000


def _json(value: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type=JSON, headers=headers)


def _int_param(request: Request, name: str, minimum: int = 0) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 18 or int(raw) < minimum:
        raise BadRequest(f"query parameter {name}={raw[:40]!r} must be an integer >= {minimum}")
    return int(raw)


class UiApi:
    """Handlers of the UI routes."""

    def __init__(self, store: Store, sessions: Sessions, reader: DatastoreReader):
        self.store = store
        self.sessions = sessions
        self.reader = reader
        self._edges: dict[tuple, dict] = {}  # (flow, run number, step) -> its index state
        self._parameters: dict[tuple, list] = {}
        # run page bodies by (flow, run, ETag): the ETag names everything the body shows
        self._pages = LruCache(256)

    async def _one(self, sql: str, params: dict, missing: str | None = None) -> tuple:
        await self.store.require_schema(UI_SCHEMA)
        return await self.store.one(sql, params, read=True, missing=missing)

    # --- flows and runs ------------------------------------------------------------------

    async def flows(self, request: Request) -> Response:
        search = request.query_params.get("q", "").strip()
        if len(search) > 255:
            raise BadRequest("the search text is longer than 255 characters")
        pattern = None
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
        row = await self._one(q.FLOWS, {"pattern": pattern})
        return Response(row[0], media_type=JSON)

    async def runs(self, request: Request) -> Response:
        flow = check_name("flow", request.path_params["flow_id"])
        query = request.query_params
        params: dict[str, Any] = {"flow": flow}
        present: list[str] = []
        if query.get("user"):
            params["user"] = query["user"][:255]
            present.append("user")
        if query.get("tag"):
            params["tag"] = orjson.dumps([query["tag"][:500]]).decode()
            present.append("tag")
        for name in ("since", "until"):
            value = _int_param(request, name)
            if value is not None:
                params[name] = value
                present.append(name)
        before = query.get("before")
        if before:
            ts, _, number = before.partition(":")
            if not (ts.isdigit() and number.isdigit() and len(ts) < 19 and len(number) < 19):
                raise BadRequest(f"before={before[:40]!r} must be '<ts_epoch>:<run_number>' "
                                 f"(the page's next cursor)")
            params.update(before_ts=int(ts), before_number=int(number))
            present.append("before")
        status = query.get("status") or None
        if status is not None:
            try:
                params["status"] = RunStatus(status).value
            except ValueError:
                raise BadRequest(f"status={status[:40]!r} must be one of "
                                 f"{', '.join(s.value for s in RunStatus)}") from None
        limit = _int_param(request, "limit", 1) or PAGE_SIZE
        params["limit"] = min(limit, MAX_PAGE_SIZE) + 1  # one more: is there a next page?
        row = await self._one(q.runs_page(tuple(present), status is not None), params,
                              missing=f"flow {flow} does not exist")
        runs = orjson.loads(row[0])
        more = len(runs) > params["limit"] - 1
        runs = runs[:params["limit"] - 1]
        cursor = f"{runs[-1]['ts_epoch']}:{runs[-1]['run_number']}" if more and runs else None
        return _json({"flow_id": flow, "runs": runs, "next": cursor})

    # --- one run -------------------------------------------------------------------------

    async def run(self, request: Request) -> Response:
        ids = Ids(request)
        missing = f"run {ids.path()} does not exist"
        version = await self._one(ids.sql(q.RUN_VERSION), ids.params(), missing=missing)
        etag = 'W/"' + "-".join(str(v) for v in version) + '"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
        number = version[0]
        cached = self._pages.get((ids.flow, number, etag))
        if cached is not None:  # another viewer already built this version of the page
            return Response(cached, media_type=JSON,
                            headers={"ETag": etag, "Cache-Control": "no-cache"})
        run_row = await self._one(ids.sql(q.RUN), ids.params(), missing=missing)
        run = orjson.loads(run_row[1])
        tasks_row = await self._one(q.RUN_TASKS, {"flow": ids.flow, "number": number})
        tasks = orjson.loads(tasks_row[0])
        run_status = RunStatus(run["status"])
        for t in tasks:
            t["status"] = task_status(t, run_status).value
        steps = await self._steps(ids, number, tasks)
        parameters = await self._run_parameters(ids, number, tasks)
        shown = [t for t in tasks if t["step"] != "_parameters"]
        body = orjson.dumps({"run": run, "steps": steps, "parameters": parameters,
                             "tasks": shown[:MAX_TIMELINE_TASKS],
                             "tasks_truncated": len(shown) > MAX_TIMELINE_TASKS})
        self._pages.put((ids.flow, number, etag), body)
        return Response(body, media_type=JSON, headers={"ETag": etag, "Cache-Control": "no-cache"})

    async def _steps(self, ids: Ids, number: int, tasks: list[dict]) -> list[dict]:
        by_step: dict[str, list[dict]] = {}
        for t in tasks:
            if t["step"] != "_parameters":
                by_step.setdefault(t["step"], []).append(t)
        known = await self._step_states(ids, number, list(by_step))
        steps = []
        for name, members in by_step.items():
            counts = {s.value: 0 for s in TaskStatus}
            for t in members:
                counts[t["status"]] += 1
            started = [t["started"] for t in members if t["started"]]
            finished = [t["finished"] for t in members if t["finished"]]
            state = known.get(name) or {}
            steps.append({"name": name, "tasks": len(members), "counts": counts,
                          "status": step_status(counts).value,
                          "started": min(started) if started else None,
                          "finished": max(finished) if finished and len(finished) == len(members)
                          else None,
                          "next": state.get("targets"), "foreach_count": state.get("foreach_count"),
                          "foreach_var": state.get("foreach_var"),
                          "first_task": members[0]["task_id"]})
        # steps the run will go to but has not started: drawn as pending nodes
        names = set(by_step)
        for step in list(steps):
            for target in step["next"] or ():
                if target not in names:
                    names.add(target)
                    steps.append({"name": target, "tasks": 0,
                                  "counts": {s.value: 0 for s in TaskStatus},
                                  "status": TaskStatus.PENDING.value, "started": None,
                                  "finished": None, "next": None, "foreach_count": None,
                                  "foreach_var": None, "first_task": None})
        return steps

    async def _step_states(self, ids: Ids, number: int, steps: list[str]) -> dict[str, dict]:
        """Each step's transition (targets, foreach count) from one finished task's index."""
        found = {s: self._edges[(ids.flow, number, s)] for s in steps
                 if (ids.flow, number, s) in self._edges}
        if len(found) == len(steps):
            return found
        row = await self._one(q.STEP_FIRST_DONE, {"flow": ids.flow, "number": number})
        for item in orjson.loads(row[0]):
            step = item["step"]
            if step in found or step == "_parameters":
                continue
            try:
                index = await self._index(ids.flow, ids.run, step, item["task"],
                                          int(item["attempt"]))
            except (OutOfReach, ValueError):
                continue
            state = {"targets": list(index.state.get("targets") or []),
                     "foreach_count": index.state.get("foreach_count"),
                     "foreach_var": index.state.get("foreach_var")}
            found[step] = state
            if len(self._edges) > 20000:
                self._edges.clear()
            self._edges[(ids.flow, number, step)] = state
        return found

    async def _task_backend(self, flow: str, run: Key, step: str, task: str, attempt: int):
        """The datastore backend one attempt wrote to (or ``OutOfReach``)."""
        task_key = key("task", task)
        params = {"flow": flow, "run": run.value, "step": step, "task": task_key.value,
                  "attempt_tag": orjson.dumps([f"attempt_id:{attempt}"]).decode()}
        row = await self._one(q.TASK_STORE.by(run.is_number, task_key.is_number), params,
                              missing=f"task {flow}/{run.value}/{step}/{task} does not exist")
        ds_type, ds_root, done, _ = row
        return self.reader.backend(ds_type, ds_root), done

    async def _index(self, flow: str, run: Key, step: str, task: str, attempt: int):
        from headwater.exceptions import DataNotFound

        backend, _ = await self._task_backend(flow, run, step, task, attempt)
        prefix = f"{flow}/{run.value}/{step}/{task}"
        try:
            return await run_in_threadpool(self.reader.index, backend, prefix, attempt)
        except DataNotFound:
            raise OutOfReach(f"attempt {attempt} of {prefix} has no index in the datastore "
                             f"(it did not finish)") from None

    async def _run_parameters(self, ids: Ids, number: int, tasks: list[dict]) -> list[dict]:
        cached = self._parameters.get((ids.flow, number))
        if cached is not None:
            return cached
        holder = next((t for t in tasks if t["step"] == "_parameters" and t["finished"]), None)
        if holder is None:
            return []
        try:
            index = await self._index(ids.flow, ids.run, "_parameters",
                                      holder["task_id"], int(holder["attempt"] or 0))
            backend, _ = await self._task_backend(ids.flow, ids.run, "_parameters",
                                                  holder["task_id"], int(holder["attempt"] or 0))
        except OutOfReach as exc:
            return [{"name": "(parameters)", "type": "", "preview": None, "note": str(exc)}]
        out = []
        for name, info in sorted(index.artifacts.items()):
            if name.startswith("_"):
                continue
            entry = {"name": name, "type": info.type, "preview": None, "note": None}
            if preview_type_allowed(info.type):
                try:
                    blob = await run_in_threadpool(self.reader.blob, backend, ids.flow, info.sha)
                    entry["preview"] = render(blob)
                except (PreviewRefused, OutOfReach) as exc:
                    entry["note"] = str(exc)
            else:
                entry["note"] = f"a {info.type} is not previewed"
            out.append(entry)
        if len(self._parameters) > 5000:
            self._parameters.clear()
        self._parameters[(ids.flow, number)] = out
        return out

    # --- one task ------------------------------------------------------------------------

    async def task(self, request: Request) -> Response:
        ids = Ids(request)
        row = await self._one(ids.sql(q.TASK), ids.params(),
                              missing=f"task {ids.path()} does not exist")
        task = orjson.loads(row[0])
        run_row = await self._one(ids.sql(q.RUN), ids.params(),
                                  missing=f"run {ids.flow}/{ids.run.value} does not exist")
        attempts = _attempts(task["metadata"], RunStatus(orjson.loads(run_row[1])["status"]))
        latest = max(attempts, default=None, key=lambda a: a["attempt"])
        chosen = _int_param(request, "attempt")
        if chosen is None and latest is not None:
            chosen = latest["attempt"]
        artifacts = [a for a in task.pop("artifacts") if a["attempt"] == chosen]
        note = None
        cards: list[dict] = []
        if chosen is not None:
            try:
                index = await self._index(ids.flow, ids.run, ids.step, task["task_id"], chosen)
                sizes = {n: info.size for n, info in index.artifacts.items()}
            except OutOfReach as exc:
                sizes, note = {}, str(exc)
            for a in artifacts:
                a["size"] = sizes.get(a["name"])
                a["previewable"] = (preview_type_allowed(a["type"]) and a["size"] is not None)
            try:
                cards = await self._cards(ids, task, chosen)
            except OutOfReach as exc:
                cards = []
                note = note or str(exc)
        body = {"task": task, "attempts": attempts, "attempt": chosen, "artifacts": artifacts,
                "cards": cards, "data_note": note}
        return _json(body, headers={"Cache-Control": "no-cache"})

    async def _cards(self, ids: Ids, task: dict, attempt: int) -> list[dict]:
        backend, _ = await self._task_backend(ids.flow, ids.run, ids.step, task["task_id"],
                                              attempt)
        card_backend = self.reader.card_backend(backend.TYPE)
        found = await run_in_threadpool(card_view.list_cards, card_backend, ids.flow,
                                        str(ids.run.value), ids.step, task["task_id"], attempt)
        return [{"id": c.id, "type": c.type, "status": c.status} for c in found]

    async def log(self, request: Request) -> Response:
        ids = Ids(request)
        try:
            stream = LogStream(request.path_params["stream"])
        except ValueError:
            raise BadRequest("the log is 'stdout' or 'stderr'") from None
        attempt = _int_param(request, "attempt") or 0
        offset = _int_param(request, "offset")
        full = request.query_params.get("full") == "1"
        task = str(ids.task.value)
        try:
            backend, done = await self._task_backend(ids.flow, ids.run, ids.step, task, attempt)
        except OutOfReach as exc:
            return _json({"text": "", "start": 0, "end": 0, "size": 0, "finished": True,
                          "note": str(exc)})
        prefix = f"{ids.flow}/{ids.run.value}/{ids.step}/{task}"
        part = await run_in_threadpool(self.reader.log, backend, prefix, attempt, stream.value,
                                       offset, full)
        return _json({"text": part.text, "start": part.start, "end": part.end,
                      "size": part.size, "finished": bool(done), "note": None},
                     headers={"Cache-Control": "no-cache"})

    async def preview(self, request: Request) -> Response:
        ids = Ids(request)
        name = check_name("artifact", request.path_params["name"])
        attempt = _int_param(request, "attempt") or 0
        row = await self._one(ids.sql(q.TASK), ids.params(),
                              missing=f"task {ids.path()} does not exist")
        task = orjson.loads(row[0])
        found = next((a for a in task["artifacts"]
                      if a["name"] == name and a["attempt"] == attempt), None)
        if found is None:
            raise NotFound(f"artifact {ids.path()}/{name} of attempt {attempt} does not exist")
        result = {"name": name, "type": found["type"], "sha": found["sha"], "preview": None,
                  "note": None}
        if not preview_type_allowed(found["type"]):
            result["note"] = (f"a {found['type']} is not previewed: only plain builtin values "
                              f"are (see docs/ui.md)")
            return _json(result)
        try:
            backend, _ = await self._task_backend(ids.flow, ids.run, ids.step, task["task_id"],
                                                  attempt)
            blob = await run_in_threadpool(self.reader.blob, backend, ids.flow, found["sha"])
            result["preview"] = render(blob)
        except (OutOfReach, PreviewRefused) as exc:
            result["note"] = str(exc)
        except Exception as exc:  # the blob is missing or the store failed: say so
            from headwater.exceptions import DataNotFound

            if not isinstance(exc, DataNotFound):
                raise
            result["note"] = "the stored value is missing from the datastore"
        return _json(result)

    async def card(self, request: Request) -> Response:
        ids = Ids(request)
        card_id = request.path_params["card_id"]
        match = card_view.CARD_ID.match(card_id)
        if match is None:
            raise NotFound(f"task {ids.path()} has no card {card_id[:80]!r}")
        attempt = int(match.group(1))
        task = str(ids.task.value)
        try:
            backend, _ = await self._task_backend(ids.flow, ids.run, ids.step, task, attempt)
            card_backend = self.reader.card_backend(backend.TYPE)
        except OutOfReach as exc:
            raise NotFound(str(exc)) from None
        html = await run_in_threadpool(card_view.read_card, card_backend, ids.flow,
                                       str(ids.run.value), ids.step, task, card_id)
        if html is None:
            raise NotFound(f"task {ids.path()} has no card {card_id[:80]!r}")
        return Response(html, media_type="text/html; charset=utf-8", headers={
            # cards are self-contained pages (their charts' code inline); sandboxed, with
            # no network: nothing a card runs can reach the service or the user's session
            "Content-Security-Policy": "sandbox allow-scripts; default-src 'none'; "
                                       "img-src data: blob:; font-src data:; "
                                       "style-src 'unsafe-inline'; "
                                       "script-src 'unsafe-inline' 'unsafe-eval'",
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})

    # --- pages and login -----------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        """Any page: index.html, with a 404 status when the addressed object is missing."""
        parts = [p for p in request.path_params.get("path", "").split("/") if p]
        status = 200
        if parts:
            try:
                status = 200 if await self._exists(parts) else 404
            except BadRequest:
                status = 404
        return FileResponse(STATIC / "index.html", status_code=status,
                            headers={"Cache-Control": "no-cache"})

    async def _found(self, sql: str, params: dict) -> bool:
        await self.store.require_schema(UI_SCHEMA)
        return await self.store.first(sql, params, read=True) is not None

    async def _exists(self, parts: list[str]) -> bool:
        if len(parts) > 4:
            return False
        flow = check_name("flow", parts[0])
        if len(parts) == 1:
            return await self._found(q.EXISTS_FLOW, {"flow": flow})
        run = key("run", parts[1])
        params: dict[str, Any] = {"flow": flow, "run": run.value}
        if len(parts) == 2:
            return await self._found(q.EXISTS_RUN.by(run.is_number), params)
        params["step"] = check_name("step", parts[2])
        if len(parts) == 3:
            return await self._found(q.EXISTS_STEP.by(run.is_number), params)
        task = key("task", parts[3])
        params["task"] = task.value
        return await self._found(q.EXISTS_TASK.by(run.is_number, task.is_number), params)

    async def login_page(self, request: Request) -> Response:
        return FileResponse(STATIC / "login.html", headers={"Cache-Control": "no-cache"})

    async def login(self, request: Request) -> Response:
        from urllib.parse import parse_qs

        # a urlencoded form of two fields: parsed here, no multipart parser needed
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        given = (form.get("key") or [""])[0]
        target = _safe_next((form.get("next") or [""])[0])
        cookie = self.sessions.issue(given) if given else None
        if cookie is None:
            return RedirectResponse(f"/ui/login?error=1&next={_quote(target)}", status_code=303)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE_NAME, cookie, max_age=12 * 3600, path="/ui", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/ui", httponly=True, samesite="strict")
        return response

    async def whoami(self, request: Request) -> Response:
        return _json({"login_required": self.sessions.required})


def _attempts(rows: list[dict], run: RunStatus) -> list[dict]:
    """Attempts of a task from its metadata rows: start, end, outcome. An attempt that never
    finished in a failed run is failed (as on the run page: nothing will finish it)."""
    attempts: dict[int, dict] = {}
    for row in rows:
        tag = next((t for t in row.get("tags") or () if isinstance(t, str)
                    and t.startswith("attempt_id:")), None)
        if tag is None or not tag[11:].isdigit():
            continue
        n = int(tag[11:])
        a = attempts.setdefault(n, {"attempt": n, "started": None, "finished": None,
                                    "ok": None, "status": TaskStatus.RUNNING.value})
        field = row["field_name"]
        if field == "attempt":
            a["started"] = row["ts_epoch"]
        elif field == "attempt-done":
            a["finished"] = row["ts_epoch"]
        elif field == "attempt_ok":
            a["ok"] = row["value"] == "True"
    for a in attempts.values():
        if a["finished"] is not None or a["ok"] is not None:
            a["status"] = (TaskStatus.SUCCEEDED if a["ok"] else TaskStatus.FAILED).value
        elif run is RunStatus.FAILED:
            a["status"] = TaskStatus.FAILED.value
    return [attempts[n] for n in sorted(attempts)]


def _safe_next(target: str) -> str:
    """Only a path of this UI is a place to go after login (no open redirect)."""
    if target.startswith("/ui") and not target.startswith("//") and "\\" not in target \
            and ":" not in target.split("?")[0][:10]:
        return target
    return "/ui/"


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="/")


_FLOW = "/api/flows/{flow_id}"
_RUN = _FLOW + "/runs/{run_number}"
_TASK = _RUN + "/steps/{step_name}/tasks/{task_id}"


def routes(api: UiApi) -> list:
    """The UI's routes, relative to ``/ui``."""

    def guarded(handler):
        async def serve(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return exc.response()

        serve.__name__ = handler.__name__
        return serve

    return [
        Route("/api/session", guarded(api.whoami)),
        Route("/api/flows", guarded(api.flows)),
        Route(_FLOW + "/runs", guarded(api.runs)),
        Route(_RUN, guarded(api.run)),
        Route(_TASK, guarded(api.task)),
        Route(_TASK + "/logs/{stream}", guarded(api.log)),
        Route(_TASK + "/artifacts/{name}/preview", guarded(api.preview)),
        Route(_TASK + "/cards/{card_id}", guarded(api.card)),
        Route("/api/{rest:path}", guarded(_no_route)),
        Route("/login", api.login_page, methods=["GET"]),
        Route("/login", api.login, methods=["POST"]),
        Route("/logout", api.logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC)),
        Route("/", api.page),
        Route("/{path:path}", api.page),
    ]


async def _no_route(request: Request) -> Response:
    return json_error(404, "not_found", f"no UI route {request.url.path}")
