"""The task image's Dockerfile (no Docker engine here: checked against the repository)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "infra" / "images" / "task.Dockerfile"


def test_task_image_copies_what_exists_and_installs_real_extras():
    text = DOCKERFILE.read_text()
    for source in re.findall(r"^COPY (.+) \S+$", text, flags=re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"COPY {path}: not in the repository"
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"])
    for group in re.findall(r'pip install "\.\[([^\]]+)\]"', text):
        assert set(group.split(",")) <= extras, group
    # Runs as the user the manifests and task definitions run tasks as.
    assert "USER 10001:10001" in text
