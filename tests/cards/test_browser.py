"""The stored cards of a real run, opened in headless Chromium with the network cut off.

Proves: the default card shows the task, its parameters, the DAG with this step highlighted
and every artifact; the custom card shows the Markdown heading, the table cells, the image
(decoded by the browser) and the Vega-Lite chart drawn by the inlined library; an error card
says why; and no page attempts a single request (every one would be recorded and aborted,
and the browser context is offline). Screenshots are saved under the test's temp folder
(and copied to ``$CARD_SCREENSHOTS_DIR`` when set: that is how docs/images/ is made).
"""

from __future__ import annotations

import shutil

from headwater import Flow
from headwater.cards import get_cards

from .browser import render_pages


def _card_file(found, folder, name):
    path = folder / f"{name}.html"
    path.write_text(found.html, encoding="utf-8")
    return path


def test_cards_render_offline_in_chromium(use_report_run, tmp_path):
    run = Flow("ReportFlow").latest_run
    default = get_cards(run["start"].task)[0]
    report_cards = get_cards(run["report"].task)
    custom = report_cards["report"]
    error = report_cards["broken"]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    pages = [(_card_file(default, tmp_path, "default"), shots / "card-default.png"),
             (_card_file(custom, tmp_path, "custom"), shots / "card-custom.png"),
             (_card_file(error, tmp_path, "error"), shots / "card-error.png")]
    default_page, custom_page, error_page = render_pages(pages)

    for page in (default_page, custom_page, error_page):
        assert page["requests"] == [], page["requests"]
        assert page["consoleErrors"] == [], page["consoleErrors"]

    # the default card
    assert default_page["h1"][0].startswith(f"ReportFlow/{run.id}/start/")
    assert default_page["status"] == ["ok"]
    text = default_page["text"]
    assert "learning_rate" in text and "0.01" in text and "nightly" in text
    assert default_page["dagSteps"] == ["start", "report", "end"]
    assert default_page["currentStep"] == ["start"]
    assert default_page["artifacts"] == ["big", "message", "scores", "weights"]
    assert "hello card" in text and "'accuracy': 0.93" in text
    assert "ndarray shape (4, 6), dtype float32" in text
    assert any("5,000 rows × 40 columns" in n and "truncated" in n
               for n in default_page["tableNotes"])
    assert "training finished" in text

    # the custom card
    assert custom_page["h1"] == ["Model report"]
    assert custom_page["cells"] == ["accuracy", "0.93", "recall", "0.88"]
    assert len(custom_page["images"]) == 1
    image = custom_page["images"][0]
    assert image["complete"] and image["width"] > 100 and image["height"] > 100
    assert len(custom_page["charts"]) == 1
    chart = custom_page["charts"][0]
    assert chart["rendered"] and chart["error"] is None and chart["marks"] >= 1
    assert "loss per epoch" in custom_page["text"]
    assert custom_page["progress"] == [{"value": 4, "max": 4}]

    # the error card
    assert "could not be rendered" in error_page["text"]
    assert "this card type is broken on purpose" in error_page["text"]

    for _, shot in pages:
        assert shot.stat().st_size > 10_000
    kept = tmp_path.parent / "card-screenshots"
    shutil.copytree(shots, kept, dirs_exist_ok=True)
