"""``headwater card server`` over real HTTP, on the cards of a real run.

Proves: the index lists recent runs and links every card; a card's frame page, raw page
(with the card's Content-Security-Policy as a header) and status are served; a live card's
status and time change when the task stores a new version (what the frame page polls for);
unknown addresses get a 404 with a message, not a traceback; in headless Chromium the
frame page reloads a live card by itself when a new version is stored, and asks nothing of
any host but the card server.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request

import pytest

from headwater import Flow
from headwater.cards import get_cards
from headwater.cards.server import make_server
from headwater.cards.storage import CardStatus, StoredCard


@pytest.fixture
def server(use_report_run):
    httpd = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, dict(response.headers), response.read().decode()


def test_index_frame_raw_and_status(server):
    run = Flow("ReportFlow").latest_run
    status, _, index = _get(server + "/")
    assert status == 200 and "ReportFlow" in index and "succeeded" in index
    task = run["start"].task
    card = get_cards(task)[0]
    address = f"ReportFlow/{run.id}/start/{task.id}/0/0"
    assert f'href="/card/{address}"' in index
    assert "report/" in index and "broken" in index  # every card of the run is linked
    _, _, frame = _get(f"{server}/card/{address}")
    assert f"src='/raw/{address}'" in frame and "final" in frame
    _, headers, raw = _get(f"{server}/raw/{address}")
    assert raw == card.html
    assert "connect-src 'none'" in headers["Content-Security-Policy"]
    _, _, body = _get(f"{server}/status/{address}")
    assert json.loads(body) == {"status": "final", "updated_at": card.stored.updated_at}


def test_live_card_status_changes(server, use_report_run):
    run = Flow("ReportFlow").latest_run
    task = run["end"].task
    store = get_cards(task)[0]._store
    live = StoredCard("ReportFlow", run.id, "end", task.id, 0, "7", "blank", "live",
                      CardStatus.RUNNING.value, 0.0, 0)
    store.save(live, "<p>epoch 1</p>")
    address = f"ReportFlow/{run.id}/end/{task.id}/0/7"
    first = json.loads(_get(f"{server}/status/{address}")[2])
    assert first["status"] == "running"
    _, _, frame = _get(f"{server}/card/{address}")
    assert "setTimeout(poll" in frame and ">running<" in frame
    store.save(live, "<p>epoch 2</p>")
    second = json.loads(_get(f"{server}/status/{address}")[2])
    assert second["updated_at"] > first["updated_at"]
    assert _get(f"{server}/raw/{address}")[2] == "<p>epoch 2</p>"
    live.status = CardStatus.FINAL.value
    store.save(live, "<p>done</p>")
    assert json.loads(_get(f"{server}/status/{address}")[2])["status"] == "final"


def test_unknown_addresses_are_404(server):
    for path in ("/nope", "/card/ReportFlow/1/start", "/raw/ReportFlow/999/start/1/0/0",
                 "/card/ReportFlow/1/start/2/0/99"):
        with pytest.raises(urllib.error.HTTPError) as info:
            _get(server + path)
        assert info.value.code == 404
        body = info.value.read().decode()
        assert "Traceback" not in body and "All cards" in body


def test_frame_reloads_a_live_card_in_chromium(server, use_report_run):
    """The frame page, in a real browser, shows a new version of a live card by itself."""
    import subprocess

    from .browser import CHROMIUM, ROOT, require_browser

    require_browser()
    run = Flow("ReportFlow").latest_run
    task = run["end"].task
    store = get_cards(task)[0]._store
    live = StoredCard("ReportFlow", run.id, "end", task.id, 0, "8", "blank", "watch",
                      CardStatus.RUNNING.value, 0.0, 0)
    store.save(live, "<p>epoch one</p>")
    url = f"{server}/card/ReportFlow/{run.id}/end/{task.id}/0/8"
    watcher = subprocess.Popen(["node", str(ROOT / "tests/cards/watch_live_card.js"), url,
                                "epoch one", "epoch two"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "HEADWATER_CHROMIUM": CHROMIUM})
    try:
        assert watcher.stdout.readline().strip() == "seen epoch one", watcher.stderr.read()
        store.save(live, "<p>epoch two</p>")
        result = json.loads(watcher.stdout.readline())
    finally:
        watcher.kill()
        watcher.wait()
    assert result == {"second": True, "foreign": []}
