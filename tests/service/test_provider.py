"""The runtime's ``service`` metadata provider, driven directly against the live service:
every method of the provider interface, string ids, fork safety, retries, and the errors a
user sees when the service is unreachable, too old, behind on its schema, or locked."""

from __future__ import annotations

import os
import threading
import time
import uuid

import psycopg
import pytest

from headwater.exceptions import (ConfigurationError, MetadataError,
                                  MetadataServiceUnreachable, MetadataServiceVersionError,
                                  ObjectNotFound)
from headwater.metadata.base import ArtifactRecord, MetadataEntry
from headwater.metadata.service import ServiceMetadataProvider
from headwater.settings import Settings

from ..fixtures.postgres import database_url, free_port


@pytest.fixture
def provider(metadata_service):
    return ServiceMetadataProvider(metadata_service.url)


@pytest.fixture
def flow():
    return f"Prov{uuid.uuid4().hex[:10]}"


def run_with_task(provider, flow, user="tester"):
    provider.register_flow(flow, user)
    run = provider.new_run(flow, user, ["t1"], ["user:tester"])
    provider.register_step(flow, run["run_number"], "start", user)
    task = provider.new_task(flow, run["run_number"], "start", user)
    return run["run_number"], task["task_id"]


# --- settings ------------------------------------------------------------------------------

def test_from_settings_reads_url_key_and_headers(metadata_service):
    p = ServiceMetadataProvider.from_settings(Settings(env={
        "METAFLOW_SERVICE_URL": metadata_service.url + "/",
        "METAFLOW_SERVICE_AUTH_KEY": "k-123", "METAFLOW_SERVICE_HEADERS": '{"X-Team": "ml"}',
        "METAFLOW_SERVICE_RETRY_COUNT": "2"}))
    assert p.url == metadata_service.url and p.retries == 2
    assert p.describe() == f"service@{metadata_service.url}"
    assert "k-123" not in p.describe() and "k-123" not in repr(vars(p).get("url"))


@pytest.mark.parametrize("env,fragment", [
    ({}, "METAFLOW_SERVICE_URL is not set"),
    ({"METAFLOW_SERVICE_URL": "127.0.0.1:8080"}, "must be an http:// or https:// URL"),
    ({"METAFLOW_SERVICE_URL": "http://x", "METAFLOW_SERVICE_HEADERS": '{"a": 1}'},
     "METAFLOW_SERVICE_HEADERS must be a JSON object"),
    ({"METAFLOW_SERVICE_URL": "http://x", "METAFLOW_SERVICE_HEADERS": "token=sekrit"},
     "METAFLOW_SERVICE_HEADERS must be a JSON object"),
    ({"METAFLOW_SERVICE_URL": "http://x", "METAFLOW_SERVICE_RETRY_COUNT": "many"},
     "METAFLOW_SERVICE_RETRY_COUNT"),
])
def test_bad_settings_are_named(tmp_path, env, fragment):
    env = {"METAFLOW_HOME": str(tmp_path), **env}
    with pytest.raises(ConfigurationError) as info:
        ServiceMetadataProvider.from_settings(Settings(env=env))
    assert fragment in str(info.value)
    assert "sekrit" not in str(info.value)


def test_the_registry_builds_it_from_metaflow_default_metadata(metadata_service, tmp_path):
    from headwater.metadata import get_provider

    p = get_provider(Settings(env={"METAFLOW_HOME": str(tmp_path),
                                   "METAFLOW_DEFAULT_METADATA": "service",
                                   "METAFLOW_SERVICE_URL": metadata_service.url}))
    assert isinstance(p, ServiceMetadataProvider)
    assert p.TASK_HEARTBEAT_SECONDS == 10  # running tasks beat from a background thread


# --- the interface -------------------------------------------------------------------------

