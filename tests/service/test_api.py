"""The service's routes, shapes and status codes (metaflow-service 2.5.1 compatible),
driven over HTTP against the real service on a real Postgres."""

from __future__ import annotations

import json
import re
import time

import orjson

from .helpers import artifact, make_task


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


# --- service routes ----------------------------------------------------------------------

def test_ping_reports_the_api_version_clients_gate_features_on(api):
    resp = api.get("/ping")
    assert resp.status_code == 200 and resp.text == "pong"
    assert version_tuple(resp.headers["METADATA_SERVICE_VERSION"]) >= (2, 5, 1)
    assert api.get("/version").text == resp.headers["METADATA_SERVICE_VERSION"]
    health = api.get("/healthcheck").json()
    assert health["status"] == "UP"
    assert health["version"] == resp.headers["METADATA_SERVICE_VERSION"]


def test_every_response_carries_the_version_header(api, flow_name):
    for resp in (api.get("/flows"), api.get(f"/flows/{flow_name}"), api.get("/nope")):
        assert version_tuple(resp.headers["METADATA_SERVICE_VERSION"]) >= (2, 5, 1)


def test_ready_when_the_database_answers_and_the_schema_is_current(api):
    resp = api.get("/ready")
    assert resp.status_code == 200
    body = resp.json()
    assert body["ready"] is True and body["database"] == "ok"
    assert body["schema_version"] == body["expected_schema_version"] >= 2


