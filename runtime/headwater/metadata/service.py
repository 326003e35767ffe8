"""The ``service`` metadata provider: records runs through the metadata HTTP API
(``headwater-service``, or Netflix's metaflow-service).

Settings: ``METAFLOW_SERVICE_URL`` (required), ``METAFLOW_SERVICE_AUTH_KEY`` (environment
only; sent as ``x-api-key``) or ``METAFLOW_SERVICE_AUTH_SECRET_ID`` (where the stack keeps
the key; ``service_auth.py`` reads it), ``METAFLOW_SERVICE_CA_CERT`` (PEM of the CA that
signed an https service's certificate, when it is the stack's own), ``METAFLOW_SERVICE_HEADERS`` (a JSON object of extra headers),
``METAFLOW_SERVICE_RETRY_COUNT`` (attempts per request, default 5).

- Connection errors and 5xx answers are retried with exponential backoff (bounded); a
  heartbeat is tried once, since the next one is a few seconds away.
- A task is created with an ``Idempotency-Key`` header (one random key per task, the same
  on every retry): when the service committed the task but its answer was lost (it died,
  the connection dropped), the retry gets that task back instead of a second one. A
  service that ignores the header (metaflow-service) behaves as before.
- Unreachable service: ``MetadataServiceUnreachable`` naming the URL. Service too old, or its
  database schema behind: ``MetadataServiceVersionError``.
- The runtime forks task processes: a connection pool is never shared across a fork (the
  pool is rebuilt when ``os.getpid()`` changes), and it is thread-safe for the heartbeat
  thread.
- The auth key is never part of a message, a log line or ``describe()``.

Ids cross the provider interface as strings; the dicts are the service's own shapes.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..exceptions import (ConfigurationError, MetadataError, MetadataServiceUnreachable,
                          MetadataServiceVersionError, ObjectNotFound)
from .base import ArtifactRecord, MetadataEntry, MetadataProvider

if TYPE_CHECKING:
    import urllib3

    from ..settings import Settings

#: The oldest service API this provider works with: tag mutation (2.3.0) and
#: attempt-specific artifact reads (2.0.6) are part of the provider interface.
MIN_SERVICE_VERSION = (2, 3, 0)
VERSION_HEADER = "METADATA_SERVICE_VERSION"
DEFAULT_RETRIES = 5
MAX_BACKOFF_SECONDS = 8.0
HEARTBEAT_TIMEOUT_SECONDS = 5.0
IDEMPOTENCY_HEADER = "Idempotency-Key"

_ID_KEYS = ("run_number", "task_id")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def _redact(url: str) -> str:
    return re.sub(r"//[^/@]*@", "//", url)


def _normalize(obj: Any) -> Any:
    """Ids as strings, as the provider interface wants them."""
    if isinstance(obj, list):
        return [_normalize(o) for o in obj]
    if isinstance(obj, dict):
        for k in _ID_KEYS:
            if k in obj and obj[k] is not None:
                obj[k] = str(obj[k])
    return obj


class _Response:
    __slots__ = ("status", "data")

    def __init__(self, status: int, data: bytes):
        self.status, self.data = status, data

    def json(self) -> Any:
        return json.loads(self.data) if self.data else None

    def message(self) -> str:
        try:
            body = json.loads(self.data)
        except ValueError:
            return self.data[:300].decode("utf-8", "replace").strip()
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return body["message"]
        return str(body)[:300]

    def error_code(self) -> str | None:
        try:
            body = json.loads(self.data)
        except ValueError:
            return None
        return body.get("error") if isinstance(body, dict) else None


class ServiceMetadataProvider(MetadataProvider):
    """Records runs in a metadata service over HTTP (urllib3)."""

    TYPE = "service"
    TASK_HEARTBEAT_SECONDS = 10

    def __init__(self, url: str, auth_key: str | None = None,
                 headers: dict[str, str] | None = None, retries: int = DEFAULT_RETRIES,
                 backoff: float = 0.5, timeout: float = 30.0, ca_cert: str | None = None):
        if not re.match(r"^https?://[^/]+", url or ""):
            raise ConfigurationError(
                f"METAFLOW_SERVICE_URL must be an http:// or https:// URL, got {_redact(url)!r}",
                "e.g. export METAFLOW_SERVICE_URL=http://127.0.0.1:8080")
        self.url = url.rstrip("/")
        self.retries = max(1, retries)
        self.backoff = backoff
        self.timeout = timeout
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        self._headers.update(headers or {})
        if auth_key:
            self._headers["x-api-key"] = auth_key
        self._ca_cert = ca_cert  # trusted in addition to nothing else: the stack's own CA
        self._pool: Any = None
        self._pool_pid: int | None = None
        self._lock = threading.Lock()
        self._version: str | None = None
        self._last_version: str | None = None
        self._version_checked = False

    @classmethod
    def from_settings(cls, settings: "Settings") -> "ServiceMetadataProvider":
        url = settings.require("METAFLOW_SERVICE_URL",
                               "to record runs in the metadata service "
                               "(METAFLOW_DEFAULT_METADATA=service)")
        headers: dict[str, str] = {}
        raw = settings.get("METAFLOW_SERVICE_HEADERS")
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()):
                # the value may hold a token: name the setting, never echo it
                raise ConfigurationError(
                    "METAFLOW_SERVICE_HEADERS must be a JSON object of string header values",
                    'e.g. METAFLOW_SERVICE_HEADERS=\'{"X-Team": "ml"}\'')
            headers = parsed
        retries = settings.get("METAFLOW_SERVICE_RETRY_COUNT")
        try:
            attempts = int(retries) if retries else DEFAULT_RETRIES
        except ValueError:
            raise ConfigurationError(f"METAFLOW_SERVICE_RETRY_COUNT={retries!r} is not a number",
                                     "set it to the number of attempts, e.g. 5") from None
        from ..service_auth import service_auth_key

        return cls(url, auth_key=service_auth_key(settings), headers=headers, retries=attempts,
                   ca_cert=settings.get("METAFLOW_SERVICE_CA_CERT"))

    def describe(self) -> str:
        return f"service@{_redact(self.url)}"

    def version(self) -> str | None:
        """The service's API version (``METADATA_SERVICE_VERSION`` of ``GET /ping``)."""
        if self._version is None:
            resp = self._send("GET", "/ping", None, self.retries)
            if resp.status != 200:
                self._raise(resp, "GET", "/ping")
            self._version = self._last_version
        return self._version

    # --- HTTP ----------------------------------------------------------------------------

    def _http(self):
        """The connection pool of this process (rebuilt after a fork: sockets must not be
        shared between the scheduler and its task processes)."""
        pid = os.getpid()
        if self._pool is None or self._pool_pid != pid:
            with self._lock:
                if self._pool is None or self._pool_pid != pid:
                    import urllib3

                    tls: dict[str, Any] = {}
                    if self._ca_cert:
                        import ssl

                        tls["ssl_context"] = ssl.create_default_context(cadata=self._ca_cert)
                    self._pool = urllib3.PoolManager(
                        num_pools=4, maxsize=8, retries=False,
                        timeout=urllib3.Timeout(connect=5.0, read=self.timeout), **tls)
                    self._pool_pid = pid
        return self._pool

    def _send(self, method: str, path: str, body: Any, attempts: int,
              timeout: "float | urllib3.Timeout | None" = None,
              headers: dict[str, str] | None = None) -> _Response:
        """One request with retries on connection errors and 5xx (except a schema refusal,
        which retrying cannot fix). Returns the last response; raises
        ``MetadataServiceUnreachable`` when no attempt got one."""
        import urllib3

        data = None if body is None else json.dumps(body).encode()
        headers = {**self._headers, **headers} if headers else self._headers
        reason = ""
        resp: _Response | None = None
        for attempt in range(attempts):
            if attempt:
                delay = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
                time.sleep(delay * random.uniform(0.8, 1.2))
            try:
                raw = self._http().request(method, self.url + path, body=data,
                                           headers=headers, timeout=timeout or
                                           urllib3.Timeout(connect=5.0, read=self.timeout))
            except urllib3.exceptions.HTTPError as exc:
                reason = type(exc).__name__ if not str(exc) else _short_reason(exc)
                resp = None
                continue
            resp = _Response(raw.status, raw.data)
            if path == "/ping":
                self._last_version = raw.headers.get(VERSION_HEADER)
            if resp.status < 500 or resp.error_code() == "schema_outdated":
                return resp
        if resp is not None:
            return resp
        raise MetadataServiceUnreachable(
            f"cannot reach the metadata service at {_redact(self.url)} after {attempts} "
            f"attempt(s): {reason}",
            "check METAFLOW_SERVICE_URL and that the service is running "
            "(headwater-service serve)")

    def _raise(self, resp: _Response, method: str, path: str) -> None:
        where = f"{method} {path}"
        message = resp.message()
        if resp.status == 503 and resp.error_code() == "schema_outdated":
            raise MetadataServiceVersionError(
                f"the metadata service at {_redact(self.url)} cannot serve {where}: {message}",
                "ask the service's operator to back up the database and run "
                "`headwater-service db upgrade`")
        if resp.status in (401, 403):
            raise MetadataError(
                f"the metadata service at {_redact(self.url)} refused {where} "
                f"(HTTP {resp.status}): {message}",
                "set METAFLOW_SERVICE_AUTH_KEY to an API key the service accepts")
        if resp.status == 404:
            raise ObjectNotFound(f"{where}: {message}")
        raise MetadataError(f"the metadata service at {_redact(self.url)} answered {where} "
                            f"with HTTP {resp.status}: {message}")

    def _check_version(self) -> None:
        if self._version_checked:
            return
        version = self.version()
        if version is None or _version_tuple(version) < MIN_SERVICE_VERSION:
            raise MetadataServiceVersionError(
                f"the metadata service at {_redact(self.url)} reports API version "
                f"{version or 'none'}; Headwater needs "
                f"{'.'.join(map(str, MIN_SERVICE_VERSION))} or later",
                "upgrade the service (headwater-service, or metaflow-service >= 2.3.0)")
        self._version_checked = True

    def _call(self, method: str, path: str, body: Any = None, missing_ok: bool = False,
              conflict_ok: bool = False, headers: dict[str, str] | None = None) -> Any:
        """The decoded answer; ``None`` for a 404 (``missing_ok``) or 409 (``conflict_ok``)."""
        self._check_version()
        resp = self._send(method, path, body, self.retries, headers=headers)
        if resp.status < 300:
            return _normalize(resp.json())
        if (resp.status == 404 and missing_ok) or (resp.status == 409 and conflict_ok):
            return None
        self._raise(resp, method, path)

    @staticmethod
    def _path(flow: str, run: str | None = None, step: str | None = None,
              task: str | None = None) -> str:
        path = "/flows/" + quote(flow, safe="")
        if run is not None:
            path += "/runs/" + quote(str(run), safe="")
        if step is not None:
            path += "/steps/" + quote(step, safe="")
        if task is not None:
            path += "/tasks/" + quote(str(task), safe="")
        return path

    # --- writing -------------------------------------------------------------------------

    def register_flow(self, flow_name: str, user: str) -> dict:
        body = {"user_name": user, "tags": [], "system_tags": []}
        flow = self._call("POST", self._path(flow_name), body, conflict_ok=True)
        return flow if flow is not None else self._call("GET", self._path(flow_name))

    def new_run(self, flow_name: str, user: str, tags: list[str], system_tags: list[str],
                run_id: str | None = None) -> dict:
        if run_id is not None and str(run_id).isdigit():
            # numbers are allocated by the service: this run must exist already
            run = self.get_run(flow_name, str(run_id))
            if run is None:
                raise ObjectNotFound(f"run {flow_name}/{run_id} does not exist in the "
                                     f"metadata service, which allocates numeric run ids")
            return run
        body: dict[str, Any] = {"user_name": user, "tags": list(tags),
                                "system_tags": list(system_tags)}
        if run_id is not None:
            body["run_number"] = run_id
        try:
            run = self._call("POST", f"{self._path(flow_name)}/run", body,
                             conflict_ok=run_id is not None)
        except ObjectNotFound:  # the flow is new to the service
            self.register_flow(flow_name, user)
            run = self._call("POST", f"{self._path(flow_name)}/run", body,
                             conflict_ok=run_id is not None)
        return run if run is not None else self._call("GET", self._path(flow_name, run_id))

    def register_step(self, flow_name: str, run_id: str, step_name: str, user: str) -> dict:
        path = self._path(flow_name, run_id, step_name)
        step = self._call("POST", f"{path}/step", {"user_name": user, "tags": [],
                                                   "system_tags": []}, conflict_ok=True)
        return step if step is not None else self._call("GET", path)

    def new_task(self, flow_name: str, run_id: str, step_name: str, user: str,
                 task_id: str | None = None) -> dict:
        if task_id is not None and str(task_id).isdigit():
            task = self.get_task(flow_name, run_id, step_name, str(task_id))
            if task is None:
                raise ObjectNotFound(f"task {flow_name}/{run_id}/{step_name}/{task_id} does not"
                                     f" exist in the metadata service, which allocates numeric "
                                     f"task ids")
            return task
        body: dict[str, Any] = {"user_name": user, "tags": [], "system_tags": []}
        if task_id is not None:
            body["task_id"] = task_id
        path = self._path(flow_name, run_id, step_name)
        task = self._call("POST", f"{path}/task", body, conflict_ok=task_id is not None,
                          headers={IDEMPOTENCY_HEADER: uuid.uuid4().hex})
        return task if task is not None else self._call(
            "GET", self._path(flow_name, run_id, step_name, task_id))

    def register_metadata(self, flow_name: str, run_id: str, step_name: str, task_id: str,
                          user: str, entries: list[MetadataEntry]) -> None:
        if entries:
            self._call("POST", self._path(flow_name, run_id, step_name, task_id) + "/metadata",
                       [e.to_dict(user) for e in entries])

    def register_artifacts(self, flow_name: str, run_id: str, step_name: str, task_id: str,
                           user: str, artifacts: list[ArtifactRecord]) -> None:
        if artifacts:
            self._call("POST", self._path(flow_name, run_id, step_name, task_id) + "/artifact",
                       [a.to_dict(user) for a in artifacts])

    def heartbeat(self, flow_name: str, run_id: str, step_name: str | None = None,
                  task_id: str | None = None) -> None:
        import urllib3

        self._check_version()
        if task_id is not None:
            path = self._path(flow_name, run_id, step_name, task_id) + "/heartbeat"
        else:
            path = self._path(flow_name, run_id) + "/heartbeat"
        # Once, briefly: a missed beat is followed by the next; retrying would stall the
        # scheduler loop that sends it.
        resp = self._send("POST", path, {}, 1, urllib3.Timeout(connect=2.0,
                                                                read=HEARTBEAT_TIMEOUT_SECONDS))
        if resp.status >= 300:
            self._raise(resp, "POST", path)

    def mutate_run_tags(self, flow_name: str, run_id: str, add: list[str],
                        remove: list[str]) -> list[str]:
        path = self._path(flow_name, run_id) + "/tag/mutate"
        answer = self._call("PATCH", path, {"tags_to_add": list(add),
                                            "tags_to_remove": list(remove)})
        return list(answer["tags"])

    # --- reading -------------------------------------------------------------------------

    def get_flows(self) -> list[dict]:
        return self._call("GET", "/flows")

    def get_flow(self, flow_name: str) -> dict | None:
        return self._call("GET", self._path(flow_name), missing_ok=True)

    def get_runs(self, flow_name: str) -> list[dict]:
        return self._call("GET", self._path(flow_name) + "/runs", missing_ok=True) or []

    def get_run(self, flow_name: str, run_id: str) -> dict | None:
        return self._call("GET", self._path(flow_name, run_id), missing_ok=True)

    def get_steps(self, flow_name: str, run_id: str) -> list[dict]:
        return self._call("GET", self._path(flow_name, run_id) + "/steps", missing_ok=True) or []

    def get_step(self, flow_name: str, run_id: str, step_name: str) -> dict | None:
        return self._call("GET", self._path(flow_name, run_id, step_name), missing_ok=True)

    def get_tasks(self, flow_name: str, run_id: str, step_name: str) -> list[dict]:
        return self._call("GET", self._path(flow_name, run_id, step_name) + "/tasks",
                          missing_ok=True) or []

    def get_task(self, flow_name: str, run_id: str, step_name: str,
                 task_id: str) -> dict | None:
        return self._call("GET", self._path(flow_name, run_id, step_name, task_id),
                          missing_ok=True)

    def get_metadata(self, flow_name: str, run_id: str, step_name: str,
                     task_id: str) -> list[dict]:
        return self._call("GET", self._path(flow_name, run_id, step_name, task_id) + "/metadata",
                          missing_ok=True) or []

    def get_artifacts(self, flow_name: str, run_id: str, step_name: str, task_id: str,
                      attempt: int | None = None) -> list[dict]:
        path = self._path(flow_name, run_id, step_name, task_id)
        path += "/artifacts" if attempt is None else f"/attempt/{int(attempt)}/artifacts"
        return self._call("GET", path, missing_ok=True) or []


def _short_reason(exc: Exception) -> str:
    """A one-line reason for a connection failure (urllib3 messages repeat the pool)."""
    text = str(exc)
    match = re.search(r"(Failed to establish a new connection: .*?|Connection refused|"
                      r"Read timed out|Connection aborted|Remote end closed connection"
                      r"[^)']*)(?:'|\)|$)", text)
    return (match.group(1) if match else text.splitlines()[0])[:200]