def test_writes_and_reads_use_the_service_shapes_with_string_ids(provider, flow):
    assert provider.version() == "2.5.1"
    assert provider.register_flow(flow, "tester")["flow_id"] == flow
    assert provider.register_flow(flow, "other")["user_name"] == "tester"  # idempotent
    run = provider.new_run(flow, "tester", ["t1"], ["user:tester"])
    run_id = run["run_number"]
    assert isinstance(run_id, str) and run_id.isdigit()
    assert run["tags"] == ["t1"] and run["system_tags"] == ["user:tester"]
    step = provider.register_step(flow, run_id, "start", "tester")
    assert provider.register_step(flow, run_id, "start", "tester") == step
    task = provider.new_task(flow, run_id, "start", "tester")
    task_id = task["task_id"]
    assert isinstance(task_id, str) and task["run_number"] == run_id

    provider.register_metadata(flow, run_id, "start", task_id, "tester", [
        MetadataEntry("attempt", "0", "attempt", ["attempt_id:0"]),
        MetadataEntry("attempt_ok", "True", "internal_attempt_status", ["attempt_id:0"])])
    rows = provider.get_metadata(flow, run_id, "start", task_id)
    assert [(r["field_name"], r["value"], r["tags"]) for r in rows] == [
        ("attempt", "0", ["attempt_id:0"]), ("attempt_ok", "True", ["attempt_id:0"])]
    assert all(r["task_id"] == task_id and r["run_number"] == run_id for r in rows)

    provider.register_artifacts(flow, run_id, "start", task_id, "tester", [
        ArtifactRecord("x", "a" * 40, "int", "data/aa", "local", 0),
        ArtifactRecord("_success", "b" * 40, "bool", "data/bb", "local", 0)])
    provider.register_artifacts(flow, run_id, "start", task_id, "tester", [
        ArtifactRecord("x", "c" * 40, "int", "data/cc", "local", 1)])
    latest = provider.get_artifacts(flow, run_id, "start", task_id)
    assert [(a["name"], a["sha"], a["attempt_id"]) for a in latest] == [("x", "c" * 40, 1)]
    first = provider.get_artifacts(flow, run_id, "start", task_id, attempt=0)
    assert sorted(a["name"] for a in first) == ["_success", "x"]

    assert provider.mutate_run_tags(flow, run_id, ["b"], ["t1"]) == ["b"]
    assert provider.get_run(flow, run_id)["tags"] == ["b"]
    assert provider.get_step(flow, run_id, "start")["tags"] == ["b"]
    assert [s["step_name"] for s in provider.get_steps(flow, run_id)] == ["start"]
    assert [t["task_id"] for t in provider.get_tasks(flow, run_id, "start")] == [task_id]
    assert provider.get_task(flow, run_id, "start", task_id)["task_id"] == task_id
    assert [r["run_number"] for r in provider.get_runs(flow)] == [run_id]
    assert provider.get_flow(flow)["flow_id"] == flow
    assert flow in {f["flow_id"] for f in provider.get_flows()}


def test_heartbeats_reach_the_service(provider, flow, metadata_service):
    run_id, task_id = run_with_task(provider, flow)
    with psycopg.connect(metadata_service.database_url, autocommit=True) as db:
        db.execute("UPDATE runs SET last_heartbeat_ts = 1 WHERE flow_id = %s", (flow,))
        db.execute("UPDATE tasks SET last_heartbeat_ts = 1 WHERE flow_id = %s", (flow,))
    provider.heartbeat(flow, run_id)
    assert provider.get_run(flow, run_id)["last_heartbeat_ts"] > 1
    provider.heartbeat(flow, run_id, "start", task_id)
    assert provider.get_task(flow, run_id, "start", task_id)["last_heartbeat_ts"] > 1
    with pytest.raises(ObjectNotFound):
        provider.heartbeat(flow, "99999999")


