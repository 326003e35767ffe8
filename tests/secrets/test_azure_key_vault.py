"""The Azure Key Vault backend with the real SDK and credential chain (DefaultAzureCredential
-> AzureCliCredential -> the stand-in ``az``), against the local Key Vault responder
(``conftest.py``; Key Vault has no emulator)."""

from __future__ import annotations

import json
import os

import pytest

from headwater.exceptions import ConfigurationError, SecretsError
from headwater.secrets import SecretSource, parse_source
from headwater.secrets.azure_key_vault import AzureKeyVaultBackend
from headwater.settings import Settings

VALUE = "s3cr3t-Value-that-must-not-leak"


@pytest.fixture
def vault(key_vault, fake_az):
    return AzureKeyVaultBackend(key_vault.url, client_options=key_vault.client_options())


def source(secret_id, **kw):
    return SecretSource(type="azure-key-vault", id=secret_id, **kw)


def test_plain_secret_becomes_one_variable(vault, key_vault, fake_az):
    key_vault.set("api-key", VALUE)
    assert vault.fetch(source("api-key")) == {"API_KEY": VALUE}
    assert vault.fetch(source("api-key", env_var_name="MY_KEY")) == {"MY_KEY": VALUE}
    # The challenge flow ran: one anonymous request, then authenticated ones.
    assert key_vault.requests[0] == ("/secrets/api-key/", False)
    assert all(ok for _, ok in key_vault.requests[1:])
    assert len(fake_az.calls) == 1 and "--resource https://vault.azure.net" in fake_az.calls[0]


def test_json_secret_expands_to_several_variables(vault, key_vault):
    key_vault.set("db", json.dumps({"DB_USER": "app", "DB_PASSWORD": VALUE, "DB_PORT": 5432}))
    assert vault.fetch(source("db")) == {"DB_USER": "app", "DB_PASSWORD": VALUE,
                                         "DB_PORT": "5432"}


def test_versions_and_full_secret_urls(vault, key_vault):
    old, new = "a" * 32, "b" * 32
    key_vault.set("rotating", "old-value", old)
    key_vault.set("rotating", "new-value", new)
    assert vault.fetch(source("rotating")) == {"ROTATING": "new-value"}
    assert vault.fetch(source(f"rotating/{old}")) == {"ROTATING": "old-value"}
    other_vault = AzureKeyVaultBackend(None, client_options=key_vault.client_options())
    url = f"{key_vault.url}/secrets/rotating/{old}"
    assert other_vault.fetch(source(url)) == {"ROTATING": "old-value"}


def test_on_demand_get(vault, key_vault):
    key_vault.set("ml-endpoint-key", VALUE)
    assert vault.get("ml-endpoint-key") == VALUE
    assert vault.get("absent") is None


@pytest.mark.parametrize("bad", ["db_password", "db.password", "x" * 128, "a/b/c",
                                 "https://v.vault.azure.net/keys/x", "name/not-a-version!"])
def test_invalid_secret_ids_are_rejected_before_any_request(bad, key_vault):
    with pytest.raises(SecretsError) as info:
        parse_source({"type": "azure-key-vault", "id": bad}, "env")
    assert "Key Vault secret" in info.value.message
    assert key_vault.requests == []


def test_missing_secret_names_the_id_and_vault(vault, key_vault):
    with pytest.raises(SecretsError, match="'nope' does not exist in https://127.0.0.1"):
        vault.fetch(source("nope"))


def test_forbidden_secret_says_which_role_to_grant(vault, key_vault):
    key_vault.set("locked", VALUE)
    key_vault.forbidden.add("locked")
    with pytest.raises(SecretsError, match="access denied") as info:
        vault.fetch(source("locked"))
    assert "Key Vault Secrets User" in info.value.fix
    assert VALUE not in str(info.value)


def test_signed_out_cli(vault, key_vault, fake_az):
    fake_az.configure(fail=True)
    key_vault.set("api-key", VALUE)
    with pytest.raises(SecretsError, match="no Azure credential could get a token") as info:
        vault.fetch(source("api-key"))
    assert "az login" in info.value.fix


def test_token_is_fetched_once_for_many_secrets(vault, key_vault, fake_az):
    for i in range(5):
        key_vault.set(f"s-{i}", f"v{i}")
    for i in range(5):
        assert vault.fetch(source(f"s-{i}")) == {f"S_{i}": f"v{i}"}
    assert len(fake_az.calls) == 1


def test_bad_keys_in_a_json_secret_are_named_without_the_value(vault, key_vault):
    key_vault.set("bad-json", json.dumps({"not a name": VALUE}))
    with pytest.raises(SecretsError, match="'not a name'") as info:
        vault.fetch(source("bad-json"))
    assert VALUE not in str(info.value)
    key_vault.set("reserved", json.dumps({"METAFLOW_DATASTORE_SYSROOT_AZURE": VALUE}))
    with pytest.raises(SecretsError, match="a Headwater setting") as info:
        vault.fetch(source("reserved"))
    assert VALUE not in str(info.value)


def test_settings(key_vault):
    env = {"METAFLOW_HOME": os.environ["METAFLOW_HOME"]}
    backend = AzureKeyVaultBackend.from_settings(
        Settings(env={**env, "METAFLOW_AZURE_KEY_VAULT_PREFIX": "https://myvault.vault.azure.net/"}))
    assert backend.vault_url == "https://myvault.vault.azure.net"
    with pytest.raises(ConfigurationError, match="is not a vault URL"):
        AzureKeyVaultBackend.from_settings(
            Settings(env={**env, "METAFLOW_AZURE_KEY_VAULT_PREFIX": "myvault"}))
    unset = AzureKeyVaultBackend.from_settings(Settings(env=env))
    with pytest.raises(ConfigurationError, match="METAFLOW_AZURE_KEY_VAULT_PREFIX is not set"):
        unset.fetch(source("api-key"))
    with pytest.raises(SecretsError, match="role"):
        AzureKeyVaultBackend.from_settings(Settings(env=env), role="arn:aws:iam::1:role/x")
