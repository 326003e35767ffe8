"""The task and service images' Dockerfiles (no Docker engine here: checked against the
repository)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "infra" / "images" / "task.Dockerfile"
SERVICE_DOCKERFILE = ROOT / "service" / "Dockerfile"


def _extras() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"])


def test_service_image_has_the_sdks_its_ui_and_key_loading_use():
    """The UI reads the datastore (Azure Blob / S3) and the service its API keys (Key Vault
    / Secrets Manager) with the cloud SDKs: both wheel and install steps name the extras."""
    text = SERVICE_DOCKERFILE.read_text()
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"COPY {path}: not in the repository"
    groups = re.findall(r'"(?:\.|headwater)\[([^\]]+)\]"', text)
    assert len(groups) == 2, groups
    for group in groups:
        assert {"service", "azure", "aws"} <= set(group.split(",")) <= _extras(), group
    assert "USER 10001:10001" in text


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
