"""The runtime side of the profile's ``METAFLOW_SERVICE_AUTH_SECRET_ID`` (issue 12, item 3):
the service metadata provider reads the API key from the secret store the profile names.

Secrets Manager is moto's server (a real HTTP API; boto3 unchanged); the key's arrival is
checked on the wire, at a stand-in for the service's ``/ping`` (a stdlib HTTP server that
records the request's ``x-api-key``; the real service's key check has its own tests). Key
Vault has no local emulator: only the recognition of its secret identifiers is checked
here, not the fetch.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from headwater.exceptions import ConfigurationError
from headwater.metadata.service import ServiceMetadataProvider
from headwater.service_auth import _KEY_VAULT, _read, service_auth_key
from headwater.settings import Settings


@pytest.fixture(autouse=True)
def _fresh_cache():
    _read.cache_clear()
    yield
    _read.cache_clear()


def _profile_settings(tmp_path, profile: dict[str, str], **env: str) -> Settings:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "config.json").write_text(json.dumps(profile))
    return Settings(env={"METAFLOW_HOME": str(home), **env})


@pytest.fixture
def ping_server():
    """``/ping`` answering like the service, remembering each request's ``x-api-key``."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append(self.headers.get("x-api-key"))
            body = b'"OK"'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("METADATA_SERVICE_VERSION", "2.4.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def test_the_provider_sends_the_key_the_profile_points_at(aws_env, tmp_path, ping_server):
    url, seen = ping_server
    arn = aws_env.client("secretsmanager").create_secret(
        Name="hw-dev/service/api-key", SecretString="k3y-from-secrets-manager")["ARN"]
    settings = _profile_settings(tmp_path, {
        "METAFLOW_DEFAULT_METADATA": "service", "METAFLOW_SERVICE_URL": url,
        "METAFLOW_SERVICE_AUTH_SECRET_ID": arn})
    ServiceMetadataProvider.from_settings(settings).version()
    assert seen == ["k3y-from-secrets-manager"]
    # The environment still wins (e.g. a CI job with its own key).
    settings = _profile_settings(tmp_path, {"METAFLOW_SERVICE_AUTH_SECRET_ID": arn},
                                 METAFLOW_SERVICE_AUTH_KEY="from-env")
    assert service_auth_key(settings) == "from-env"


def test_no_setting_means_no_key(tmp_path):
    assert service_auth_key(_profile_settings(tmp_path, {})) is None


def test_an_unreadable_secret_is_a_one_line_error_without_the_value(aws_env, tmp_path):
    missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hw-dev/service/gone-AbCdEf"
    settings = _profile_settings(tmp_path, {"METAFLOW_SERVICE_AUTH_SECRET_ID": missing})
    with pytest.raises(ConfigurationError) as raised:
        service_auth_key(settings)
    assert raised.value.message.startswith(f"cannot read the metadata service's API key from "
                                           f"{missing}: ")
    assert "\n" not in raised.value.message
    assert "METAFLOW_SERVICE_AUTH_KEY" in raised.value.fix


def test_a_malformed_location_names_the_setting(tmp_path):
    settings = _profile_settings(tmp_path, {"METAFLOW_SERVICE_AUTH_SECRET_ID": "my-key"})
    with pytest.raises(ConfigurationError, match="neither a Key Vault secret identifier"):
        service_auth_key(settings)


def test_key_vault_identifiers_the_stacks_emit_are_recognised():
    match = _KEY_VAULT.fullmatch(
        "https://hw-dev-jkt9ws.vault.azure.net/secrets/headwater-service-api-key")
    assert match.groups() == ("https://hw-dev-jkt9ws.vault.azure.net",
                              "headwater-service-api-key", None)
    assert _KEY_VAULT.fullmatch("https://evil.example.com/secrets/x") is None
