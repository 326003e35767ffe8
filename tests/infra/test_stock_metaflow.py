"""Every key the stacks put in a profile has a value stock Metaflow 2.19 accepts (issue 12,
item 12), checked on the checked-in expected profiles.

The facts below are read from Netflix/metaflow at tag 2.19.38 (not installed here):
``metaflow/metaflow_config.py`` declares each key with ``from_conf(name, default)``, and
``metaflow_config_funcs.from_conf`` parses a value by its default's type (a dict or list
default: the text must be JSON of that type; a bool default: any text, "0"/"false"/"" are
false; otherwise kept as text). Where a plugin later validates the value, the fact says
how (file named in each comment). What this does not prove: that Metaflow then reaches the
resources the values name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

EXPECTED = Path(__file__).parent / "expected_profiles"
PROFILES = sorted(EXPECTED.glob("*.json"))


def one_of(*choices: str) -> Callable[[str], bool]:
    return lambda value: value in choices


def text(value: str) -> bool:  # from_conf(name) or a str default: any text
    return isinstance(value, str) and value != ""


def json_of(kind: type) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return isinstance(json.loads(value), kind)
        except ValueError:
            return False
    return check


def comma_pairs(value: str) -> bool:
    # kube_utils.parse_kube_keyvalue_list(value.split(","), False): "k=v,k2=v2", no key
    # twice (a key without "=" is allowed and gets no value).
    keys = [item.split("=", 1)[0] for item in value.split(",")]
    return all(keys) and len(keys) == len(set(keys))


def tolerations(value: str) -> bool:
    # kubernetes_decorator.py: json.loads, then each item's keys must be V1Toleration's.
    items = json.loads(value)
    allowed = {"effect", "key", "operator", "toleration_seconds", "value"}
    return isinstance(items, list) and all(isinstance(i, dict) and set(i) <= allowed
                                           for i in items)


def string_dict(value: str) -> bool:
    # batch_decorator.py: BATCH_DEFAULT_TAGS must be Dict[str, str].
    tags = json.loads(value)
    return isinstance(tags, dict) and all(isinstance(k, str) and isinstance(v, str)
                                          for k, v in tags.items())


def truthy(value: str) -> bool:  # a bool default: the profile says "true"
    return value.lower() not in ("0", "false", "")


# Metaflow's keys the stacks emit -> what Metaflow 2.19 accepts.
METAFLOW_FACTS: dict[str, Callable[[str], bool]] = {
    # plugins/__init__.py DATASTORES_DESC / METADATA_PROVIDERS_DESC / SECRETS_PROVIDERS_DESC
    "METAFLOW_DEFAULT_DATASTORE": one_of("local", "spin", "s3", "azure", "gs"),
    "METAFLOW_DEFAULT_METADATA": one_of("service", "local", "spin"),
    "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE": one_of(
        "inline", "aws-secrets-manager", "gcp-secret-manager", "az-key-vault"),
    "METAFLOW_DATASTORE_SYSROOT_AZURE": text,
    "METAFLOW_DATASTORE_SYSROOT_S3": lambda v: v.startswith("s3://"),
    "METAFLOW_CARD_AZUREROOT": text,
    "METAFLOW_CARD_S3ROOT": lambda v: v.startswith("s3://"),
    "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT": lambda v: v.startswith("https://"),
    # azure_secret_manager_secrets_provider.py: the vault's https URL
    "METAFLOW_AZURE_KEY_VAULT_PREFIX": lambda v: v.startswith("https://")
    and ".vault.azure.net" in v,
    "METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION": text,
    "METAFLOW_SERVICE_URL": lambda v: v.startswith(("http://", "https://")),
    "METAFLOW_SERVICE_INTERNAL_URL": lambda v: v.startswith(("http://", "https://")),
    # UI_URL = from_conf("UI_URL"): a base URL Metaflow appends "<flow>/<run>" to.
    "METAFLOW_UI_URL": lambda v: v.startswith(("http://", "https://")) and v.endswith("/"),
    "METAFLOW_DEFAULT_CONTAINER_IMAGE": text,
    "METAFLOW_DEFAULT_CONTAINER_REGISTRY": text,
    "METAFLOW_KUBERNETES_NAMESPACE": text,
    "METAFLOW_KUBERNETES_SERVICE_ACCOUNT": text,
    "METAFLOW_KUBERNETES_CONTAINER_IMAGE": text,
    "METAFLOW_KUBERNETES_SECRETS": lambda v: all(v.split(",")),
    "METAFLOW_KUBERNETES_LABELS": comma_pairs,
    "METAFLOW_KUBERNETES_TOLERATIONS": tolerations,
    # kubernetes_decorator.py: gpu_vendor.lower() in ("amd", "nvidia")
    "METAFLOW_KUBERNETES_GPU_VENDOR": lambda v: v.lower() in ("amd", "nvidia"),
    "METAFLOW_ARGO_WORKFLOWS_KUBERNETES_SECRETS": lambda v: all(v.split(",")),
    "METAFLOW_ARGO_WORKFLOWS_UI_URL": lambda v: v.startswith(("http://", "https://")),
    "METAFLOW_BATCH_JOB_QUEUE": text,
    "METAFLOW_BATCH_CONTAINER_IMAGE": text,
    "METAFLOW_BATCH_CONTAINER_REGISTRY": text,
    "METAFLOW_BATCH_EMIT_TAGS": truthy,
    "METAFLOW_BATCH_DEFAULT_TAGS": lambda v: json_of(dict)(v) and string_dict(v),
    "METAFLOW_ECS_S3_ACCESS_IAM_ROLE": lambda v: v.startswith("arn:aws:iam::"),
    "METAFLOW_ECS_FARGATE_EXECUTION_ROLE": lambda v: v.startswith("arn:aws:iam::"),
    "METAFLOW_SFN_IAM_ROLE": lambda v: v.startswith("arn:aws:iam::"),
    "METAFLOW_EVENTS_SFN_ACCESS_IAM_ROLE": lambda v: v.startswith("arn:aws:iam::"),
    "METAFLOW_SFN_DYNAMO_DB_TABLE": text,
    "METAFLOW_SFN_STATE_MACHINE_PREFIX": text,
    "METAFLOW_SFN_EXECUTION_LOG_GROUP_ARN": lambda v: v.startswith("arn:aws:logs:"),
}
# Headwater's own keys: Metaflow does not read them (from_conf is never called on them), so
# any value is harmless to it.
HEADWATER_ONLY = {"METAFLOW_SERVICE_AUTH_SECRET_ID", "METAFLOW_BATCH_LOG_GROUP",
                  "METAFLOW_SERVICE_CA_CERT"}


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_every_emitted_key_has_a_value_stock_metaflow_accepts(path):
    profile = json.loads(path.read_text())
    unknown = set(profile) - set(METAFLOW_FACTS) - HEADWATER_ONLY
    assert not unknown, f"no Metaflow fact recorded for {sorted(unknown)}"
    refused = {k: v for k, v in profile.items() if k in METAFLOW_FACTS
               and not METAFLOW_FACTS[k](v)}
    assert not refused


def test_the_azure_profiles_name_the_backend_as_metaflow_does():
    for path in EXPECTED.glob("azure-*.json"):
        assert json.loads(path.read_text())["METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE"] == \
            "az-key-vault"


def test_the_facts_refuse_what_metaflow_refuses():
    """The checks can fail: the value the stacks used to emit is refused."""
    assert not METAFLOW_FACTS["METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE"]("azure-key-vault")
    assert not METAFLOW_FACTS["METAFLOW_KUBERNETES_TOLERATIONS"]('[{"tolerationSeconds": 1}]')
    assert not METAFLOW_FACTS["METAFLOW_BATCH_DEFAULT_TAGS"]("headwater:stack=hw-dev")
    assert not METAFLOW_FACTS["METAFLOW_KUBERNETES_LABELS"]("a=b,a=c")
