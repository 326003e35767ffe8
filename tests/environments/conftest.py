"""Set-up for the environment tests: a private environment cache, ``uv`` behind a wrapper
that logs each invocation, so a test can count resolutions (``uv pip compile``) instead of
timing them (the real uv and the real PyPI index do the work), and a local conda channel."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from .conda_channel import index_channel, write_package

DEAD_INDEX = "http://127.0.0.1:9/simple"


@pytest.fixture
def env_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "env-cache"
    monkeypatch.setenv("HEADWATER_ENV_CACHE", str(cache))
    return cache


@pytest.fixture
def uv_calls(tmp_path, monkeypatch):
    """A list-like reader of the uv command lines run since the test started."""
    from headwater.environments.tools import uv_binary

    log = tmp_path / "uv-calls.log"
    wrapper = tmp_path / "uv-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {uv_binary()} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("HEADWATER_UV", str(wrapper))

    def calls(kind: str = "") -> list[str]:
        if not log.exists():
            return []
        return [line for line in log.read_text().splitlines() if kind in line]

    return calls


@pytest.fixture
def dead_index(monkeypatch):
    """Point uv and pip at a port where nothing listens (and no local wheel folder)."""
    monkeypatch.setenv("UV_INDEX_URL", DEAD_INDEX)
    monkeypatch.setenv("PIP_INDEX_URL", DEAD_INDEX)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.setenv("UV_NO_CACHE", "1")
    return DEAD_INDEX


@pytest.fixture
def conda_channel(tmp_path, monkeypatch) -> Path:
    """A local conda channel with flows/conda_pins_flow.py's packages (tinyver 1.0.0 and
    2.0.0, tinydep 0.1 needing tinyver >=2 and python, tinyextra 0.3), made the default
    channel of every @conda step without channels=."""
    root = tmp_path / "channel"
    for name, version, depends in [("tinyver", "1.0.0", ()), ("tinyver", "2.0.0", ()),
                                   ("tinydep", "0.1", ("tinyver >=2", "python >=3.8")),
                                   ("tinyextra", "0.3", ())]:
        write_package(root, name, version, depends)
    index_channel(root)
    monkeypatch.setenv("HEADWATER_CONDA_CHANNELS", root.as_uri())
    return root
