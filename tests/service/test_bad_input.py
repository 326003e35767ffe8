"""Bad input gets a 4xx with a JSON error body that says what is wrong: never a 500, never
a partial write."""

from __future__ import annotations

import pytest

from .helpers import artifact, make_task


def assert_error(resp, status: int, *fragments: str) -> dict:
    assert resp.status_code == status, f"{resp.status_code} {resp.text}"
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error", "message", "status"} and body["status"] == status
    for fragment in fragments:
        assert fragment in body["message"], body["message"]
    return body


def count(db, table: str, flow: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table} WHERE flow_id = %s", (flow,)).fetchone()[0]


# --- malformed bodies and wrong types ------------------------------------------------------

@pytest.mark.parametrize("body", [b"{", b"[1,", b"\xff\xfe", b"{'a': 1}", b"NaN", b"{}{}"])
def test_malformed_json_is_a_400(api, flow_name, body):
    assert_error(api.post(f"/flows/{flow_name}", content=body), 400, "not valid JSON")


@pytest.mark.parametrize("body,where", [
    ([], "body must be an object"),
    ({"user_name": 5}, "body.user_name must be a string or null"),
    ({"tags": "a,b"}, "body.tags must be an array or null"),
    ({"tags": ["ok", 3]}, "body.tags[1] must be a string"),
    ({"system_tags": [""]}, "body.system_tags[0] must not be shorter"),
    ({"run_number": 12}, "body.run_number must be a string or null"),
    ({"run_number": "123"}, "not all digits"),
    ({"run_number": "has space"}, "body.run_number"),
])
def test_wrong_types_in_a_run_are_named(api, flow_name, db, body, where):
    api.post(f"/flows/{flow_name}", json={})
    assert_error(api.post(f"/flows/{flow_name}/run", json=body), 400, where)
    assert count(db, "runs", flow_name) == 0


@pytest.mark.parametrize("rows,where", [
    ({"field_name": "a"}, "body must be an array"),
    ([{"value": "1", "type": "t"}], "missing the required field 'field_name'"),
    ([{"field_name": "a", "value": None, "type": "t"}], "body[0].value must be a string"),
    ([{"field_name": "a", "value": "1", "type": "t", "tags": {"a": 1}}], "body[0].tags"),
    ([{"field_name": "a", "value": "nul\x00", "type": "t"}], "NUL"),
    (["not an object"], "body[0] must be an object"),
])
def test_wrong_metadata_rows_are_named(api, flow_name, rows, where):
    run, task = make_task(api, flow_name)
    path = f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}/metadata"
    assert_error(api.post(path, json=rows), 400, where)
    assert api.get(path).json() == []


@pytest.mark.parametrize("change,where", [
    ({"attempt_id": "0"}, "attempt_id must be an integer"),
    ({"attempt_id": True}, "attempt_id must be an integer"),
    ({"attempt_id": -1}, "at least 0"),
    ({"attempt_id": 2**40}, "at most"),
    ({"name": "not-an-identifier"}, "Python identifier"),
    ({"sha": None}, "sha must be a string"),
])
def test_wrong_artifact_rows_are_named(api, flow_name, change, where):
    run, task = make_task(api, flow_name)
    path = f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}"
    assert_error(api.post(f"{path}/artifact", json=[{**artifact("x"), **change}]), 400, where)
    assert api.get(f"{path}/artifacts").json() == []


def test_a_request_without_a_needed_body_says_so(api, flow_name):
    run, task = make_task(api, flow_name)
    path = f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}/metadata"
    assert_error(api.post(path), 400, "needs a JSON body")
    assert_error(api.patch(f"/flows/{flow_name}/runs/{run}/tag/mutate"), 400,
                 "needs a JSON body")


def test_too_many_rows_in_one_request(api, flow_name):
    run, task = make_task(api, flow_name)
    rows = [{"field_name": "f", "value": "v", "type": "t"}] * 10_001
    path = f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}/metadata"
    assert_error(api.post(path, json=rows), 400, "at most 10000")


# --- unknown objects -----------------------------------------------------------------------