def test_unknown_objects_read_as_none_or_empty(provider, flow):
    run_id, task_id = run_with_task(provider, flow)
    assert provider.get_flow("NoSuchFlowAnywhere") is None
    assert provider.get_runs("NoSuchFlowAnywhere") == []
    assert provider.get_run(flow, "99999999") is None
    assert provider.get_steps(flow, "99999999") == []
    assert provider.get_step(flow, run_id, "nostep") is None
    assert provider.get_tasks(flow, run_id, "nostep") == []
    assert provider.get_task(flow, run_id, "start", "99999999") is None
    assert provider.get_metadata(flow, run_id, "start", "99999999") == []
    assert provider.get_artifacts(flow, run_id, "start", task_id) == []
    with pytest.raises(ObjectNotFound):
        provider.register_metadata(flow, run_id, "start", "99999999", "tester",
                                   [MetadataEntry("a", "b", "c")])


def test_client_chosen_ids(provider, flow):
    provider.register_flow(flow, "tester")
    run = provider.new_run(flow, "tester", [], [], run_id="argo-a1b2")
    assert run["run_number"] == "argo-a1b2"
    assert provider.new_run(flow, "tester", [], [], run_id="argo-a1b2") == run  # idempotent
    provider.register_step(flow, "argo-a1b2", "start", "tester")
    task = provider.new_task(flow, "argo-a1b2", "start", "tester", task_id="t-0")
    assert task["task_id"] == "t-0"
    assert provider.new_task(flow, "argo-a1b2", "start", "tester", task_id="t-0") == task
    number = provider.new_run(flow, "tester", [], [])["run_number"]
    assert provider.new_run(flow, "tester", [], [], run_id=number)["run_number"] == number
    with pytest.raises(ObjectNotFound, match="allocates numeric run ids"):
        provider.new_run(flow, "tester", [], [], run_id="99999999")


def test_a_new_flow_is_registered_on_its_first_run(provider, flow):
    run = provider.new_run(flow, "tester", [], [])
    assert provider.get_flow(flow)["flow_id"] == flow
    assert provider.get_run(flow, run["run_number"]) is not None


# --- fork safety ---------------------------------------------------------------------------

def test_a_forked_process_gets_its_own_connections(provider, flow):
    """Parent and child hammer the service at the same time after a fork; had they shared a
    pooled socket their answers would interleave and fail."""
    run_id, _ = run_with_task(provider, flow)
    parent_pool = provider._http()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: like a task process of the scheduler
        code = 1
        try:
            os.close(read)
            assert provider._http() is not parent_pool
            for _ in range(60):
                task = provider.new_task(flow, run_id, "start", "child")
                assert task["user_name"] == "child"
            code = 0
        finally:
            os.write(write, str(code).encode())
            os._exit(code)
    os.close(write)
    for _ in range(60):
        assert provider.get_run(flow, run_id)["run_number"] == run_id
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 10) == b"0" and os.waitstatus_to_exitcode(status) == 0
    os.close(read)
    assert provider._http() is parent_pool
    users = [t["user_name"] for t in provider.get_tasks(flow, run_id, "start")]
    assert users.count("child") == 60


def test_threads_share_the_pool_safely(provider, flow):
    run_id, task_id = run_with_task(provider, flow)
    errors: list[BaseException] = []

    def beat() -> None:
        try:
            for _ in range(20):
                provider.heartbeat(flow, run_id, "start", task_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=beat) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(20):
        provider.register_metadata(flow, run_id, "start", task_id, "tester",
                                   [MetadataEntry("k", "v", "t")])
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(provider.get_metadata(flow, run_id, "start", task_id)) == 20


# --- failures ------------------------------------------------------------------------------

class _Sleeps:
    """Stands in for the provider's ``time`` module: records each backoff (and sleeps it
    only when ``real``), so a test sees how often and how long the provider waited."""

    def __init__(self, real: bool = False):
        self.delays: list[float] = []
        self.real = real

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.real:
            time.sleep(seconds)

    def __getattr__(self, name: str):
        return getattr(time, name)


