"""Source syntax, variable naming, the local backends (``env`` files, ``inline``) and
``current.secrets``."""

from __future__ import annotations

import json

import pytest

from headwater.exceptions import SecretsError
from headwater.secrets import Secrets, SecretSource, parse_source
from headwater.secrets.sources import default_env_var_name, expand_secret
from headwater.secrets.env import EnvSecretsBackend, InlineSecretsBackend
from headwater.settings import Settings

VALUE = "s3cr3t-Value-that-must-not-leak"


# --- syntax -------------------------------------------------------------------------------

def test_source_forms():
    assert parse_source("db", "aws-secrets-manager") == SecretSource("aws-secrets-manager", "db")
    assert parse_source({"type": "azure-key-vault", "id": "api-key", "env_var_name": "K"},
                        "env") == SecretSource("azure-key-vault", "api-key", "K")
    assert parse_source({"id": "db"}, "env") == SecretSource("env", "db")
    inline = parse_source({"type": "inline", "values": {"A": "1"}}, "env")
    assert inline.type == "inline" and dict(inline.values) == {"A": "1"}
    on_demand = parse_source("azure-key-vault", "env")
    assert on_demand.on_demand and on_demand.type == "azure-key-vault"


@pytest.mark.parametrize("raw, problem", [
    ("", "an empty string is not a secrets source"),
    (42, "must be a string or a dict, not int"),
    ({"type": "vault9000", "id": "x"}, "unknown secrets backend type 'vault9000'"),
    ({"type": "azure-key-vault"}, 'needs a non-empty string "id"'),
    ({"type": "azure-key-vault", "id": "x", "secret": "y"}, "unknown key(s) secret"),
    ({"type": "inline", "values": ["A=1"]}, 'an inline source needs "values"'),
    ({"type": "env", "id": "x", "values": {}}, '"values" belongs to inline sources'),
    ({"type": "env", "id": "x", "env_var_name": "1X"}, "not a valid name"),
    ({"type": "env", "id": "x", "env_var_name": "METAFLOW_USER"}, "a Headwater setting"),
    ("inline", '"inline" on its own names no values'),
    ({"type": "env", "id": "bad name!"}, "neither a .json path nor a plain name"),
])
def test_bad_sources(raw, problem):
    with pytest.raises(SecretsError) as info:
        parse_source(raw, "env")
    assert problem in info.value.message


@pytest.mark.parametrize("name, variable", [
    ("db-password", "DB_PASSWORD"), ("prod/db-password", "DB_PASSWORD"),
    ("api.key", "API_KEY"), ("9lives", "_9LIVES"), ("ALREADY_OK", "ALREADY_OK"),
])
def test_default_variable_names(name, variable):
    assert default_env_var_name(name) == variable


def test_expansion_of_values():
    src = SecretSource("env", "creds")
    assert expand_secret(src, '{"A": "1", "B": 2, "C": true, "D": [1]}', "creds") == \
        {"A": "1", "B": "2", "C": "true", "D": "[1]"}
    assert expand_secret(src, "plain", "creds") == {"CREDS": "plain"}
    assert expand_secret(src, "[1, 2]", "creds") == {"CREDS": "[1, 2]"}  # only objects expand
    named = SecretSource("env", "creds", env_var_name="RAW")
    assert expand_secret(named, '{"A": "1"}', "creds") == {"RAW": '{"A": "1"}'}
    with pytest.raises(SecretsError, match="key 'A' has no value") as info:
        expand_secret(src, json.dumps({"A": None, "B": VALUE}), "creds")
    assert VALUE not in str(info.value)


# --- env and inline -----------------------------------------------------------------------

@pytest.fixture
def env_backend(tmp_path):
    return EnvSecretsBackend(str(tmp_path / "secrets"), environ={})


def test_env_backend_reads_json_files(env_backend, tmp_path, monkeypatch):
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "db.json").write_text(json.dumps({"DB_PASSWORD": VALUE, "DB_PORT": 5432}))
    assert env_backend.fetch(SecretSource("env", "db")) == {"DB_PASSWORD": VALUE,
                                                            "DB_PORT": "5432"}
    local = tmp_path / "dev-secrets.json"
    local.write_text(json.dumps({"API_KEY": "dev"}))
    monkeypatch.chdir(tmp_path)
    assert env_backend.fetch(SecretSource("env", "./dev-secrets.json")) == {"API_KEY": "dev"}
    assert env_backend.fetch(SecretSource("env", str(local))) == {"API_KEY": "dev"}


def test_env_backend_default_folder_is_under_metaflow_home(tmp_path):
    backend = EnvSecretsBackend.from_settings(Settings(env={"METAFLOW_HOME": str(tmp_path)}))
    assert backend.path_for("db") == str(tmp_path / "secrets" / "db.json")


