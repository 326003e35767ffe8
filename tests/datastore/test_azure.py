"""The Azure Blob backend: sysroot rules, settings, errors, logging and the credential path,
against Azurite (shared key over HTTP; bearer tokens over HTTPS with ``--oauth basic``)."""

from __future__ import annotations

import http.server
import json
import logging
import os
import threading

import pytest

from headwater.datastore import get_backend
from headwater.datastore.azure import AzureBlobBackend, parse_azure_sysroot
from headwater.exceptions import (ConfigurationError, DataNotFound, DataStoreAuthError,
                                  DataStoreError, DataStoreThrottled)
from headwater.settings import Settings

from ..fixtures.azurite import ACCOUNT_KEY, free_port

WRONG_KEY = "d3Jvbmcta2V5LXRoYXQtaXMtbm90LWF6dXJpdGVzLWRldmVsb3BtZW50LWtleQ=="


# --- sysroot rules ------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("metaflow-prod/artifacts", ("metaflow-prod", "artifacts")),  # the document's examples
    ("metaflow-prod", ("metaflow-prod", "")),
    ("metaflow-dev/artifacts", ("metaflow-dev", "artifacts")),
    ("abc/a/b/c", ("abc", "a/b/c")),
    ("a" * 63, ("a" * 63, "")),
    ("0team-1/x", ("0team-1", "x")),
])
def test_valid_sysroots(value, expected):
    assert parse_azure_sysroot(value) == expected


@pytest.mark.parametrize("value, problem, suggestion", [
    # The document's invalid examples, each with the fix it should suggest.
    ("/metaflow-prod/artifacts", "starts with '/'", "metaflow-prod/artifacts"),
    ("metaflow-prod/artifacts/", "ends with '/'", "metaflow-prod/artifacts"),
    ("metaflow//artifacts", "consecutive slashes", "metaflow/artifacts"),
    # Its rule "container name must not be empty", and Azure's container naming rules.
    ("", "container name must not be empty", None),
    ("/artifacts", "starts with '/'", "artifacts"),
    ("Metaflow-Prod/artifacts", "invalid container name 'Metaflow-Prod'", None),
    ("ab/artifacts", "invalid container name 'ab'", None),
    ("a" * 64, "invalid container name", None),
    ("-prod/x", "invalid container name '-prod'", None),
    ("prod-/x", "invalid container name 'prod-'", None),
    ("pro--d/x", "invalid container name 'pro--d'", None),
    ("my_container/x", "invalid container name 'my_container'", None),
    ("https://acct.blob.core.windows.net/c/p", "must not be a URL", None),
    (" metaflow-prod", "spaces", None),
])
def test_invalid_sysroots_say_what_is_wrong_and_show_a_valid_value(value, problem, suggestion):
    with pytest.raises(ConfigurationError) as info:
        parse_azure_sysroot(value)
    err = info.value
    assert f"METAFLOW_DATASTORE_SYSROOT_AZURE={value!r}" in err.message  # the bad value
    assert problem in err.message
    if suggestion:
        assert f"METAFLOW_DATASTORE_SYSROOT_AZURE={suggestion}" in err.fix
        parse_azure_sysroot(suggestion)  # the suggestion is itself valid
    else:
        assert "METAFLOW_DATASTORE_SYSROOT_AZURE=metaflow-prod/artifacts" in err.fix


# --- settings -----------------------------------------------------------------------------

def _settings(**env):
    return Settings(env={"METAFLOW_HOME": os.environ["METAFLOW_HOME"], **env})


def test_from_settings_needs_a_sysroot():
    with pytest.raises(ConfigurationError, match="METAFLOW_DATASTORE_SYSROOT_AZURE is not set"):
        get_backend(_settings(METAFLOW_DEFAULT_DATASTORE="azure"))


def test_from_settings_rejects_a_bad_sysroot_before_any_request():
    with pytest.raises(ConfigurationError, match="ends with '/'"):
        get_backend(_settings(METAFLOW_DEFAULT_DATASTORE="azure",
                              METAFLOW_DATASTORE_SYSROOT_AZURE="metaflow-prod/artifacts/",
                              METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT="https://a.blob.x"))


def test_the_cards_root_is_checked_with_the_sysroot_before_the_run():
    with pytest.raises(ConfigurationError, match="METAFLOW_CARD_AZUREROOT='/cards' starts with"):
        get_backend(_settings(METAFLOW_DEFAULT_DATASTORE="azure",
                              METAFLOW_DATASTORE_SYSROOT_AZURE="metaflow-prod/artifacts",
                              METAFLOW_CARD_AZUREROOT="/cards",
                              METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT="https://a.blob.x"))