def test_openapi_document_lists_every_route(api):
    from headwater_service.routes import ENDPOINTS

    doc = api.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    for spec in ENDPOINTS:
        assert spec.method.lower() in doc["paths"][spec.path], spec.path
    create = doc["paths"]["/flows/{flow_id}/runs/{run_number}/steps/{step_name}/tasks/{task_id}"
                          "/metadata"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"


# --- flows and runs ------------------------------------------------------------------------

def test_flow_is_created_once_and_listed(api, flow_name):
    resp = api.post(f"/flows/{flow_name}", json={"user_name": "tester", "ts_epoch": 1})
    assert resp.status_code == 200
    flow = resp.json()
    assert flow == {"flow_id": flow_name, "user_name": "tester", "ts_epoch": flow["ts_epoch"],
                    "tags": [], "system_tags": []}
    assert flow["ts_epoch"] > 1_600_000_000_000  # milliseconds, from the server's clock
    assert api.get(f"/flows/{flow_name}").json() == flow
    assert flow in api.get("/flows").json()
    again = api.post(f"/flows/{flow_name}", json={})
    assert again.status_code == 409 and again.json()["error"] == "conflict"


def test_runs_get_numbers_from_the_database_and_list_newest_first(api, flow_name):
    api.post(f"/flows/{flow_name}", json={})
    body = {"user_name": "tester", "tags": ["exp"], "system_tags": ["user:tester"]}
    runs = [api.post(f"/flows/{flow_name}/run", json=body).json() for _ in range(3)]
    numbers = [r["run_number"] for r in runs]
    assert all(isinstance(n, int) for n in numbers) and numbers == sorted(numbers)
    assert len(set(numbers)) == 3
    first = runs[0]
    assert first["tags"] == ["exp"] and first["system_tags"] == ["user:tester"]
    assert first["user_name"] == first["user"] == "tester"
    assert isinstance(first["last_heartbeat_ts"], int)
    assert api.get(f"/flows/{flow_name}/runs/{numbers[0]}").json() == first
    listed = api.get(f"/flows/{flow_name}/runs").json()
    assert [r["run_number"] for r in listed] == numbers[::-1]


def test_a_run_named_by_the_client_answers_to_its_name_and_its_number(api, flow_name, db):
    api.post(f"/flows/{flow_name}", json={})
    run = api.post(f"/flows/{flow_name}/run", json={"run_number": "argo-abc.1"}).json()
    assert run["run_number"] == "argo-abc.1" and run["run_id"] == "argo-abc.1"
    number = db.execute("SELECT run_number FROM runs WHERE flow_id = %s AND run_id = %s",
                        (flow_name, "argo-abc.1")).fetchone()[0]
    assert api.get(f"/flows/{flow_name}/runs/argo-abc.1").json() == run
    assert api.get(f"/flows/{flow_name}/runs/{number}").json() == run
    again = api.post(f"/flows/{flow_name}/run", json={"run_number": "argo-abc.1"})
    assert again.status_code == 409


# --- steps and tasks -----------------------------------------------------------------------

def test_steps_and_tasks_carry_their_runs_tags(api, flow_name):
    run, task = make_task(api, flow_name)
    base = f"/flows/{flow_name}/runs/{run}"
    step = api.get(f"{base}/steps/start").json()
    assert step["step_name"] == "start" and step["run_number"] == int(run)
    assert step["tags"] == ["t1"] and step["system_tags"] == ["user:tester"]
    assert api.get(f"{base}/steps").json() == [step]
    got = api.get(f"{base}/steps/start/tasks/{task}").json()
    assert got["task_id"] == int(task) and got["step_name"] == "start"
    assert got["tags"] == ["t1"] and got["system_tags"] == ["user:tester"]
    second = api.post(f"{base}/steps/start/task", json={"user_name": "tester"}).json()
    assert second["task_id"] > got["task_id"]
    assert [t["task_id"] for t in api.get(f"{base}/steps/start/tasks").json()] == [
        second["task_id"], got["task_id"]]
    assert api.post(f"{base}/steps/start/step", json={}).status_code == 409


def test_a_task_named_by_the_client_answers_to_its_name(api, flow_name):
    run, _ = make_task(api, flow_name)
    base = f"/flows/{flow_name}/runs/{run}/steps/start"
    task = api.post(f"{base}/task", json={"task_id": "t-7f3a"}).json()
    assert task["task_id"] == "t-7f3a" and task["task_name"] == "t-7f3a"
    assert api.get(f"{base}/tasks/t-7f3a").json() == task
    assert api.post(f"{base}/task", json={"task_id": "t-7f3a"}).status_code == 409



def test_a_repeated_idempotency_key_returns_the_task_it_created(api, flow_name, db):
    run, _ = make_task(api, flow_name)
    base = f"/flows/{flow_name}/runs/{run}/steps/start"
    key = {"Idempotency-Key": "7d1c0e7a9b3f4e21a1b2c3d4e5f60718"}
    first = api.post(f"{base}/task", json={"user_name": "tester"}, headers=key)
    again = api.post(f"{base}/task", json={"user_name": "tester"}, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    # a named task retried with its key is the same task too, not a 409
    named_key = {"Idempotency-Key": "named-1"}
    named = api.post(f"{base}/task", json={"task_id": "t-k1"}, headers=named_key).json()
    assert api.post(f"{base}/task", json={"task_id": "t-k1"}, headers=named_key).json() == named
    # another key, or none, is another task
    other = api.post(f"{base}/task", json={}, headers={"Idempotency-Key": "other"}).json()
    plain = api.post(f"{base}/task", json={}).json()
    assert len({first.json()["task_id"], other["task_id"], plain["task_id"]}) == 3
    count = db.execute("SELECT count(*) FROM tasks WHERE flow_id = %s AND step_name = 'start'",
                       (flow_name,)).fetchone()[0]
    assert count == 5  # make_task's, the keyed one, the named one, other, plain
    # the key is scoped to its step: the same key under another step is a new task
    api.post(f"/flows/{flow_name}/runs/{run}/steps/end/step", json={})
    elsewhere = api.post(f"/flows/{flow_name}/runs/{run}/steps/end/task", json={},
                         headers=key).json()
    assert elsewhere["step_name"] == "end"
    missing = api.post(f"/flows/{flow_name}/runs/{run}/steps/nosuch/task", json={},
                       headers=key)
    assert missing.status_code == 404 and "does not exist" in missing.json()["message"]
    bad = api.post(f"{base}/task", json={}, headers={"Idempotency-Key": "has space"})
    assert bad.status_code == 400 and "Idempotency-Key" in bad.json()["message"]


# --- metadata ------------------------------------------------------------------------------

def test_metadata_rows_come_back_in_order_for_the_task_and_the_run(api, flow_name):
    run, task = make_task(api, flow_name)
    path = f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}/metadata"
    rows = [{"field_name": "attempt", "value": "0", "type": "attempt", "user_name": "tester",
             "tags": ["attempt_id:0"], "system_tags": ["attempt_id:0"]},
            {"field_name": "ds-root", "value": "/tmp/x", "type": "ds-root",
             "tags": ["attempt_id:0"]}]
    resp = api.post(path, json=rows)
    assert resp.status_code == 200 and resp.json() == {"metadata_created": 2}
    api.post(path, json=[{"field_name": "attempt_ok", "value": "True",
                          "type": "internal_attempt_status", "tags": ["attempt_id:0"]}])
    got = api.get(path).json()
    assert [m["field_name"] for m in got] == ["attempt", "ds-root", "attempt_ok"]
    assert got[0]["id"] < got[1]["id"] < got[2]["id"]
    assert got[0] == {**got[0], "flow_id": flow_name, "run_number": int(run),
                      "step_name": "start", "task_id": int(task), "value": "0",
                      "type": "attempt", "user_name": "tester", "tags": ["attempt_id:0"],
                      "system_tags": ["attempt_id:0"]}
    assert got[1]["system_tags"] == [] and got[1]["user_name"] is None
    assert api.get(f"/flows/{flow_name}/runs/{run}/metadata").json() == got


def test_metadata_values_that_are_not_strings_are_stored_as_json(api, flow_name):
    """metaflow sends foreach-stack as a list of strings."""
    run, task = make_task(api, flow_name)
    path = f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}/metadata"
    rows = [{"field_name": "foreach-stack", "value": ["items=0", "x=1"], "type": "foreach-stack"},
            {"field_name": "n", "value": 3, "type": "int"},
            {"field_name": "ok", "value": True, "type": "bool"}]
    assert api.post(path, json=rows).json() == {"metadata_created": 3}
    assert [m["value"] for m in api.get(path).json()] == ['["items=0","x=1"]', "3", "true"]


