"""The UI in headless Chromium against a live service, with runs made by the runtime in
shared mode: the flow list, runs, a run's DAG (foreach split), a failed task's stderr, an
artifact preview, a card, live updates of a running run, and login with API keys.

Screenshots go to ``build/ui-screenshots/`` (``HEADWATER_UI_ARTEFACTS``); ``docs/ui.md``
shows them. What this does not prove: Azure/S3 reads (the backends are the runtime's own,
tested in tests/datastore), or that a real ``@card`` writes where ``cards.py`` reads
(the card here is placed in the card root in Metaflow's layout)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("browser")


def _task_of(world, run: str, step: str, status: str | None = None) -> str:
    body = httpx.get(f"{world.url}/ui/api/flows/FanoutFlow/runs/{run}").json()
    for task in body["tasks"]:
        if task["step"] == step and (status is None or task["status"] == status):
            return task["task_id"]
    raise AssertionError(f"no {status or ''} task of {step} in run {run}: {body['tasks']}")


def test_flow_list_and_search(world, browser):
    browser.goto(f"{world.url}/ui/")
    browser.wait('[data-flow="FanoutFlow"]')
    assert browser.text('[data-flow="FanoutFlow"] td:nth-child(2)') == "2"
    browser.screenshot("flows")
    browser.fill('input[type="search"]', "nothing-like-this")
    browser.wait('text="No flows match."')
    browser.fill('input[type="search"]', "fanout")
    browser.wait('[data-flow="FanoutFlow"]')
    assert browser.problems() == []


def test_runs_of_a_flow_with_a_tag_filter(world, browser):
    browser.goto(f"{world.url}/ui/FanoutFlow")
    browser.wait(f'[data-run="{world.runs["ok"]}"]')
    assert browser.count("[data-run]") == 2
    assert browser.attr(f'[data-run="{world.runs["ok"]}"]', "data-status") == "succeeded"
    browser.screenshot("runs")
    browser.fill('input[name="tag"]', "smoke")
    browser.click('form.filters button[type="submit"]')
    browser.wait_for('document.querySelectorAll("[data-run]").length === 1')
    assert browser.count(f'[data-run="{world.runs["ok"]}"]') == 1
    assert "tag=smoke" in browser.url()  # the filtered list has its own address


def test_run_page_draws_the_dag_with_step_status(world, browser):
    browser.goto(f"{world.url}/ui/FanoutFlow/{world.runs['ok']}")
    browser.wait('[data-step="work"]')
    for step in ("start", "work", "join", "end"):
        assert browser.attr(f'[data-step="{step}"]', "data-status") == "succeeded", step
    assert browser.attr('[data-step="work"]', "data-tasks") == "3"  # the foreach: one node
    assert browser.text('[data-testid="run-status"]') == "succeeded"
    assert browser.count('[data-testid="gantt"] rect.bar') == 6
    assert "3" in browser.text('[data-testid="parameters"]')
    browser.screenshot("run")
    browser.click('[data-step="work"]')  # a foreach node links to its task list
    browser.wait('[data-testid="step-tasks"]')
    assert browser.count('[data-testid="step-tasks"] [data-task]') == 3
    assert browser.url().endswith(f"/ui/FanoutFlow/{world.runs['ok']}/work")


def test_a_failed_foreach_shows_its_split_and_the_run_fails(world, browser):
    browser.goto(f"{world.url}/ui/FanoutFlow/{world.runs['failed']}")
    browser.wait('[data-step="work"]')
    assert browser.attr('[data-step="work"]', "data-status") == "failed"
    assert browser.attr('[data-step="work"]', "data-tasks") == "4"
    assert browser.attr('[data-step="work"]', "data-failed") == "1"
    assert browser.attr('[data-step="work"]', "data-succeeded") == "3"
    # where the run would have gone next, from a successful task's transition
    assert browser.attr('[data-step="join"]', "data-status") == "pending"
    # the scheduler gave up: once its heartbeat is stale the page (refreshing itself) says so
    browser.wait_for('document.querySelector("[data-testid=run-status]").textContent === '
                     '"failed"', timeout=90000)
    browser.screenshot("run-failed")


def test_a_failed_tasks_stderr(world, browser):
    task = _task_of(world, world.runs["failed"], "work", "failed")
    browser.goto(f"{world.url}/ui/FanoutFlow/{world.runs['failed']}/work/{task}")
    browser.wait_for('document.querySelector("[data-testid=log]")?.textContent.includes('
                     '"was told to fail")')
    assert browser.attr('[data-stream="stderr"]', "aria-selected") == "true"
    assert "item 3 is the one that fails" in browser.text('[data-testid="log"]')
    assert browser.text('[data-testid="task-status"]') == "failed"
    browser.screenshot("task-failed")
    browser.click('[data-stream="stdout"]')
    browser.wait_for('document.querySelector("[data-testid=log]").textContent.includes('
                     '"item 3 squared is 9")')


def test_artifact_preview_only_for_plain_values(world, browser):
    task = _task_of(world, world.runs["ok"], "start")
    browser.goto(f"{world.url}/ui/FanoutFlow/{world.runs['ok']}/start/{task}")
    browser.wait('[data-artifact="settings"]')
    assert browser.count('[data-testid="preview"]') == 0  # lazy: nothing loaded yet
    browser.click('[data-preview="settings"]')
    browser.wait('[data-testid="preview"]')
    assert browser.text('[data-testid="preview"]') == (
        "{'alpha': 0.5, 'names': ['a', 'b'], 'nested': {'ok': True}}")
    assert "not previewed" in browser.text('[data-artifact="widget"]')  # a user class
    assert "__main__.Widget" in browser.text('[data-artifact="widget"]')
    browser.screenshot("task-artifacts")


def test_a_card_in_a_sandboxed_iframe(world, browser):
    run = world.runs["ok"]
    task = _task_of(world, run, "start")
    # where and how headwater.cards.storage keeps an attempt's card: page + description
    folder = world.base / "sysroot" / "mf.cards" / "FanoutFlow" / run / "start" / task / "cards"
    folder.mkdir(parents=True)
    (folder / "0.0.json").write_text(json.dumps({
        "flow_name": "FanoutFlow", "run_id": run, "step_name": "start", "task_id": task,
        "attempt": 0, "slot": "0", "type": "default", "id": None, "status": "final",
        "updated_at": time.time(), "size": 100, "reason": None}))
    (folder / "0.0.html").write_text(
        "<html><body><h1>Card for the UI test</h1><p id='probe'></p><script>"
        "let parentAccess = 'reachable', cookieAccess = 'readable';"
        "try { parent.document.title; } catch (e) { parentAccess = 'blocked'; }"
        "try { document.cookie; } catch (e) { cookieAccess = 'blocked'; }"
        "document.getElementById('probe').textContent = "
        "'parent:' + parentAccess + ' cookie:' + cookieAccess;"
        "</script></body></html>")
    browser.goto(f"{world.url}/ui/FanoutFlow/{run}/start/{task}")
    browser.wait('iframe[data-card="0.0"]')
    assert browser.attr("iframe.card", "sandbox") == "allow-scripts"
    assert browser.frame_text("iframe.card", "h1") == "Card for the UI test"
    # the card's script ran, and could reach neither the page nor the session cookie
    assert browser.frame_text("iframe.card", "#probe:not(:empty)") == (
        "parent:blocked cookie:blocked")
    browser.screenshot("task-card")
    card = httpx.get(f"{world.url}/ui/api/flows/FanoutFlow/runs/{run}/steps/start/tasks/{task}"
                     f"/cards/0.0")
    assert card.status_code == 200
    assert card.headers["content-security-policy"].startswith("sandbox allow-scripts")


def test_a_running_run_updates_without_reload(world, browser, tmp_path):
    release = tmp_path / "release"
    proc = world.start("waiting_flow.py", "--release", str(release))
    try:
        deadline = time.monotonic() + 60
        run = task = None
        while time.monotonic() < deadline and task is None:
            time.sleep(0.3)
            runs = httpx.get(f"{world.url}/flows/WaitingFlow/runs")
            if runs.status_code != 200 or not runs.json():
                continue
            run = str(runs.json()[0]["run_number"])
            body = httpx.get(f"{world.url}/ui/api/flows/WaitingFlow/runs/{run}").json()
            task = next((t["task_id"] for t in body["tasks"]
                         if t["step"] == "wait" and t["status"] == "running"), None)
        assert task is not None, "the waiting run did not reach its wait step"
        # the task page: its stdout while it runs, and what it prints next, live
        browser.goto(f"{world.url}/ui/WaitingFlow/{run}/wait/{task}")
        browser.wait_for('document.querySelector("[data-testid=log]")?.textContent.includes('
                         '"waiting for the release file")')
        browser.evaluate("window.__same_page = true")
        # the run page of the same run, opened by a link (no reload)
        browser.goto(f"{world.url}/ui/WaitingFlow/{run}")
        browser.wait('[data-step="wait"]')
        assert browser.attr('[data-step="wait"]', "data-status") == "running"
        assert browser.text('[data-testid="run-status"]') == "running"
        browser.evaluate("window.__same_page = true")
        browser.screenshot("run-running")
        release.write_text("go")
        browser.wait_for('document.querySelector("[data-testid=run-status]").textContent === '
                         '"succeeded"', timeout=60000)
        assert browser.evaluate("window.__same_page === true")  # updated in place
        assert browser.attr('[data-step="end"]', "data-status") == "succeeded"
    finally:
        release.write_text("go")
        proc.wait(60)


def test_live_log_of_a_running_task(world, browser, tmp_path):
    release = tmp_path / "release"
    proc = world.start("waiting_flow.py", "--release", str(release))
    try:
        deadline = time.monotonic() + 60
        run = task = None
        while time.monotonic() < deadline and task is None:
            time.sleep(0.3)
            runs = httpx.get(f"{world.url}/flows/WaitingFlow/runs").json()
            newest = str(runs[0]["run_number"])
            body = httpx.get(f"{world.url}/ui/api/flows/WaitingFlow/runs/{newest}").json()
            if body["run"]["status"] == "running":
                run = newest
                task = next((t["task_id"] for t in body["tasks"]
                             if t["step"] == "wait" and t["status"] == "running"), None)
        assert task is not None, "the waiting run did not reach its wait step"
        browser.goto(f"{world.url}/ui/WaitingFlow/{run}/wait/{task}")
        browser.wait_for('document.querySelector("[data-testid=log]")?.textContent.includes('
                         '"waiting for the release file")')
        browser.evaluate("window.__same_page = true")
        release.write_text("go")
        browser.wait_for('document.querySelector("[data-testid=log]").textContent.includes('
                         '"released")', timeout=30000)
        assert browser.evaluate("window.__same_page === true")
    finally:
        release.write_text("go")
        proc.wait(60)


def test_unknown_ids_show_a_clear_page(world, browser):
    for path, missing in ((f"/ui/NoSuchFlow", "flow NoSuchFlow does not exist"),
                          (f"/ui/FanoutFlow/999999", "run FanoutFlow/999999 does not exist"),
                          (f"/ui/FanoutFlow/{world.runs['ok']}/start/999999",
                           "does not exist")):
        got = browser.goto(world.url + path)
        assert got["status"] == 404, path
        browser.wait('[data-testid="not-found"]')
        assert missing in browser.text('[data-testid="not-found"]'), path
        assert "Traceback" not in browser.text("body")
    browser.screenshot("not-found")


def test_with_api_keys_pages_need_a_login(keyed_world, browser):
    url = keyed_world.url
    browser.clear_cookies()
    got = browser.goto(f"{url}/ui/FanoutFlow")
    assert "/ui/login?next=" in got["url"] and "FanoutFlow" in got["url"]
    assert httpx.get(f"{url}/ui/api/flows").status_code == 401
    browser.wait("#key")
    browser.screenshot("login")
    browser.fill("#key", "a-wrong-key")
    browser.click('button[type="submit"]')
    browser.wait("#error")
    assert "not valid" in browser.text("#error")
    assert browser.cookies() == []
    browser.fill("#key", "ui-right-key")
    browser.click('button[type="submit"]')
    browser.wait('[data-run]')  # back where the user was going
    assert browser.url().endswith("/ui/FanoutFlow")
    [cookie] = browser.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    html = browser.evaluate("document.documentElement.outerHTML + document.cookie")
    assert "ui-right-key" not in html
    browser.click("#logout button")
    browser.wait("#key")
    browser.goto(f"{url}/ui/")
    assert "/ui/login" in browser.url()
