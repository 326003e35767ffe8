"""Cards written by a real run (``flows/report_flow.py``, local datastore) and read back with
``get_cards`` and the card CLI.

Proves: every ``@card`` of a step is stored in the card root (``<sysroot>/mf.cards`` or
``METAFLOW_CARD_LOCALROOT``) as one self-contained page; a card type that raises, and one
that runs past its timeout, store an error card with the reason while the task succeeds; a
large DataFrame is truncated with a note; a failing step still gets its card, marked failed.
Rendering in a browser is ``test_browser.py``'s job.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from headwater import Task
from headwater.cards import get_cards

from .conftest import FLOWS, run_flow_file

# Every test makes, or reads, a real run with cards (flow processes).
pytestmark = pytest.mark.slow


def _task(step: str) -> Task:
    from headwater import Flow

    run = Flow("ReportFlow").latest_run
    return run[step].task


def test_run_succeeds_despite_broken_cards(use_report_run):
    proc = use_report_run["proc"]
    assert "Done! Run ReportFlow/1" in proc.stdout + proc.stderr
    assert _task("report").successful
    assert "this card type is broken on purpose" in proc.stdout + proc.stderr


def test_default_card_stored_and_read_back(use_report_run):
    cards = get_cards(_task("start"))
    assert [(c.type, c.id, c.status) for c in cards] == [("default", None, "final")]
    page = cards[0].html
    assert page.startswith("<!DOCTYPE html>")
    for text in ("ReportFlow/1/start/", "learning_rate", "0.01", "nightly", "scores",
                 "weights", "ndarray shape (4, 6), dtype float32", "hello card",
                 "training finished"):
        assert text in page, text
    stored = (use_report_run["sysroot"] / "mf.cards" / "ReportFlow" / "1" / "start")
    assert list(stored.glob("*/cards/0.0.html")), "the card is in <sysroot>/mf.cards"


def test_large_dataframe_is_truncated_with_a_note(use_report_run):
    page = get_cards(_task("start"))[0].html
    assert "DataFrame: 5,000 rows × 40 columns; showing the first 30 rows and 20 columns " \
           "(truncated)" in page
    # 30 shown rows of the 5,000: row 4999 is not in the page, the first rows are.
    body = page.split('data-artifact="big"', 1)[1].split('data-artifact=', 1)[0]
    assert body.count("<tr>") == 31  # header + 30 rows
    assert "c25" not in body


def test_error_cards_for_a_raising_and_a_slow_card(use_report_run):
    cards = get_cards(_task("report"))
    by_id = {c.id: c for c in cards}
    assert set(by_id) == {"report", "broken", "slow"}
    assert by_id["report"].status == "final"
    broken = by_id["broken"]
    assert (broken.type, broken.status) == ("broken", "error")
    assert "ValueError: this card type is broken on purpose" in broken.stored.reason
    assert "could not be rendered" in broken.html and "broken on purpose" in broken.html
    slow = by_id["slow"]
    assert slow.status == "error"
    assert "longer than the card's timeout of 1 s" in slow.stored.reason


def test_cards_are_self_contained(use_report_run):
    for step in ("start", "report", "end"):
        for found in get_cards(_task(step)):
            page = found.html
            assert "Content-Security-Policy" in page
            # nothing to fetch: no external scripts, styles, images or frames
            assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=[\"']?(https?:|//)",
                                 page, re.I), (step, found.id)
            assert "<link" not in page


def test_custom_card_contents(use_report_run):
    report = get_cards(_task("report"))["report"]
    page = report.html
    assert "<h1>Model report</h1>" in page
    assert "<strong>final</strong>" in page
    assert "<td>accuracy</td>" in page
    assert 'src="data:image/png;base64,' in page
    assert 'class="hw-vega"' in page and "vegaLite" in page  # library inlined
    assert 'value="4"' in page  # the progress bar's last update
    assert report._repr_html_().startswith("<iframe srcdoc=")


def test_get_cards_by_pathspec_id_and_type(use_report_run):
    pathspec = _task("report").pathspec
    assert [c.id for c in get_cards(pathspec, id="report")] == ["report"]
    assert [c.type for c in get_cards(pathspec, type="broken")] == ["broken"]
    with pytest.raises(KeyError, match="no card with id 'nope'"):
        get_cards(pathspec)["nope"]


def _cli(report_run, *args, check=True):
    return run_flow_file(FLOWS / "report_flow.py", report_run["sysroot"], "card", *args,
                         check=check)


def test_card_list_view_get(use_report_run, tmp_path):
    listed = _cli(use_report_run, "list").stdout
    assert re.search(r"ReportFlow/1/start/\d+\s+default\s+final", listed)
    assert re.search(r"ReportFlow/1/report/\d+\s+broken\s+broken\s+error", listed)
    assert "report" in _cli(use_report_run, "list", "report").stdout
    path = _cli(use_report_run, "view", "start", "--no-browser").stdout.strip()
    assert open(path, encoding="utf-8").read() == get_cards(_task("start"))[0].html
    out = tmp_path / "report.html"
    _cli(use_report_run, "get", "1/report", str(out), "--id", "report")
    assert out.read_text(encoding="utf-8") == get_cards(_task("report"))["report"].html
    task_id = _task("end").id
    _cli(use_report_run, "get", f"1/end/{task_id}", str(out))
    assert "ReportFlow/1/end/" in out.read_text(encoding="utf-8")


def test_card_cli_errors_are_one_line(use_report_run):
    proc = _cli(use_report_run, "view", "nostep", "--no-browser", check=False)
    assert proc.returncode != 0
    assert "step ReportFlow/1/nostep does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = _cli(use_report_run, "view", "1/start", "--id", "nope", "--no-browser", check=False)
    assert "has no card with id 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_headwater_card_command_takes_full_pathspecs(use_report_run):
    env_run = subprocess.run([sys.executable, "-m", "headwater.cli", "card", "list",
                              "ReportFlow/1/start"], capture_output=True, text=True)
    assert re.search(r"ReportFlow/1/start/\d+\s+default", env_run.stdout), env_run.stderr


def test_failed_step_gets_a_failed_card(tmp_path):
    sysroot = tmp_path / "sysroot"
    proc = run_flow_file(FLOWS / "report_flow.py", sysroot, "run",
                         extra_env={"FAIL_END": "1", "METAFLOW_CARD_LOCALROOT":
                                    str(tmp_path / "cardroot")}, check=False)
    assert proc.returncode != 0
    pages = list((tmp_path / "cardroot" / "ReportFlow" / "1" / "end").glob("*/cards/0.0.html"))
    assert len(pages) == 1, "METAFLOW_CARD_LOCALROOT is where cards go"
    page = pages[0].read_text(encoding="utf-8")
    assert 'data-status="failed"' in page
    assert "RuntimeError: end failed on purpose" in page
    assert not (sysroot / "mf.cards").exists()


def test_live_card_while_the_task_runs(tmp_path, monkeypatch):
    """A live card is readable while its task runs, then replaced by the final one."""
    import os
    import time

    sysroot = tmp_path / "sysroot"
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METAFLOW_", "HEADWATER_"))}
    env.update({"METAFLOW_HOME": str(tmp_path / "home"), "METAFLOW_USER": "tester",
                "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(sysroot), "GO_FILE": str(go)})
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_LOCAL", str(sysroot))
    proc = subprocess.Popen([sys.executable, str(FLOWS / "live_flow.py"), "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        live = None
        deadline = time.monotonic() + 60
        while live is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                from headwater import Flow

                task = Flow("LiveFlow").latest_run["start"].task
                found = get_cards(task, id="progress")
                live = found[0] if len(found) else None
            except Exception:  # the run or the task is not registered yet
                live = None
            time.sleep(0.2)
        assert live is not None, "no live card appeared while the task ran"
        assert live.status == "running"
        assert "phase one" in live.html and 'value="1"' in live.html
        assert "phase two" not in live.html
        go.write_text("go")
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
    final = live.refresh()
    assert final.status == "final"
    assert "phase two" in final.html and 'value="2"' in final.html


def test_resumed_task_has_the_original_cards(tmp_path, monkeypatch):
    from headwater import Flow

    sysroot = tmp_path / "sysroot"
    run_flow_file(FLOWS / "small_card_flow.py", sysroot, "run")
    run_flow_file(FLOWS / "small_card_flow.py", sysroot, "resume", "end")
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_LOCAL", str(sysroot))
    resumed = Flow("SmallCardFlow").latest_run
    assert resumed.id == "2"
    start = resumed["start"].task
    assert start.origin_pathspec.startswith("SmallCardFlow/1/start/")
    [card] = get_cards(start)
    assert card.pathspec == start.origin_pathspec and "numbers" in card.html
    assert get_cards(resumed["end"].task)["summary"].pathspec.startswith("SmallCardFlow/2/")


def test_with_card_adds_a_card_to_every_step(tmp_path, monkeypatch):
    from headwater import Flow

    sysroot = tmp_path / "sysroot"
    run_flow_file(FLOWS / "resources_flow.py", sysroot, "run", "--with", "card:id=auto",
                  extra_env={"REQUEST_MB": "1024"})
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_LOCAL", str(sysroot))
    run = Flow("ResourcesFlow").latest_run
    end_cards = get_cards(run["end"].task)
    assert [(c.type, c.id) for c in end_cards] == [("default", "auto")]
    start_types = sorted(c.type for c in get_cards(run["start"].task))
    assert start_types == ["default", "resources"]


def test_big_inherited_artifacts_are_not_loaded_for_the_card(use_report_run):
    page = get_cards(_task("end"))[0].html
    big = page.split('data-artifact="big"', 1)[1].split("data-artifact=", 1)[0]
    assert "MB stored, inherited from an earlier step and not loaded for the card" in big
    assert "<table" not in big
    message = page.split('data-artifact="message"', 1)[1].split("data-artifact=", 1)[0]
    assert "hello card" in message  # small inherited artifacts are shown