def test_filtered_tasks_match_a_field_and_a_regular_expression(api, flow_name):
    run, first = make_task(api, flow_name)
    base = f"/flows/{flow_name}/runs/{run}/steps/start"
    second = str(api.post(f"{base}/task", json={}).json()["task_id"])
    for task, value in ((first, "red-1"), (second, "blue-2")):
        api.post(f"{base}/tasks/{task}/metadata",
                 json=[{"field_name": "color", "value": value, "type": "user"}])
    query = f"{base}/filtered_tasks"
    assert api.get(query, params={"metadata_field_name": "color", "pattern": "^red"}).json() \
        == [f"{flow_name}/{run}/start/{first}"]
    assert api.get(query, params={"metadata_field_name": "color", "pattern": "-[0-9]$"}
                   ).json() == [f"{flow_name}/{run}/start/{first}",
                                f"{flow_name}/{run}/start/{second}"]
    assert api.get(query, params={"metadata_field_name": "shape"}).json() == []
    assert len(api.get(query).json()) == 2  # no filter: every task of the step
    bad = api.get(query, params={"pattern": "(unclosed"})
    assert bad.status_code == 400 and "regular expression" in bad.json()["message"]


# --- artifacts -----------------------------------------------------------------------------

def test_artifacts_of_the_latest_attempt_and_of_a_given_one(api, flow_name):
    run, task = make_task(api, flow_name)
    path = f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}"
    first = [artifact("x", 0), artifact("name", 0)]
    second = [artifact("x", 1), artifact("y", 1), artifact("name", 1)]
    assert api.post(f"{path}/artifact", json=first).json() == {"artifacts_created": 2}
    assert api.post(f"{path}/artifact", json=second).json() == {"artifacts_created": 3}

    latest = api.get(f"{path}/artifacts").json()
    assert sorted(a["name"] for a in latest) == ["name", "x", "y"]
    assert {a["attempt_id"] for a in latest} == {1}
    x = next(a for a in latest if a["name"] == "x")
    assert x == {**x, "flow_id": flow_name, "run_number": int(run), "step_name": "start",
                 "task_id": int(task), "location": second[0]["location"], "ds_type": "local",
                 "sha": second[0]["sha"], "type": "metaflow.artifact",
                 "content_type": "gzip+pickle-v2", "user_name": "tester",
                 "tags": ["t1"], "system_tags": ["user:tester"]}
    assert api.get(f"{path}/artifacts/x").json() == x
    old = api.get(f"{path}/artifacts/x/attempt/0").json()
    assert old["sha"] == first[0]["sha"] and old["attempt_id"] == 0
    assert sorted(a["name"] for a in api.get(f"{path}/attempt/0/artifacts").json()) == [
        "name", "x"]
    assert api.get(f"{path}/artifacts/y/attempt/0").status_code == 404
    assert api.get(f"{path}/artifacts/nothing").status_code == 404
    step_level = api.get(f"/flows/{flow_name}/runs/{run}/steps/start/artifacts").json()
    run_level = api.get(f"/flows/{flow_name}/runs/{run}/artifacts").json()
    assert sorted(a["sha"] for a in step_level) == sorted(a["sha"] for a in latest)
    assert sorted(a["sha"] for a in run_level) == sorted(a["sha"] for a in latest)


def test_resending_artifacts_is_a_no_op_and_a_different_row_a_conflict(api, flow_name, db):
    run, task = make_task(api, flow_name)
    path = f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}/artifact"
    rows = [artifact("a"), artifact("b")]
    assert api.post(path, json=rows).json() == {"artifacts_created": 2}
    assert api.post(path, json=rows).json() == {"artifacts_created": 0}  # a client retry
    clash = api.post(path, json=[artifact("c"), artifact("a", sha="f" * 40)])
    assert clash.status_code == 409 and "nothing was written" in clash.json()["message"]
    names = {r[0] for r in db.execute("SELECT name FROM artifacts WHERE flow_id = %s",
                                      (flow_name,))}
    assert names == {"a", "b"}  # "c" was not written either


