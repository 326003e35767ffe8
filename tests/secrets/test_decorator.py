"""``@secrets`` as a plain decorator object: validation in ``step_init`` and the task hooks.

The hooks get a minimal stand-in for the runtime's ``TaskContext`` (they read only
``ctx.settings``, a real ``Settings``); whole flows run in ``test_secrets_flow.py``.
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest

from headwater.current import current
from headwater.decorators import parse_with, step_decorator_class
from headwater.decorators.base import DecoratorError
from headwater.decorators.secrets import SecretsDecorator
from headwater.exceptions import SecretsError
from headwater.settings import Settings

VALUE = "s3cr3t-Value-that-must-not-leak"


def ctx(**env):
    return SimpleNamespace(settings=Settings(env={**os.environ, **env}), flow_name="F",
                           run_id="1", step_name="start", task_id="2", retry_count=0)


def run_hooks(deco, context=None):
    context = context or ctx()
    deco.task_pre_step(None, context)
    return context


def test_registered_under_its_name():
    assert step_decorator_class("secrets") is SecretsDecorator
    deco = parse_with('secrets:sources=["db"],role=None')
    assert deco.attributes == {"sources": ["db"], "role": None}


@pytest.mark.parametrize("attributes, problem", [
    ({}, "has no sources"),
    ({"sources": []}, "has no sources"),
    ({"sources": 5}, "must be a list, not int"),
    ({"sources": [""]}, "an empty string is not a secrets source"),
    ({"sources": [{"type": "nope", "id": "x"}]}, "unknown secrets backend type 'nope'"),
    ({"sources": [{"type": "azure-key-vault", "id": "db_password"}]},
     "names are 1-127 letters, digits and hyphens"),
    ({"sources": ["azure-key-vault"], "role": "arn:aws:iam::123456789012:role/r"},
     "role=...) applies to aws-secrets-manager sources"),
    ({"sources": ["x"], "role": 7}, "must be an IAM role ARN string"),
])
def test_step_init_rejects_bad_attributes(attributes, problem):
    with pytest.raises(DecoratorError) as info:
        SecretsDecorator(attributes).step_init(None, None, "start")
    assert "@secrets on step 'start'" in info.value.message
    assert problem in info.value.message


def test_repr_shows_inline_names_not_values():
    deco = SecretsDecorator({"sources": [{"type": "inline", "values": {"API_KEY": VALUE}},
                                         "db"]})
    assert VALUE not in repr(deco)
    assert repr(deco) == ("@secrets(sources=[{'type': 'inline', 'values': {'API_KEY': '***'}}, "
                          "'db'], role=None)")


def test_repr_hides_inline_values_in_metaflows_shape_too():
    deco = SecretsDecorator({"sources": [{"type": "inline",
                                          "options": {"env_vars": {"TOKEN": VALUE}}}]})
    assert VALUE not in repr(deco) and "TOKEN" in repr(deco)


def test_unknown_arguments_are_rejected():
    with pytest.raises(DecoratorError, match="unknown argument"):
        SecretsDecorator({"source": ["x"]})


def test_values_are_injected_and_removed_again(monkeypatch):
    monkeypatch.delenv("API_KEY", raising=False)
    deco = SecretsDecorator({"sources": [{"type": "inline", "values": {"API_KEY": VALUE}}]})
    deco.step_init(None, None, "start")
    context = run_hooks(deco)
    flow = SimpleNamespace()
    assert os.environ["API_KEY"] == VALUE
    assert current.secrets.get("api-key") == VALUE
    deco.task_finished(flow, context, True)
    assert "API_KEY" not in os.environ
    assert vars(flow) == {}  # nothing was set on the flow (artifacts come from there)
    with pytest.raises(SecretsError, match="not found"):
        current.secrets.get("API_KEY")  # cleared with the task


def test_a_previous_value_is_restored(monkeypatch):
    monkeypatch.setenv("SHARED", "same")
    deco = SecretsDecorator({"sources": [{"type": "inline", "values": {"SHARED": "same"}}]})
    context = run_hooks(deco)
    deco.task_finished(None, context, True)
    assert os.environ["SHARED"] == "same"


def test_default_backend_comes_from_settings(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "db.json").write_text(json.dumps({"DB_PASSWORD": VALUE}))
    deco = SecretsDecorator({"sources": ["db"]})
    context = run_hooks(deco, ctx(METAFLOW_HOME=str(tmp_path)))
    try:
        assert os.environ["DB_PASSWORD"] == VALUE
    finally:
        deco.task_finished(None, context, True)
    wrong = SecretsDecorator({"sources": ["db"]})
    with pytest.raises(SecretsError, match="unknown secrets backend type 'hashicorp'"):
        run_hooks(wrong, ctx(METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE="hashicorp"))


def test_conflicting_sources_name_both_without_values():
    deco = SecretsDecorator({"sources": [
        {"type": "inline", "values": {"TOKEN": VALUE}},
        {"type": "inline", "values": {"TOKEN": "other-" + VALUE}}]})
    with pytest.raises(SecretsError, match="both set TOKEN to different values") as info:
        run_hooks(deco)
    assert VALUE not in str(info.value)
    assert "TOKEN" not in os.environ


def test_an_existing_different_variable_is_not_silently_replaced(monkeypatch):
    monkeypatch.setenv("TOKEN", "from-the-shell")
    deco = SecretsDecorator({"sources": [{"type": "inline", "values": {"TOKEN": VALUE}}]})
    with pytest.raises(SecretsError, match="would replace the environment variable TOKEN") \
            as info:
        run_hooks(deco)
    assert VALUE not in str(info.value) and "from-the-shell" not in str(info.value)
    assert os.environ["TOKEN"] == "from-the-shell"


def test_secrets_manager_sources_and_role(aws_env, monkeypatch):
    sm = aws_env.client("secretsmanager")
    sm.create_secret(Name="prod/db", SecretString=json.dumps({"DB_PASSWORD": VALUE}))
    sm.create_secret(Name="prod/api-token", SecretString="tok")
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    deco = SecretsDecorator({"sources": [
        "prod/db", {"type": "aws-secrets-manager", "id": "prod/api-token"},
        {"type": "inline", "values": {"MODE": "test"}}],
        "role": "arn:aws:iam::123456789012:role/reader"})
    context = run_hooks(deco, ctx(METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE="aws-secrets-manager"))
    try:
        assert {k: os.environ[k] for k in ("DB_PASSWORD", "API_TOKEN", "MODE")} == {
            "DB_PASSWORD": VALUE, "API_TOKEN": "tok", "MODE": "test"}
        assert current.secrets.names() == ["API_TOKEN", "DB_PASSWORD", "MODE"]
    finally:
        deco.task_finished(None, context, True)
        aws_env.reset()


@pytest.mark.parametrize("sources, env", [
    (["api-key"], {"METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE": "az-key-vault"}),
    ([{"type": "az-key-vault", "id": "api-key"}], {}),
    (["api-key"], {"METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE": "azure-key-vault"}),
])
def test_key_vault_by_either_name(key_vault, fake_az, monkeypatch, sources, env):
    from headwater.secrets.azure_key_vault import AzureKeyVaultBackend

    original = AzureKeyVaultBackend.from_settings.__func__
    monkeypatch.setattr(AzureKeyVaultBackend, "from_settings", classmethod(
        lambda cls, settings, role=None: original(cls, settings, role,
                                                  client_options=key_vault.client_options())))
    monkeypatch.delenv("API_KEY", raising=False)
    key_vault.set("api-key", VALUE)
    deco = SecretsDecorator({"sources": sources})
    context = run_hooks(deco, ctx(METAFLOW_AZURE_KEY_VAULT_PREFIX=key_vault.url, **env))
    try:
        assert os.environ["API_KEY"] == VALUE
    finally:
        deco.task_finished(None, context, True)


def test_on_demand_key_vault_as_in_the_document(key_vault, fake_az, monkeypatch):
    """``@secrets(sources=['azure-key-vault'])`` then ``current.secrets.get('api-key')``.
    The vault backend is built with the test vault's TLS options (see conftest.py)."""
    from headwater.secrets.azure_key_vault import AzureKeyVaultBackend

    original = AzureKeyVaultBackend.from_settings.__func__
    monkeypatch.setattr(AzureKeyVaultBackend, "from_settings", classmethod(
        lambda cls, settings, role=None: original(cls, settings, role,
                                                  client_options=key_vault.client_options())))
    key_vault.set("api-key", VALUE)
    key_vault.set("database-password", "pw")
    deco = SecretsDecorator({"sources": ["azure-key-vault"]})
    deco.step_init(None, None, "start")
    context = run_hooks(deco, ctx(METAFLOW_AZURE_KEY_VAULT_PREFIX=key_vault.url))
    try:
        assert current.secrets.get("api-key") == VALUE
        assert current.secrets.get("database-password") == "pw"
        assert current.secrets.get("api-key") == VALUE
        assert "API_KEY" not in os.environ  # on-demand secrets are not injected
        assert [p for p, ok in key_vault.requests if ok].count("/secrets/api-key/") == 1
    finally:
        deco.task_finished(None, context, True)
