"""The UI's JSON routes over HTTP against the live service: paging and filters, the
change check (ETag / 304), bad input (unknown ids, path traversal, forged records), the
schema gate, and that the API's own routes are untouched by the UI."""

from __future__ import annotations

import pickle

import httpx
import psycopg
import pytest

from headwater_service import migrations

UI = "/ui/api/flows"


@pytest.fixture(scope="module")
def api(world):
    with httpx.Client(base_url=world.url, timeout=30) as client:
        yield client


def _start_task(api, world) -> str:
    body = api.get(f"{UI}/FanoutFlow/runs/{world.runs['ok']}").json()
    return next(t["task_id"] for t in body["tasks"] if t["step"] == "start")


def test_runs_are_paged_by_cursor_and_filtered(api):
    flow = "PagedFlow"
    assert api.post(f"/flows/{flow}", json={}).status_code == 200
    for i in range(130):
        body = {"user_name": "alice" if i % 2 else "bob", "tags": ["even"] if i % 2 == 0 else [],
                "system_tags": ["user:x"]}
        assert api.post(f"/flows/{flow}/run", json=body).status_code == 200
    seen, cursor = [], None
    while True:
        page = api.get(f"{UI}/{flow}/runs", params={"limit": 50, **({"before": cursor}
                                                                     if cursor else {})}).json()
        seen += [r["run_number"] for r in page["runs"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert len(seen) == 130 and len(set(seen)) == 130
    assert seen == sorted(seen, reverse=True)  # newest first, no gap, no repeat
    alice = api.get(f"{UI}/{flow}/runs", params={"user": "alice", "limit": 500}).json()["runs"]
    assert len(alice) == 65 and {r["user_name"] for r in alice} == {"alice"}
    even = api.get(f"{UI}/{flow}/runs", params={"tag": "even", "limit": 500}).json()["runs"]
    assert len(even) == 65
    by_system_tag = api.get(f"{UI}/{flow}/runs", params={"tag": "user:x", "limit": 500})
    assert len(by_system_tag.json()["runs"]) == 130
    # no heartbeat ever came and none of them reached `end`: all have failed by now or run
    statuses = {r["status"] for r in alice}
    assert statuses <= {"running", "failed"}
    first = alice[0]["ts_epoch"]
    since = api.get(f"{UI}/{flow}/runs", params={"since": first, "user": "alice"}).json()
    assert all(r["ts_epoch"] >= first for r in since["runs"])


def test_status_filter_uses_the_derived_status(api, world):
    ok = api.get(f"{UI}/FanoutFlow/runs", params={"status": "succeeded"}).json()["runs"]
    assert [r["run_id"] for r in ok] == [world.runs["ok"]]
    bad = api.get(f"{UI}/FanoutFlow/runs", params={"status": "finished"})
    assert bad.status_code == 400 and "running, succeeded, failed" in bad.json()["message"]


def test_an_unchanged_run_answers_304(api, world):
    path = f"{UI}/FanoutFlow/runs/{world.runs['ok']}"
    first = api.get(path)
    assert first.status_code == 200 and first.headers["etag"].startswith('W/"')
    again = api.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    api.patch(f"/flows/FanoutFlow/runs/{world.runs['ok']}/tag/mutate",
              json={"tags_to_add": ["seen-by-ui"]})
    changed = api.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and "seen-by-ui" in changed.json()["run"]["tags"]


@pytest.mark.parametrize("path", [
    "/NoSuchFlow/runs", "/FanoutFlow/runs/999999", "/FanoutFlow/runs/no-such-run",
    "/FanoutFlow/runs/1/steps/nostep/tasks/1", "/FanoutFlow/runs/1/steps/start/tasks/999999",
    "/FanoutFlow/runs/1/steps/start/tasks/999999/logs/stdout",
    "/FanoutFlow/runs/1/steps/start/tasks/999999/artifacts/x/preview",
])
def test_unknown_ids_are_a_clear_404(api, path):
    got = api.get(UI + path)
    assert got.status_code == 404, got.text
    body = got.json()
    assert body["error"] == "not_found" and "does not exist" in body["message"]
    assert "Traceback" not in got.text


@pytest.mark.parametrize("suffix", [
    "/logs/..%2F..%2F..%2Fetc%2Fpasswd", "/logs/../../../../etc/passwd", "/logs/stdin",
    "/logs/stdout%00", "/artifacts/..%2F..%2Fx/preview", "/artifacts/__init__.py/preview",
    "/cards/..%2F..%2F..%2F0.index.json", "/cards/.hidden", "/cards/0.index", "/cards/0...x",
    "/cards/0.0", 
])
def test_path_traversal_on_log_artifact_and_card_routes_is_refused(api, world, suffix):
    task = _start_task(api, world)
    got = api.get(f"{UI}/FanoutFlow/runs/{world.runs['ok']}/steps/start/tasks/{task}{suffix}")
    assert got.status_code in (400, 404), (suffix, got.status_code, got.text[:200])
    assert got.json()["error"] in ("bad_request", "not_found")  # an error, never content
    assert "root:x:" not in got.text


def test_steps_and_runs_with_traversal_ids_are_refused(api):
    for path in ("/FanoutFlow/runs/1/steps/..%2F..%2Fetc/tasks/1/logs/stdout",
                 "/FanoutFlow/runs/..%2F1/steps/start/tasks/1/logs/stdout",
                 "/FanoutFlow/runs/1/steps/start/tasks/.1/logs/stdout"):
        got = api.get(UI + path)
        assert got.status_code in (400, 404), path


def _forged_task(api, flow: str, ds_root: str, sha: str) -> tuple[str, str]:
    """A task whose records a client wrote by hand: a foreign ds-root and a bad sha."""
    api.post(f"/flows/{flow}", json={})
    run = str(api.post(f"/flows/{flow}/run", json={}).json()["run_number"])
    api.post(f"/flows/{flow}/runs/{run}/steps/start/step", json={})
    task = str(api.post(f"/flows/{flow}/runs/{run}/steps/start/task", json={}).json()["task_id"])
    base = f"/flows/{flow}/runs/{run}/steps/start/tasks/{task}"
    tags = ["attempt_id:0"]
    rows = [{"field_name": f, "value": v, "type": f, "user_name": "x", "tags": tags,
             "system_tags": []} for f, v in (("attempt", "0"), ("ds-type", "local"),
                                             ("ds-root", ds_root))]
    assert api.post(base + "/metadata", json=rows).status_code == 200
    art = {"name": "value", "location": "x", "ds_type": "local", "sha": sha, "type": "dict",
           "content_type": "x", "attempt_id": 0, "user_name": "x"}
    assert api.post(base + "/artifact", json=[art]).status_code == 200
    return run, task


def test_a_task_recorded_under_another_root_is_not_read_from_there(api):
    run, task = _forged_task(api, "ForgedRootFlow", "/etc", "ab" * 32)
    base = f"{UI}/ForgedRootFlow/runs/{run}/steps/start/tasks/{task}"
    log = api.get(base + "/logs/stdout").json()
    assert log["text"] == "" and "this service reads local data from" in log["note"]
    preview = api.get(base + "/artifacts/value/preview").json()
    assert preview["preview"] is None and "/etc" in preview["note"]


def test_a_forged_sha_is_refused(api, world):
    sysroot = str(world.base / "sysroot")
    run, task = _forged_task(api, "ForgedShaFlow", sysroot, "../../../../etc/passwd")
    got = api.get(f"{UI}/ForgedShaFlow/runs/{run}/steps/start/tasks/{task}/artifacts/value/preview")
    assert got.status_code == 200
    assert got.json()["preview"] is None and "not a SHA-256" in got.json()["note"]


def test_the_ui_needs_the_ui_schema(make_database, start_service):
    old = start_service(make_database(schema=2))
    got = httpx.get(f"{old.url}{UI}")
    assert got.status_code == 503
    assert migrations.UPGRADE_COMMAND in got.json()["message"]
    assert httpx.get(f"{old.url}/flows").status_code == 200  # the API still serves
    with psycopg.connect(old.database_url) as conn:
        migrations.upgrade(conn)
    import time

    deadline = time.monotonic() + 10
    while httpx.get(f"{old.url}{UI}").status_code != 200:
        assert time.monotonic() < deadline, "the UI did not open after `db upgrade`"
        time.sleep(0.5)


def test_the_api_is_unchanged_by_the_ui(api, world):
    assert api.get("/flows/FanoutFlow").json()["flow_id"] == "FanoutFlow"
    assert api.get("/no/such/route").status_code == 404
    assert api.get("/openapi.json").status_code == 200
    assert "/ui" not in api.get("/openapi.json").text  # the UI routes are not the API


def test_a_pickle_that_names_a_global_is_never_run(tmp_path):
    from headwater_service.ui.preview import PreviewRefused, render

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    import json
    import struct

    data = pickle.dumps(Evil(), protocol=5)
    header = json.dumps({"pickle": [64, len(data)], "buffers": []}).encode()
    head = b"HWA1" + struct.pack("<I", len(header)) + header
    blob = head + b"\0" * (64 - len(head)) + data
    with pytest.raises(PreviewRefused, match="globals are refused"):
        render(blob)
    assert not marker.exists()
    safe = pickle.dumps({"a": [1, 2.5, "x", None, True]}, protocol=5)
    header = json.dumps({"pickle": [64, len(safe)], "buffers": []}).encode()
    head = b"HWA1" + struct.pack("<I", len(header)) + header
    assert render(head + b"\0" * (64 - len(head)) + safe) == "{'a': [1, 2.5, 'x', None, True]}"


def test_the_ui_routes_are_read_only_and_answer_json_errors(api):
    got = api.post(f"{UI}", json={})
    assert got.status_code == 405 and got.json()["error"] == "method_not_allowed"
    assert api.get("/ui/api/nothing/here").json()["error"] == "not_found"
    page = api.get("/ui", follow_redirects=True)
    assert page.status_code == 200 and "<main id=\"app\">" in page.text
    assert page.headers["metadata_service_version"]  # the API's middleware serves /ui too
