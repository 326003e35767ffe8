"""The service's settings read its API keys from the secret store at start
(``HEADWATER_SERVICE_API_KEYS_SECRET_ID``, what the AKS and EKS stacks set).

Secrets Manager is moto's server (boto3 unchanged, its real HTTP API). Key Vault has no
local emulator, so its stand-in sits at the narrowest boundary there is: an HTTPS server
speaking the Key Vault REST API (the bearer challenge, ``GET /secrets/<name>/<version>``,
the JSON answer, a 403), reached by the real ``azure-keyvault-secrets`` client with a fixed
token. What this proves: the identifier is parsed into vault, name and version, the SDK's
request and the answer's value, the error for a refused read. What it does not: that Entra
ID issues the workload identity a token, or that Azure's RBAC grants the read (the stack
tests check the declared role assignment).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from headwater_service import secret_store
from headwater_service.config import API_KEYS_SECRET_ENV, ConfigError, ServiceConfig, key_digest

DB = {"HEADWATER_DATABASE_URL": "postgresql://hw@127.0.0.1:5432/hw"}
VAULT = "https://hw-dev-kv-abc123.vault.azure.net"
VERSION = "0123456789abcdef0123456789abcdef"


def test_keys_come_from_secrets_manager(aws_env):
    client = aws_env.client("secretsmanager")
    # a name of its own: the worker's moto server is shared with tests/infra's key test
    arn = client.create_secret(Name=f"hw-dev/service/api-keys-{uuid.uuid4().hex[:8]}",
                               SecretString="key-one,key-two\n")["ARN"]
    config = ServiceConfig.from_env({**DB, API_KEYS_SECRET_ENV: arn,
                                     "HEADWATER_SERVICE_API_KEYS": "key-env"})
    assert config.auth_required
    assert config.api_key_digests == {key_digest(k) for k in ("key-one", "key-two", "key-env")}


def test_an_unreadable_secret_stops_the_settings_with_one_line(aws_env):
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hw-dev/service/nope-AbCdEf"
    with pytest.raises(ConfigError) as caught:
        ServiceConfig.from_env({**DB, API_KEYS_SECRET_ENV: arn})
    message = str(caught.value)
    assert message.startswith(f"cannot read {API_KEYS_SECRET_ENV} ({arn}) from AWS Secrets "
                              f"Manager: ")
    assert "\n" not in message and "give the service's identity read access" in message


def test_a_location_in_no_store_names_the_setting_settings():
    with pytest.raises(ConfigError, match=f"{API_KEYS_SECRET_ENV}='hw-dev/api-key' is "
                                          f"neither a Key Vault secret identifier"):
        ServiceConfig.from_env({**DB, API_KEYS_SECRET_ENV: "hw-dev/api-key"})


class _Token:
    """A credential with a fixed token (stands in for the workload identity's)."""

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        self.scopes = scopes
        return AccessToken("token-of-the-service", int(time.time()) + 3600)


@pytest.fixture
def key_vault(tls_cert):
    """Key Vault's secrets API on 127.0.0.1 over TLS: a bearer challenge to requests
    without a token, the secret's JSON to requests with the expected one, 403 otherwise."""
    secrets = {("service-api-key", VERSION): "vault-key"}
    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            auth = self.headers.get("Authorization")
            seen.append((self.path, auth))
            path = self.path.split("?", 1)[0].strip("/").split("/")
            if auth is None:
                self._answer(401, {"error": {"code": "Unauthorized"}}, {
                    "WWW-Authenticate": 'Bearer authorization="https://login.microsoftonline'
                                        '.com/tenant", resource="https://vault.azure.net"'})
            elif auth != "Bearer token-of-the-service" or len(path) != 3 or \
                    (path[1], path[2]) not in secrets:
                self._answer(403, {"error": {"code": "Forbidden", "message":
                                             "Caller is not authorized to perform action on "
                                             "resource (Key Vault Secrets User needed)"}})
            else:
                self._answer(200, {"value": secrets[(path[1], path[2])],
                                   "id": f"{VAULT}/secrets/{path[1]}/{path[2]}",
                                   "attributes": {"enabled": True}})

        def _answer(self, status, body, headers=None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_cert.cert, tls_cert.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def vault_client(key_vault, tls_cert, monkeypatch):
    """The service's Key Vault client, pointed at the stand-in (the vault URL it was asked
    for is recorded)."""
    from azure.keyvault.secrets import SecretClient

    url, seen = key_vault
    asked: list[str] = []
    credential = _Token()

    def client(vault_url):
        asked.append(vault_url)
        return SecretClient(url, credential, connection_verify=str(tls_cert.cert),
                            verify_challenge_resource=False)

    monkeypatch.setattr(secret_store, "key_vault_client", client)
    return asked, seen, credential


def test_keys_come_from_key_vault_settings(vault_client):
    asked, seen, credential = vault_client
    where = f"{VAULT}/secrets/service-api-key/{VERSION}"
    config = ServiceConfig.from_env({**DB, API_KEYS_SECRET_ENV: where})
    assert config.api_key_digests == {key_digest("vault-key")}
    assert asked == [VAULT]
    assert credential.scopes == ("https://vault.azure.net/.default",)
    path, auth = seen[-1]
    assert path.startswith(f"/secrets/service-api-key/{VERSION}?api-version=")
    assert auth == "Bearer token-of-the-service"


def test_a_refused_key_vault_read_is_one_line_without_a_value_settings(vault_client):
    where = f"{VAULT}/secrets/headwater-database-password"
    with pytest.raises(ConfigError) as caught:
        ServiceConfig.from_env({**DB, API_KEYS_SECRET_ENV: where})
    message = str(caught.value)
    assert message.startswith(f"cannot read {API_KEYS_SECRET_ENV} ({where}) from Azure Key "
                              f"Vault: ")
    assert "not authorized" in message and "\n" not in message
