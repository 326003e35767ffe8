"""The type checker over both packages (``[tool.mypy]`` in pyproject.toml), so that
``scripts/test`` fails on a type error as it does on a failing test.

mypy's cache (``.mypy_cache`` at the checkout's root) makes a second run take seconds; the
first, in a fresh clone, checks every module (about half a minute of one core).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_packages_type_check() -> None:
    assert importlib.util.find_spec("mypy") is not None, (
        "mypy is not installed: pip install -c constraints.txt -e '.[dev]'")
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, f"mypy found errors:\n{proc.stdout}{proc.stderr}"