# --- heartbeats and tags -------------------------------------------------------------------

def test_heartbeats_answer_like_metaflow_service_and_move_the_timestamps(api, flow_name, db):
    run, task = make_task(api, flow_name)
    db.execute("UPDATE runs SET last_heartbeat_ts = 1 WHERE flow_id = %s", (flow_name,))
    db.execute("UPDATE tasks SET last_heartbeat_ts = 1 WHERE flow_id = %s", (flow_name,))
    resp = api.post(f"/flows/{flow_name}/runs/{run}/heartbeat", content=b"{}")
    assert resp.status_code == 200
    # the metaflow client decodes this body twice: json.loads(resp.json())
    assert json.loads(resp.json()) == {"wait_time_in_seconds": 10}
    assert api.get(f"/flows/{flow_name}/runs/{run}").json()["last_heartbeat_ts"] > 1
    db.execute("UPDATE runs SET last_heartbeat_ts = 1 WHERE flow_id = %s", (flow_name,))
    task_path = f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}"
    assert json.loads(api.post(f"{task_path}/heartbeat").json())["wait_time_in_seconds"] == 10
    assert api.get(task_path).json()["last_heartbeat_ts"] > 1
    assert api.get(f"/flows/{flow_name}/runs/{run}").json()["last_heartbeat_ts"] > 1
    assert api.post(f"/flows/{flow_name}/runs/987654321/heartbeat").status_code == 404


def test_tag_mutation_adds_and_removes_atomically(api, flow_name):
    run, _ = make_task(api, flow_name)  # the run starts with tags ["t1"]
    path = f"/flows/{flow_name}/runs/{run}/tag/mutate"
    resp = api.patch(path, json={"tags_to_add": ["b", "c", "b"], "tags_to_remove": ["t1"]})
    assert resp.status_code == 200 and resp.json() == {"tags": ["b", "c"]}
    assert api.patch(path, json={"tags_to_add": ["c"]}).json() == {"tags": ["b", "c"]}
    run_obj = api.get(f"/flows/{flow_name}/runs/{run}").json()
    assert run_obj["tags"] == ["b", "c"] and run_obj["system_tags"] == ["user:tester"]
    assert api.get(f"/flows/{flow_name}/runs/{run}/steps/start").json()["tags"] == ["b", "c"]
    assert api.patch(path, json={"tags_to_add": "b"}).status_code == 400
    assert api.patch(path, json={"tags_to_add": [1]}).status_code == 400
    assert api.patch(f"/flows/{flow_name}/runs/99999999/tag/mutate",
                     json={"tags_to_add": ["x"]}).status_code == 404


# --- deployment properties -----------------------------------------------------------------

def test_instances_sharing_a_database_allocate_distinct_ids(metadata_service, start_service,
                                                           flow_name):
    """Stateless: a second instance on the same database sees the first one's writes and
    allocates ids from the same sequences."""
    import concurrent.futures

    import httpx

    other = start_service(metadata_service.database_url)
    with httpx.Client(base_url=metadata_service.url) as a, \
            httpx.Client(base_url=other.url) as b:
        a.post(f"/flows/{flow_name}", json={})
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: (a if i % 2 else b).post(
                f"/flows/{flow_name}/run", json={}).json()["run_number"], range(40)))
        assert len(set(results)) == 40
        assert len(b.get(f"/flows/{flow_name}/runs").json()) == 40


def test_access_log_lines_are_json_without_headers(api, metadata_service, flow_name):
    api.get(f"/flows/{flow_name}", headers={"x-api-key": "not-logged-1234"})
    deadline = time.monotonic() + 5
    while True:  # the line is written right after the response is sent
        lines = [orjson.loads(line) for line in metadata_service.log().splitlines()
                 if line.startswith("{")]
        mine = [e for e in lines if e["logger"] == "headwater_service.access"
                and e["http"]["path"] == f"/flows/{flow_name}"]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert mine and mine[-1]["http"]["status"] == 404 and mine[-1]["http"]["method"] == "GET"
    assert mine[-1]["http"]["duration_ms"] >= 0 and mine[-1]["ts"].endswith("Z")
    assert "not-logged-1234" not in metadata_service.log()
    assert all(isinstance(e, dict) and "level" in e for e in lines)


def test_database_rows_use_the_documented_schema(db):
    version = db.execute("SELECT max(version) FROM headwater_schema_version").fetchone()[0]
    from headwater_service.migrations import latest_version

    assert version == latest_version()
    tables = {r[0] for r in db.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    assert {"flows", "runs", "steps", "tasks", "metadata", "artifacts"} <= tables
