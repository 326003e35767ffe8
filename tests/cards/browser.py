"""Render card files in headless Chromium (Debian's ``chromium`` driven by npm
``playwright-core``) with the network cut off, and return what each page shows.

``render_pages([(html_path, screenshot_path), ...])`` runs ``render_in_chromium.js`` once for
all pages and returns one dict per page (headings, table cells, images, charts, DAG steps,
artifact names, the requests the page attempted, console errors, the visible text). Tests
skip, saying why, only when Chromium or playwright-core is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("render_in_chromium.js")
CHROMIUM = os.environ.get("HEADWATER_CHROMIUM", "/usr/bin/chromium")
#: When set, the screenshots are also copied here (scripts make docs/images/ this way).
SCREENSHOT_DIR_ENV = "CARD_SCREENSHOTS_DIR"


def require_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium); "
                    f"the browser tests need it")
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed; the browser tests drive Chromium from it")
    if not (ROOT / "node_modules" / "playwright-core").exists():
        pytest.skip("playwright-core is not installed: run `npm install` in the repository root")


def render_pages(pages: list[tuple[Path, Path | None]], width: int = 1200) -> list[dict]:
    require_browser()
    job = {"executablePath": CHROMIUM,
           "pages": [{"html": str(html), "screenshot": str(shot) if shot else None,
                      "width": width} for html, shot in pages]}
    proc = subprocess.run(["node", str(SCRIPT), json.dumps(job)], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        raise AssertionError(f"the Chromium driver failed:\n{proc.stderr[-4000:]}")
    results = json.loads(proc.stdout)["pages"]
    target = os.environ.get(SCREENSHOT_DIR_ENV)
    if target:
        os.makedirs(target, exist_ok=True)
        for _, shot in pages:
            if shot is not None:
                shutil.copy(shot, Path(target) / Path(shot).name)
    return results