def test_an_empty_sysroot_says_the_rule():
    # as the Azure guide words it: the container name must not be empty
    for env in ({"METAFLOW_DATASTORE_SYSROOT_AZURE": ""},
                {"METAFLOW_DATASTORE_SYSROOT_AZURE": "metaflow-prod",
                 "METAFLOW_CARD_AZUREROOT": "  "}):
        with pytest.raises(ConfigurationError, match="is empty: the container name must not "
                                                     "be empty"):
            get_backend(_settings(METAFLOW_DEFAULT_DATASTORE="azure",
                                  METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT="https://a.blob.x",
                                  **env))


def test_from_settings_needs_an_endpoint_or_connection_string():
    with pytest.raises(ConfigurationError) as info:
        get_backend(_settings(METAFLOW_DEFAULT_DATASTORE="azure",
                              METAFLOW_DATASTORE_SYSROOT_AZURE="metaflow-prod/artifacts"))
    assert "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT" in info.value.fix


@pytest.mark.parametrize("endpoint, problem", [
    ("mystorageaccount.blob.core.windows.net", "is not a URL"),
    ("https://acct.blob.core.windows.net/?sv=2024&sig=SECRETSIG", "query string"),
])
def test_bad_endpoints(endpoint, problem):
    with pytest.raises(ConfigurationError, match=problem) as info:
        get_backend(_settings(METAFLOW_DEFAULT_DATASTORE="azure",
                              METAFLOW_DATASTORE_SYSROOT_AZURE="metaflow-prod",
                              METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT=endpoint))
    assert "SECRETSIG" not in str(info.value)


def test_an_http_endpoint_without_a_connection_string_is_refused_before_the_run(
        azurite, azure_container, run_flow, write_flow, hw_env):
    # The default credential sends bearer tokens, which the SDK refuses over plain HTTP
    # (Azurite, a proxy); that must be one clear line before any run is recorded.
    flow = write_flow("""
        from headwater import FlowSpec, step

        class HttpFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            HttpFlow()
    """)
    proc = run_flow(flow, "run", check=False, env={
        "METAFLOW_DEFAULT_DATASTORE": "azure",
        "METAFLOW_DATASTORE_SYSROOT_AZURE": f"{azure_container}/artifacts",
        "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT": azurite.endpoint})
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "Token credential" not in proc.stderr
    assert f"METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT={azurite.endpoint!r} uses http://" \
        in proc.stderr
    assert "METAFLOW_AZURE_STORAGE_CONNECTION_STRING" in proc.stderr and "https://" in proc.stderr
    assert not (hw_env / "HttpFlow").exists()  # no run record was created
    container = azurite.service().get_container_client(azure_container)
    assert list(container.list_blobs()) == []


def test_an_http_endpoint_works_with_an_explicit_key_credential(azurite, azure_container):
    from azure.core.credentials import AzureNamedKeyCredential

    settings = _settings(METAFLOW_DEFAULT_DATASTORE="azure",
                         METAFLOW_DATASTORE_SYSROOT_AZURE=azure_container,
                         METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT=azurite.endpoint)
    backend = AzureBlobBackend.from_settings(
        settings, credential=AzureNamedKeyCredential("devstoreaccount1", ACCOUNT_KEY))
    backend.put_bytes("k", b"v")
    assert backend.get_bytes("k") == b"v"


