"""The runtime side of the profile's ``METAFLOW_SERVICE_AUTH_SECRET_ID`` and
``METAFLOW_SERVICE_CA_CERT`` (issue 12, item 3): the service metadata provider reads the
API key from the secret store the profile names, and trusts the stack's own CA.

Secrets Manager is moto's server (a real HTTP API; boto3 unchanged); the key's arrival is
checked on the wire, at a stand-in for the service's ``/ping`` (a stdlib HTTP server that
records the request's ``x-api-key``; the real service's key check has its own tests). Key
Vault has no local emulator: only the recognition of its secret identifiers is checked
here, not the fetch.
"""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from headwater.exceptions import ConfigurationError, HeadwaterException
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
    yield from _ping_server(None)


def _ping_server(tls_cert):
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
    scheme = "http"
    if tls_cert is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_cert.cert, tls_cert.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{scheme}://127.0.0.1:{server.server_port}", seen
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


@pytest.fixture
def https_ping_server(tls_cert):
    """The same over TLS, with a certificate from a CA no system trusts (tls_cert fixture:
    self-signed, for 127.0.0.1), as a stack's own CA is."""
    yield from _ping_server(tls_cert)


def test_the_provider_trusts_the_ca_the_profile_carries(tmp_path, https_ping_server,
                                                        tls_cert):
    url, seen = https_ping_server
    profile = {"METAFLOW_SERVICE_URL": url, "METAFLOW_SERVICE_RETRY_COUNT": "1"}
    # Without the CA the certificate is refused: TLS is really checked.
    with pytest.raises(HeadwaterException):
        ServiceMetadataProvider.from_settings(_profile_settings(tmp_path, profile)).version()
    assert seen == []
    profile["METAFLOW_SERVICE_CA_CERT"] = tls_cert.cert.read_text()
    ServiceMetadataProvider.from_settings(_profile_settings(tmp_path, profile)).version()
    assert seen == [None]