@pytest.mark.parametrize("content, problem", [
    (None, "no file"),
    ("{" + f'"A": "{VALUE}"', "is not valid JSON (line 1)"),
    (json.dumps([VALUE]), "must hold a JSON object of names to values, not a list"),
    (json.dumps({"has space": VALUE}), "'has space'"),
])
def test_env_backend_errors_never_show_values(env_backend, tmp_path, content, problem):
    path = tmp_path / "s.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SecretsError) as info:
        env_backend.fetch(SecretSource("env", str(path)))
    assert problem in str(info.value)
    assert_no_value_in_chain(info.value)


def assert_no_value_in_chain(error):
    """Neither the error nor anything chained to it (``json``'s errors keep the whole
    document in ``.doc``) holds the secret."""
    while error is not None:
        assert VALUE not in str(error) and VALUE not in repr(vars(error))
        error = error.__cause__ or error.__context__


def test_env_backend_on_demand_reads_the_environment():
    backend = EnvSecretsBackend("/nowhere", environ={"API_KEY": "from-env", "raw-name": "r"})
    assert backend.get("api-key") == "from-env"
    assert backend.get("raw-name") == "r"
    assert backend.get("absent") is None


def test_metaflows_inline_shape():
    # stock Metaflow writes inline values under options.env_vars (an id is allowed, unused)
    for raw in ({"type": "inline", "options": {"env_vars": {"A": "1", "B": 2}}},
                {"type": "inline", "id": "dev", "options": {"env_vars": {"A": "1", "B": 2}}}):
        source = parse_source(raw, "env")
        assert source.type == "inline" and InlineSecretsBackend().fetch(source) == {
            "A": "1", "B": "2"}
    for bad in ({"type": "inline", "options": {"vars": {}}},
                {"type": "inline", "options": {"env_vars": ["A=1"]}},
                {"type": "inline", "options": {"env_vars": {}}, "values": {"A": "1"}}):
        with pytest.raises(SecretsError, match='"options": {"env_vars"'):
            parse_source(bad, "env")
    with pytest.raises(SecretsError, match='"options" belongs to inline sources'):
        parse_source({"type": "env", "id": "x", "options": {}}, "env")


def test_metaflows_name_for_the_key_vault_backend():
    # stock Metaflow calls it az-key-vault; both names select the same backend
    assert parse_source("az-key-vault", "env") == SecretSource("azure-key-vault")
    assert parse_source("api-key", "az-key-vault") == SecretSource("azure-key-vault", "api-key")
    assert parse_source({"type": "az-key-vault", "id": "api-key"}, "env") == \
        SecretSource("azure-key-vault", "api-key")


def test_inline_backend():
    src = parse_source({"type": "inline", "values": {"A": "1", "B": 2}}, "env")
    assert InlineSecretsBackend().fetch(src) == {"A": "1", "B": "2"}
    bad = parse_source({"type": "inline", "values": {"A B": VALUE}}, "env")
    with pytest.raises(SecretsError, match="inline source sets the environment variable 'A B'") \
            as info:
        InlineSecretsBackend().fetch(bad)
    assert VALUE not in str(info.value)


# --- current.secrets ----------------------------------------------------------------------

class OnDemand:
    def __init__(self, values):
        self.values = values
        self.asked = []

    def get(self, name):
        self.asked.append(name)
        return self.values.get(name)


def test_accessor_looks_in_variables_then_on_demand_sources_and_caches():
    vault = OnDemand({"ml-endpoint-key": VALUE})
    secrets = Secrets({"DB_PASSWORD": "pw"}, [(SecretSource("azure-key-vault"), vault)])
    assert secrets.get("DB_PASSWORD") == "pw"
    assert secrets.get("db-password") == "pw"  # the variable form of the name
    assert secrets["ml-endpoint-key"] == VALUE
    assert secrets.get("ml-endpoint-key") == VALUE
    assert vault.asked == ["ml-endpoint-key"]  # cached for the task's life
    assert secrets.get("absent", "fallback") == "fallback"
    assert "absent" not in secrets and "DB_PASSWORD" in secrets
    with pytest.raises(SecretsError, match="secret 'nope' not found") as info:
        secrets.get("nope")
    assert "azure-key-vault (on demand)" in info.value.message


def test_accessor_never_shows_or_pickles_values():
    import pickle

    secrets = Secrets({"DB_PASSWORD": VALUE})
    assert VALUE not in repr(secrets) and "DB_PASSWORD" in repr(secrets)
    assert list(secrets) == ["DB_PASSWORD"] == secrets.names()
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secrets)
    import cloudpickle

    with pytest.raises(TypeError, match="cannot be pickled"):
        cloudpickle.dumps(secrets)
