"""Finding the command-line tools environments use: ``uv`` (resolve, install) and ``pip``
(download wheels)."""

from __future__ import annotations

import os
import shutil
import sys

from .errors import ToolMissing


def uv_binary() -> str:
    """The ``uv`` executable: ``HEADWATER_UV`` if set, else the ``uv`` wheel's binary (the
    ``environments`` extra), else one on PATH."""
    configured = os.environ.get("HEADWATER_UV")
    if configured:
        return configured
    try:
        import uv  # the PyPI wheel ships the binary and this locator
    except ModuleNotFoundError:
        found = shutil.which("uv")
    else:
        found = uv.find_uv_bin()
    if not found:
        raise ToolMissing("@pypi needs uv, which is not installed",
                          "pip install 'headwater[environments]' (or pip install 'uv>=0.5,<1')")
    return found


def pip_command() -> list[str]:
    """pip of the running interpreter (it downloads the exact wheels of a lock)."""
    return [sys.executable, "-m", "pip"]


def index_url() -> str | None:
    """The package index the user configured for uv or pip, if any (uv reads only its own
    variable, pip only its own: each is handed the one the user set)."""
    return os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL")