@pytest.fixture
def sleeps(monkeypatch):
    from headwater.metadata import service

    def install(real: bool = False) -> _Sleeps:
        recorder = _Sleeps(real)
        monkeypatch.setattr(service, "time", recorder)
        return recorder

    return install


def test_an_unreachable_service_is_named_quickly(sleeps):
    url = f"http://127.0.0.1:{free_port()}"
    provider = ServiceMetadataProvider(url, retries=3, backoff=0.05)
    waited = sleeps()
    with pytest.raises(MetadataServiceUnreachable) as info:
        provider.get_flows()
    # bounded retries: one backoff between attempts, doubling, with +-20% jitter
    assert len(waited.delays) == 2
    assert 0.04 <= waited.delays[0] <= 0.06 and 0.08 <= waited.delays[1] <= 0.12
    message = str(info.value)
    assert url in message and "after 3 attempt(s)" in message
    assert "METAFLOW_SERVICE_URL" in message and "headwater-service serve" in message


def test_5xx_answers_are_retried_until_the_service_recovers(postgres_server_url,
                                                            start_service, sleeps):
    """The service starts before its database exists (every request a 503); the database
    appears once the service has answered a 503, and the provider's retries get through."""
    from headwater_service import migrations

    name = f"hw_late_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = database_url(postgres_server_url, name)
    service = start_service(url, env={"HEADWATER_SERVICE_POOL_TIMEOUT": "0.5"})

    def create_later() -> None:
        deadline = time.monotonic() + 60
        while '"status":503' not in service.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(url) as conn:
            migrations.upgrade(conn)

    creator = threading.Thread(target=create_later)
    creator.start()
    try:
        provider = ServiceMetadataProvider(service.url, retries=8, backoff=0.5)
        waited = sleeps(real=True)
        assert provider.register_flow("LateFlow", "tester")["flow_id"] == "LateFlow"
        assert waited.delays  # it got a 503 first and tried again
        assert '"status":503' in service.log()
    finally:
        creator.join()
        service.stop()
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_service_whose_schema_is_behind_is_reported_at_once(make_database, start_service,
                                                              sleeps):
    service = start_service(make_database(schema=1))
    provider = ServiceMetadataProvider(service.url, retries=5, backoff=1.0)
    provider.register_flow("Behind", "tester")  # flows exist at schema version 1
    waited = sleeps()
    with pytest.raises(MetadataServiceVersionError) as info:
        provider.new_run("Behind", "tester", [], [])
    assert waited.delays == []  # not retried: only an operator can fix it
    assert "headwater-service db upgrade" in str(info.value)


def test_a_service_that_is_too_old_is_refused():
    """A fake service answering /ping with an old version: no metaflow-service older than
    2.3 can run here."""
    import http.server

    class OldService(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("METADATA_SERVICE_VERSION", "2.0.5")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"pong")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), OldService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        provider = ServiceMetadataProvider(f"http://127.0.0.1:{server.server_port}")
        with pytest.raises(MetadataServiceVersionError, match="2.0.5.*2.3.0 or later"):
            provider.get_flows()
    finally:
        server.shutdown()


def test_a_locked_service_asks_for_the_key_and_never_shows_it(make_database, start_service):
    service = start_service(make_database(), api_keys=("prov-key-31f",))
    with pytest.raises(MetadataError) as info:
        ServiceMetadataProvider(service.url).register_flow("Locked", "tester")
    assert "HTTP 401" in str(info.value) and "METAFLOW_SERVICE_AUTH_KEY" in str(info.value)
    wrong = ServiceMetadataProvider(service.url, auth_key="wrong-key-55")
    with pytest.raises(MetadataError) as info:
        wrong.register_flow("Locked", "tester")
    assert "wrong-key-55" not in str(info.value)
    good = ServiceMetadataProvider(service.url, auth_key="prov-key-31f")
    assert good.register_flow("Locked", "tester")["flow_id"] == "Locked"
    assert "prov-key-31f" not in good.describe()
