"""A local Key Vault for tests.

Azure Key Vault has no emulator, so ``key_vault`` is a small HTTPS server that follows the
Key Vault REST shapes the real ``azure-keyvault-secrets`` SDK uses: an unauthenticated
first request gets ``401`` with a ``WWW-Authenticate: Bearer authorization=..., resource=...``
challenge; ``GET /secrets/{name}[/{version}]?api-version=...`` with a bearer token whose
audience is ``https://vault.azure.net`` returns ``{"value", "id", "attributes"}``; unknown
secrets get ``404 SecretNotFound``, names in ``forbidden`` get ``403 Forbidden``. The SDK
must be told ``verify_challenge_resource=False`` because the vault is ``127.0.0.1``, not
``*.vault.azure.net``.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import ssl
import threading
from urllib.parse import urlsplit

import pytest

from ..fixtures.azurite import TENANT

AUDIENCE = "https://vault.azure.net"


class KeyVault:
    def __init__(self, server: http.server.ThreadingHTTPServer, cert: str):
        self.server = server
        self.url = f"https://127.0.0.1:{server.server_port}"
        self.cert = cert
        self.secrets: dict[str, dict[str, str]] = {}  # name -> version -> value
        self.forbidden: set[str] = set()
        self.requests: list[tuple[str, bool]] = []  # (path, had a valid token)

    def set(self, name: str, value: str, version: str = "0" * 32) -> None:
        self.secrets.setdefault(name, {})[version] = value

    def client_options(self) -> dict:
        return {"verify_challenge_resource": False, "connection_verify": self.cert}

    def reset(self) -> None:
        self.secrets.clear()
        self.forbidden.clear()
        self.requests.clear()


def _audience(header: str | None) -> str | None:
    if not header or not header.startswith("Bearer "):
        return None
    try:
        payload = header[len("Bearer "):].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims.get("aud")
    except (IndexError, ValueError):
        return None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    vault: KeyVault

    def _send(self, status: int, body: dict | None = None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        vault = self.vault
        parts = urlsplit(self.path)
        valid = _audience(self.headers.get("Authorization")) in (AUDIENCE, AUDIENCE + "/")
        vault.requests.append((parts.path, valid))
        if not valid:
            return self._send(401, {"error": {"code": "Unauthorized",
                                              "message": "AKV10000: Request is missing a "
                                                         "Bearer or PoP token."}},
                              {"WWW-Authenticate":
                               f'Bearer authorization="https://login.microsoftonline.com/'
                               f'{TENANT}", resource="{AUDIENCE}"'})
        match = re.fullmatch(r"/secrets/([^/]+)(?:/([^/]*))?/?", parts.path)
        if not match or "api-version=" not in (parts.query or ""):
            return self._send(400, {"error": {"code": "BadParameter", "message": "bad path"}})
        name, version = match.group(1), match.group(2) or None
        if name in vault.forbidden:
            return self._send(403, {"error": {"code": "Forbidden", "message":
                                              "The user does not have secrets get permission",
                                              "innererror": {"code": "AccessDenied"}}})
        versions = vault.secrets.get(name, {})
        if version is None and versions:
            version = sorted(versions)[-1]
        if version not in versions:
            return self._send(404, {"error": {"code": "SecretNotFound", "message":
                                              f"A secret with (name/id) {name} was not found "
                                              f"in this key vault."}})
        self._send(200, {"value": versions[version],
                         "id": f"{vault.url}/secrets/{name}/{version}",
                         "attributes": {"enabled": True, "created": 1700000000,
                                        "updated": 1700000000,
                                        "recoveryLevel": "Recoverable+Purgeable"}})

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def _key_vault_server(tls_cert):
    handler = type("Handler", (_Handler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls_cert.cert), str(tls_cert.key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    vault = KeyVault(server, str(tls_cert.cert))
    handler.vault = vault
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield vault
    server.shutdown()
    server.server_close()


@pytest.fixture
def key_vault(_key_vault_server):
    from azure.keyvault.secrets._shared import http_challenge_cache

    _key_vault_server.reset()
    # The SDK keeps the vault's auth challenge process-wide: each test starts, as a new
    # process would, with none (whichever file ran first on this worker).
    http_challenge_cache.clear()
    yield _key_vault_server
