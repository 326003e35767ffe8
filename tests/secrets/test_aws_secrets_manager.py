"""The AWS Secrets Manager backend against moto server (Secrets Manager and STS)."""

from __future__ import annotations

import json
import os

import pytest

from headwater.exceptions import ConfigurationError, SecretsError
from headwater.secrets import SecretSource, parse_source
from headwater.secrets.aws_secrets_manager import AwsSecretsManagerBackend
from headwater.settings import Settings

VALUE = "s3cr3t-Value-that-must-not-leak"


@pytest.fixture
def sm(aws_env):
    client = aws_env.client("secretsmanager")
    yield client
    aws_env.reset()


def source(secret_id, **kw):
    return SecretSource(type="aws-secrets-manager", id=secret_id, **kw)


def test_json_secret_expands_and_plain_string_is_one_variable(sm):
    sm.create_secret(Name="prod/db", SecretString=json.dumps(
        {"DB_USER": "app", "DB_PASSWORD": VALUE, "DB_PORT": 5432, "OPTIONS": {"ssl": True}}))
    sm.create_secret(Name="prod/api-token", SecretString=VALUE)
    backend = AwsSecretsManagerBackend(region="us-east-1")
    assert backend.fetch(source("prod/db")) == {
        "DB_USER": "app", "DB_PASSWORD": VALUE, "DB_PORT": "5432", "OPTIONS": '{"ssl": true}'}
    assert backend.fetch(source("prod/api-token")) == {"API_TOKEN": VALUE}
    assert backend.fetch(source("prod/api-token", env_var_name="TOKEN")) == {"TOKEN": VALUE}
    assert backend.get("prod/api-token") == VALUE
    assert backend.get("prod/absent") is None


def test_arn_ids_use_the_arns_region_and_the_secrets_name(sm, monkeypatch):
    arn = sm.create_secret(Name="prod/db-password", SecretString=VALUE)["ARN"]
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    backend = AwsSecretsManagerBackend()  # no region configured: the ARN's is used
    assert backend.fetch(source(arn)) == {"DB_PASSWORD": VALUE}


def test_binary_secrets(sm):
    sm.create_secret(Name="text-bytes", SecretBinary=b"plain text")
    sm.create_secret(Name="raw-bytes", SecretBinary=b"\xff\xfe\x00" + VALUE.encode())
    backend = AwsSecretsManagerBackend(region="us-east-1")
    assert backend.fetch(source("text-bytes")) == {"TEXT_BYTES": "plain text"}
    with pytest.raises(SecretsError, match="is binary, not text") as info:
        backend.fetch(source("raw-bytes"))
    assert VALUE not in str(info.value)


def test_missing_secret(sm):
    with pytest.raises(SecretsError, match="'prod/nothing' does not exist in us-east-1"):
        AwsSecretsManagerBackend(region="us-east-1").fetch(source("prod/nothing"))


def test_malformed_json_is_one_plain_value_and_bad_keys_are_named_only(sm):
    sm.create_secret(Name="looks-like-json", SecretString="{" + VALUE)
    sm.create_secret(Name="bad-keys", SecretString=json.dumps({"1BAD": VALUE}))
    backend = AwsSecretsManagerBackend(region="us-east-1")
    assert backend.fetch(source("looks-like-json")) == {"LOOKS_LIKE_JSON": "{" + VALUE}
    with pytest.raises(SecretsError, match="'1BAD'") as info:
        backend.fetch(source("bad-keys"))
    assert VALUE not in str(info.value)


def test_role_is_assumed_first(sm):
    sm.create_secret(Name="team/key", SecretString=VALUE)
    role = "arn:aws:iam::123456789012:role/secrets-reader"
    backend = AwsSecretsManagerBackend(region="us-east-1", role=role)
    assert backend.fetch(source("team/key")) == {"KEY": VALUE}
    identity = backend._session.client("sts").get_caller_identity()
    assert ":assumed-role/secrets-reader/headwater-secrets" in identity["Arn"]


def test_default_role_and_region_come_from_settings(sm):
    settings = Settings(env={**os.environ,
                             "METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION": "eu-west-1",
                             "METAFLOW_DEFAULT_SECRETS_ROLE":
                                 "arn:aws:iam::123456789012:role/default-reader"})
    backend = AwsSecretsManagerBackend.from_settings(settings)
    assert backend.region == "eu-west-1" and backend.role.endswith("default-reader")
    explicit = AwsSecretsManagerBackend.from_settings(
        settings, role="arn:aws:iam::123456789012:role/step-role")
    assert explicit.role.endswith("step-role")


def test_bad_inputs(sm, monkeypatch):
    with pytest.raises(SecretsError, match="is not an IAM role ARN"):
        AwsSecretsManagerBackend(role="secrets-reader")
    with pytest.raises(SecretsError, match="Secrets Manager secret id 'has spaces' is invalid"):
        parse_source({"type": "aws-secrets-manager", "id": "has spaces"}, "env")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ConfigurationError, match="needs a region") as info:
        AwsSecretsManagerBackend().fetch(source("prod/db"))
    assert "METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION" in info.value.fix


def test_no_credentials(sm, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    with pytest.raises(SecretsError, match="no AWS credentials found"):
        AwsSecretsManagerBackend(region="us-east-1").fetch(source("prod/db"))