def test_unknown_objects_are_404s(api, flow_name):
    run, task = make_task(api, flow_name)
    base = f"/flows/{flow_name}/runs/{run}"
    for path in [f"/flows/Nope{flow_name}", f"/flows/Nope{flow_name}/runs",
                 f"/flows/{flow_name}/runs/99999999", f"/flows/{flow_name}/runs/no-such-run",
                 f"{base}/steps/nostep", f"{base}/steps/nostep/tasks",
                 f"{base}/steps/start/tasks/99999999", f"{base}/steps/start/tasks/no-such",
                 f"{base}/steps/start/tasks/99999999/metadata",
                 f"{base}/steps/start/tasks/99999999/artifacts",
                 f"{base}/steps/start/tasks/{task}/artifacts/missing",
                 f"/flows/{flow_name}/runs/99999999/artifacts",
                 f"/flows/{flow_name}/runs/{2**63}", f"/flows/{flow_name}/runs/{10**30}"]:
        assert_error(api.get(path), 404, "does not exist")


def test_writes_under_unknown_parents_are_404s_and_write_nothing(api, flow_name, db):
    run, task = make_task(api, flow_name)
    base = f"/flows/{flow_name}/runs/{run}"
    assert_error(api.post(f"/flows/Nope{flow_name}/run", json={}), 404, "register it first")
    assert_error(api.post(f"/flows/{flow_name}/runs/99999999/steps/s/step", json={}), 404)
    assert_error(api.post(f"{base}/steps/nostep/task", json={}), 404, "register it first")
    assert_error(api.post(f"{base}/steps/start/tasks/99999999/metadata",
                          json=[{"field_name": "a", "value": "b", "type": "c"}]), 404)
    assert_error(api.post(f"{base}/steps/start/tasks/99999999/artifact",
                          json=[artifact("x")]), 404)
    assert_error(api.post(f"/flows/{flow_name}/runs/99999999/heartbeat"), 404)
    assert_error(api.post(f"{base}/steps/start/tasks/99999999/heartbeat"), 404)
    assert (count(db, "runs", flow_name), count(db, "steps", flow_name),
            count(db, "tasks", flow_name), count(db, "metadata", flow_name),
            count(db, "artifacts", flow_name)) == (1, 1, 1, 0, 0)


def test_unknown_routes_and_methods(api):
    assert_error(api.get("/flows/A/runs/1/steps/s/tasks/1/nothing"), 404, "no route")
    body = assert_error(api.delete("/flows"), 405, "DELETE is not allowed")
    assert body["error"] == "method_not_allowed"


# --- duplicates ----------------------------------------------------------------------------

def test_duplicates_are_409s(api, flow_name):
    run, _ = make_task(api, flow_name)
    base = f"/flows/{flow_name}/runs/{run}/steps/start"
    assert_error(api.post(f"/flows/{flow_name}", json={}), 409, "already exists")
    assert_error(api.post(f"{base}/step", json={}), 409, "already exists")
    api.post(f"/flows/{flow_name}/run", json={"run_number": "named-run"})
    assert_error(api.post(f"/flows/{flow_name}/run", json={"run_number": "named-run"}), 409)
    api.post(f"{base}/task", json={"task_id": "named-task"})
    assert_error(api.post(f"{base}/task", json={"task_id": "named-task"}), 409)


def test_two_different_rows_for_one_artifact_in_a_request_are_a_conflict(api, flow_name):
    run, task = make_task(api, flow_name)
    path = f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}"
    assert_error(api.post(f"{path}/artifact", json=[artifact("x"), artifact("y"),
                                                   artifact("x")]), 409, "appears twice")
    assert api.get(f"{path}/artifacts").json() == []
    same = artifact("z")
    assert api.post(f"{path}/artifact", json=[same, same]).json() == {"artifacts_created": 1}


# --- sizes ---------------------------------------------------------------------------------

def test_an_oversized_body_is_a_413_before_it_is_read(api, flow_name):
    big = b'{"user_name": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    assert_error(api.post(f"/flows/{flow_name}", content=big), 413, "larger than")


