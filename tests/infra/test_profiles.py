"""The profile each stack exports: equal to the checked-in expected profile, accepted by
`headwater configure import`, and read back unchanged by the runtime's settings loader.

The expected files hold the values Pulumi's mocks compute (tests/infra/harness.py: a fixed
account, subscription and random suffix). After an intended change, refresh one with
``python -m tests.infra.harness azure dev --profile > tests/infra/expected_profiles/azure-dev.json``
and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from headwater.cli.main import cli
from headwater.settings import KNOWN_KEYS, Settings
from headwater_infra.profile import KubernetesProfile, azure_profile, check_profile

from .conftest import FULL

EXPECTED = Path(__file__).parent / "expected_profiles"
# Metaflow keys the stacks set that Headwater's settings do not list (yet): both are read by
# Metaflow itself (workload identity pod label; Batch on Fargate).
@pytest.mark.parametrize("label", FULL)
def test_profile_equals_the_expected_profile(stack, label):
    expected = json.loads((EXPECTED / f"{label}.json").read_text())
    assert stack(label).profile == expected


@pytest.mark.parametrize("label", FULL)
def test_profile_round_trips_through_configure_import_and_settings(stack, label, tmp_path):
    profile = stack(label).profile
    source = tmp_path / "profile.json"
    source.write_text(json.dumps(profile))
    home = tmp_path / "home"
    env = {"METAFLOW_HOME": str(home)}
    result = CliRunner().invoke(cli, ["configure", "import", str(source), "--profile", label],
                                env=env)
    assert result.exit_code == 0, result.output
    settings = Settings(env=env, profile=label)
    assert settings.profile_path == home / f"config_{label}.json"
    for key, value in profile.items():
        assert settings.get(key) == value, key
        assert settings.source(key) == "profile", key
    assert set(profile) <= set(KNOWN_KEYS)


def test_mode_keys_say_shared_mode(stack):
    azure, aws = stack("azure-dev").profile, stack("aws-dev").profile
    assert (azure["METAFLOW_DEFAULT_DATASTORE"], aws["METAFLOW_DEFAULT_DATASTORE"]) == \
        ("azure", "s3")
    assert azure["METAFLOW_DEFAULT_METADATA"] == aws["METAFLOW_DEFAULT_METADATA"] == "service"
    # The seed's path rule: <container>/<prefix>, no leading/trailing or double slashes.
    sysroot = azure["METAFLOW_DATASTORE_SYSROOT_AZURE"]
    assert not sysroot.startswith("/") and not sysroot.endswith("/") and "//" not in sysroot


def test_builders_refuse_a_profile_with_a_secret():
    kubernetes = KubernetesProfile(namespace="headwater", service_account="tasks")
    good = dict(blob_endpoint="https://a.blob.core.windows.net/", artifact_root="artifacts",
                card_root="cards", vault_uri="https://v.vault.azure.net/",
                service_url="http://10.0.0.1", service_internal_url="http://m.svc",
                registry="r.azurecr.io", task_image="r.azurecr.io/t:1", kubernetes=kubernetes)
    profile = azure_profile(**good)
    assert profile["METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT"] == \
        "https://a.blob.core.windows.net"
    assert "METAFLOW_KUBERNETES_GPU_VENDOR" not in profile  # unset values are left out
    with pytest.raises(ValueError, match="a password inside a URL"):
        azure_profile(**{**good, "service_url": "http://admin:hunter2@10.0.0.1"})
    with pytest.raises(ValueError, match="a storage account key or SAS"):
        azure_profile(**{**good, "blob_endpoint": "https://a.blob.core.windows.net/?"
                                                  "AccountKey=abc"})
    with pytest.raises(ValueError, match="must look like s3://bucket/prefix"):
        check_profile({"METAFLOW_DATASTORE_SYSROOT_S3": "bucket/artifacts"})