def test_a_connection_string_in_a_profile_is_ignored(tmp_path, azurite, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text(json.dumps({
        "METAFLOW_DATASTORE_SYSROOT_AZURE": "metaflow-prod",
        "METAFLOW_AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}))
    settings = Settings(env={"METAFLOW_HOME": str(home)})
    with pytest.raises(ConfigurationError, match="needs a blob service endpoint"):
        AzureBlobBackend.from_settings(settings)
    assert "ignoring METAFLOW_AZURE_STORAGE_CONNECTION_STRING" in capsys.readouterr().err


@pytest.mark.slow
def test_a_malformed_connection_string_is_not_echoed():
    secret = "AccountKey=TOPSECRETKEY"
    backend = get_backend(_settings(METAFLOW_DEFAULT_DATASTORE="azure",
                                    METAFLOW_DATASTORE_SYSROOT_AZURE="metaflow-prod",
                                    METAFLOW_AZURE_STORAGE_CONNECTION_STRING=secret))
    assert "TOPSECRETKEY" not in repr(backend)
    with pytest.raises(ConfigurationError, match="not a valid Azure Storage connection") as info:
        backend.get_bytes("k")
    assert "TOPSECRETKEY" not in str(info.value)


def test_settings_select_the_backend_and_cards_root(azurite, azure_container):
    env = {"METAFLOW_DEFAULT_DATASTORE": "azure",
           "METAFLOW_DATASTORE_SYSROOT_AZURE": f"{azure_container}/artifacts",
           "METAFLOW_AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    backend = get_backend(_settings(**env))
    assert isinstance(backend, AzureBlobBackend) and backend.root == f"{azure_container}/artifacts"
    backend.put_bytes("F/x", b"artifact")

    cards = AzureBlobBackend.for_cards(_settings(**env))
    assert cards.root == f"{azure_container}/artifacts/mf.cards"
    cards = AzureBlobBackend.for_cards(_settings(**env, METAFLOW_CARD_AZUREROOT=f"{azure_container}/cards"))
    assert cards.root == f"{azure_container}/cards"
    cards.put_bytes("F/card.html", b"<html>")
    assert sorted(backend.list("")) == ["F/x"]  # cards do not mix with artifacts
    with pytest.raises(ConfigurationError, match="METAFLOW_CARD_AZUREROOT='cards/'"):
        AzureBlobBackend.for_cards(_settings(**env, METAFLOW_CARD_AZUREROOT="cards/"))


# --- errors from the service --------------------------------------------------------------

def test_wrong_account_key_is_an_auth_error_without_the_key(azurite, azure_container):
    bad = azurite.connection_string.replace(ACCOUNT_KEY, WRONG_KEY)
    backend = AzureBlobBackend(azure_container, connection_string=bad)
    with pytest.raises(DataStoreAuthError) as info:
        backend.put_bytes("k", b"x")
    text = str(info.value)
    assert "rejected the credentials (403" in text
    assert "AccountKey" in info.value.fix
    assert WRONG_KEY not in text and WRONG_KEY[:20] not in text


def test_missing_container_names_it(azurite):
    backend = AzureBlobBackend("no-such-container", "p", connection_string=azurite.connection_string)
    with pytest.raises(DataNotFound, match="container 'no-such-container' does not exist"):
        backend.put_bytes("k", b"x")
    with pytest.raises(DataNotFound, match="container 'no-such-container' does not exist"):
        backend.delete("k")


def test_unreachable_endpoint():
    backend = AzureBlobBackend(
        "metaflow-prod", client_options={"retry_total": 0},
        connection_string=f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                          f"AccountKey={ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:{free_port()}/x;")
    with pytest.raises(DataStoreError, match="cannot reach http://127.0.0.1"):
        backend.get_bytes("k")


class _Throttling(http.server.BaseHTTPRequestHandler):
    """Answers every request like a throttled storage account."""

    status = 503

    def _answer(self):
        body = (b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
                b'<Message>Egress is over the account limit.</Message></Error>')
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(self.status)
        self.send_header("x-ms-error-code", "ServerBusy")
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status", [503, 429])
def test_throttling_is_reported_as_such(status):
    """Azurite never throttles, so a small local server answers like a busy account
    (status plus ``x-ms-error-code: ServerBusy``); the real SDK parses it."""
    handler = type("Handler", (_Throttling,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        backend = AzureBlobBackend(
            "metaflow-prod", client_options={"retry_total": 0},
            connection_string=f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                              f"AccountKey={ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:"
                              f"{server.server_address[1]}/devstoreaccount1;")
        with pytest.raises(DataStoreThrottled, match="throttling requests") as info:
            backend.put_bytes("k", b"x")
        assert "retry later" in info.value.fix
    finally:
        server.shutdown()
        server.server_close()


# --- chunking -----------------------------------------------------------------------------

def test_large_uploads_are_committed_as_blocks_and_small_ones_in_one_put(azure_backend, tmp_path):
    azure_backend.chunk_bytes = 5 << 20
    big = tmp_path / "big"
    big.write_bytes(os.urandom(22 << 20))
    azure_backend.put_file("big", str(big))
    azure_backend.put_bytes("small", b"x" * 1000)
    blob = azure_backend.clients.get_blob_client("root/prefix/big")
    committed, _ = blob.get_block_list("committed")
    assert len(committed) == 5 and all(b.size <= 5 << 20 for b in committed)
    small, _ = azure_backend.clients.get_blob_client("root/prefix/small").get_block_list()
    assert small == []  # a single Put Blob has no block list


# --- logging ------------------------------------------------------------------------------

def test_azure_loggers_are_quiet_by_default_and_louder_on_request(azure_backend, monkeypatch,
                                                                   caplog):
    import headwater.azure_credential as cred

    monkeypatch.setattr(cred, "_configured_level", None)
    azure_backend.put_bytes("k", b"x")
    assert logging.getLogger("azure").level == logging.ERROR

    monkeypatch.setenv("HEADWATER_AZURE_LOG_LEVEL", "debug")
    loud = AzureBlobBackend(azure_backend.container, "loud",
                            connection_string=azure_backend._connection_string)
    with caplog.at_level(logging.DEBUG):
        loud.put_bytes("k", b"x")
    assert logging.getLogger("azure").level == logging.DEBUG
    http_logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("azure"))
    assert "Request URL" in http_logs  # the SDK's HTTP logging is on
    assert ACCOUNT_KEY not in http_logs and "SharedKey devstoreaccount1:" not in http_logs
    monkeypatch.setenv("HEADWATER_AZURE_LOG_LEVEL", "ERROR")
    cred.quiet_azure_loggers()


def test_a_bad_log_level_is_a_configuration_error(monkeypatch):
    from headwater.azure_credential import quiet_azure_loggers

    with pytest.raises(ConfigurationError, match="HEADWATER_AZURE_LOG_LEVEL='LOUD'"):
        quiet_azure_loggers({"HEADWATER_AZURE_LOG_LEVEL": "loud"})


# --- DefaultAzureCredential against Azurite with OAuth --------------------------------------

@pytest.fixture
def oauth_settings(azurite_oauth, tls_cert, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_cert.cert))
    service = azurite_oauth.service(connection_verify=str(tls_cert.cert))
    name = f"oauth-{os.urandom(6).hex()}"
    service.create_container(name)
    return Settings(env={**os.environ,
                         "METAFLOW_DEFAULT_DATASTORE": "azure",
                         "METAFLOW_DATASTORE_SYSROOT_AZURE": f"{name}/artifacts",
                         "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT": azurite_oauth.endpoint})


def test_default_credential_asks_the_cli_once_per_process(oauth_settings, fake_az):
    first = get_backend(oauth_settings)
    first.put_many([(f"F/data/{i}", b"x") for i in range(20)])
    second = get_backend(oauth_settings)  # a new client: the token comes from the cache
    assert dict(second.get_many(f"F/data/{i}" for i in range(20)))["F/data/3"] == b"x"
    assert len(fake_az.calls) == 1
    assert "--resource https://storage.azure.com" in fake_az.calls[0]

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # a task process: rebuilt clients, inherited token
        code = 1
        try:
            second.put_bytes("F/child", b"c")
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert first.get_bytes("F/child") == b"c"
    assert len(fake_az.calls) == 1


def test_a_token_near_expiry_is_refreshed(oauth_settings, fake_az):
    fake_az.configure(lifetime=200)  # valid, but inside the 300 s refresh margin
    backend = get_backend(oauth_settings)
    backend.put_bytes("a", b"1")
    backend.put_bytes("b", b"2")
    assert len(fake_az.calls) == 2


def test_signed_out_cli_is_an_auth_error_saying_what_to_do(oauth_settings, fake_az):
    fake_az.configure(fail=True)
    with pytest.raises(DataStoreAuthError) as info:
        get_backend(oauth_settings).get_bytes("k")
    assert len(fake_az.calls) == 1, "credential failures must not be retried (15 s back-offs)"
    assert "no Azure credential could get a token" in info.value.message
    assert "az login" in str(info.value)


def test_an_untrusted_certificate_says_so(oauth_settings, fake_az, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    backend = AzureBlobBackend.from_settings(oauth_settings, client_options={"retry_total": 0})
    with pytest.raises(DataStoreError, match="TLS certificate .* is not trusted") as info:
        backend.get_bytes("k")
    assert "REQUESTS_CA_BUNDLE" in info.value.fix


def test_a_token_for_the_wrong_audience_is_rejected(oauth_settings, fake_az):
    fake_az.configure(audience="https://vault.azure.net")
    with pytest.raises(DataStoreAuthError, match="rejected the credentials") as info:
        get_backend(oauth_settings).put_bytes("k", b"x")
    assert "eyJ" not in str(info.value)  # no token in the message


# --- proxies ------------------------------------------------------------------------------

class _ForwardProxy(http.server.BaseHTTPRequestHandler):
    """A plain HTTP forward proxy (absolute-URI requests), counting what it forwards."""

    protocol_version = "HTTP/1.1"
    seen: list

    def _forward(self):
        import http.client
        from urllib.parse import urlsplit

        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
        upstream.request(self.command, url.path + (f"?{url.query}" if url.query else ""),
                         body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        self.seen.append(self.command)
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_PUT = do_HEAD = do_DELETE = _forward

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("no_proxy, through_proxy", [("", True), ("127.0.0.1", False)])
def test_proxy_variables_are_honoured(azurite, azure_container, monkeypatch, no_proxy,
                                      through_proxy):
    """The environment is read once per client (not per request), with the same meaning:
    HTTP_PROXY is used unless NO_PROXY covers the endpoint."""
    handler = type("Proxy", (_ForwardProxy,), {"seen": []})
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
        monkeypatch.setenv("NO_PROXY", no_proxy)
        backend = AzureBlobBackend(azure_container, connection_string=azurite.connection_string)
        backend.put_bytes("via", b"proxy?")
        assert backend.get_bytes("via") == b"proxy?"
        assert (handler.seen == ["PUT", "GET"]) == through_proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