def test_an_oversized_chunked_body_is_a_413(api, flow_name, db):
    def chunks():
        yield b'[{"field_name": "a", "value": "'
        for _ in range(80):
            yield b"y" * 65536
        yield b'", "type": "t"}]'

    run, task = make_task(api, flow_name)
    path = f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}/metadata"
    assert_error(api.post(path, content=chunks()), 413, "larger than")
    assert count(db, "metadata", flow_name) == 0


def test_a_bad_content_length_is_a_400(metadata_service):
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(metadata_service.url)
    with socket.create_connection((url.hostname, url.port)) as s:
        s.sendall(b"POST /flows/X HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400")


# --- path injection ------------------------------------------------------------------------

@pytest.mark.parametrize("flow", [
    "Flow';DROP TABLE runs;--", "Flow%00", "..", "%2e%2e", "Fl%C3%B6w", "1Flow", "Flow-1",
    "F" * 256, "Flow%20x", "Flow%0A",
])
def test_bad_flow_names_in_paths_are_400s(api, db, flow):
    resp = api.get(f"/flows/{flow}/runs")
    assert resp.status_code in (400, 404), resp.text
    assert resp.json()["error"] in ("bad_request", "not_found")
    resp = api.post(f"/flows/{flow}", json={})
    assert resp.status_code in (400, 404) and resp.status_code != 500
    assert db.execute("SELECT to_regclass('runs') IS NOT NULL").fetchone()[0]


@pytest.mark.parametrize("segment", ["1%27%20OR%201%3D1", "%00", "a%2Fb", "a b", "-x",
                                     "." * 3, "x" * 300])
def test_bad_run_and_task_ids_in_paths_are_400s(api, flow_name, segment):
    run, task = make_task(api, flow_name)
    for path in (f"/flows/{flow_name}/runs/{segment}",
                 f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{segment}"):
        resp = api.get(path)
        assert resp.status_code in (400, 404), f"{path}: {resp.status_code} {resp.text}"
    bad_attempt = api.get(f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}"
                          f"/attempt/{segment}/artifacts")
    assert bad_attempt.status_code in (400, 404)


def test_an_invalid_id_names_itself(api):
    assert_error(api.get("/flows/My-Flow"), 400, "invalid flow 'My-Flow'")
    assert_error(api.get("/flows/F/runs/a%20b"), 400, "invalid run id 'a b'")
    assert_error(api.get("/flows/F/runs/1/steps/s/tasks/1/attempt/x/artifacts"), 400,
                 "invalid attempt 'x'")


# --- no partial writes ---------------------------------------------------------------------

def test_a_row_the_database_rejects_fails_the_whole_request(make_database, start_service):
    """Postgres refuses the third row of a batch (a trigger, on a database of this test's
    own, raises a check violation for it): the request is a 4xx and the two rows before it
    are not stored either."""
    import httpx
    import psycopg

    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""
            CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.field_name = 'boom' THEN
                RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_boom BEFORE INSERT ON metadata
              FOR EACH ROW EXECUTE FUNCTION refuse_boom();""")
    service = start_service(url)
    with httpx.Client(base_url=service.url) as client:
        run, task = make_task(client, "Batch")
        path = f"/flows/Batch/runs/{run}/steps/start/tasks/{task}/metadata"
        rows = [{"field_name": name, "value": "1", "type": "t"} for name in ("a", "b", "boom")]
        assert_error(client.post(path, json=rows), 400, "cannot be stored")
        assert client.get(path).json() == []
        refused = client.post(path, json=rows)
        assert "refused" not in refused.text  # Postgres' own message stays in the log
        assert client.post(path, json=rows[:2]).json() == {"metadata_created": 2}


def test_a_conflicting_artifact_writes_none_of_the_batch(api, flow_name, db):
    run, task = make_task(api, flow_name)
    path = f"/flows/{flow_name}/runs/{run}/steps/start/tasks/{task}/artifact"
    api.post(path, json=[artifact("kept")])
    assert_error(api.post(path, json=[artifact("new1"), artifact("kept", sha="0" * 40),
                                      artifact("new2")]), 409)
    assert count(db, "artifacts", flow_name) == 1
