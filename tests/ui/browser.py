"""A headless Chromium page for the UI tests: ``driver.mjs`` (playwright-core driving
Debian's ``/usr/bin/chromium``) in a Node process, one JSON command per line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).with_name("driver.mjs")
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
    if shutil.which("node") is None:
        return "no node on PATH (the browser driver is a Node script)"
    if not (REPO / "node_modules" / "playwright-core").exists():
        return "npm package playwright-core is not installed (npm ci)"
    return None


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, artefacts: Path):
        self.artefacts = artefacts
        self.proc = subprocess.Popen(["node", str(DRIVER)], cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def _call(self, op: str, **args: Any) -> Any:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BrowserError(f"the browser driver exited ({self.proc.poll()})")
        answer = json.loads(line)
        if not answer["ok"]:
            raise BrowserError(f"{op} {args}: {answer['error']}")
        return answer["value"]

    def goto(self, url: str) -> dict:
        return self._call("goto", url=url)

    def wait(self, selector: str, timeout: int = 15000, state: str = "visible") -> None:
        self._call("wait", selector=selector, timeout=timeout, state=state)

    def wait_for(self, expression: str, timeout: int = 15000) -> None:
        self._call("waitFunction", expression=expression, timeout=timeout)

    def text(self, selector: str) -> str:
        return self._call("text", selector=selector)

    def attr(self, selector: str, name: str) -> str | None:
        return self._call("attr", selector=selector, name=name)

    def count(self, selector: str) -> int:
        return self._call("count", selector=selector)

    def click(self, selector: str) -> None:
        self._call("click", selector=selector)

    def fill(self, selector: str, value: str) -> None:
        self._call("fill", selector=selector, value=value)

    def press(self, selector: str, key: str) -> None:
        self._call("press", selector=selector, key=key)

    def evaluate(self, expression: str) -> Any:
        return self._call("evaluate", expression=expression)

    def frame_text(self, selector: str, inner: str) -> str:
        return self._call("frameText", selector=selector, inner=inner)

    def url(self) -> str:
        return self._call("url")

    def cookies(self) -> list[dict]:
        return self._call("cookies")

    def clear_cookies(self) -> None:
        self._call("clearCookies")

    def problems(self) -> list[str]:
        """Page errors and console errors since the last call."""
        return self._call("problems")

    def screenshot(self, name: str) -> Path:
        path = self.artefacts / f"{name}.png"
        self._call("screenshot", path=str(path))
        return path

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin
            try:
                self.proc.stdin.write(json.dumps({"op": "close"}) + "\n")
                self.proc.stdin.close()  # node exits once its input ends
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
