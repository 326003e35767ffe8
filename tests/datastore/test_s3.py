"""The S3 backend: sysroot rules, settings, multipart transfers and errors, on moto server."""

from __future__ import annotations

import http.server
import os
import re
import threading

import pytest

from headwater.datastore import get_backend
from headwater.datastore.s3 import S3Backend, parse_s3_sysroot
from headwater.exceptions import (ConfigurationError, DataNotFound, DataStoreAuthError,
                                  DataStoreError, DataStoreThrottled)
from headwater.settings import Settings

from ..fixtures.azurite import free_port


@pytest.mark.parametrize("value, expected", [
    ("s3://my-bucket/metaflow", ("my-bucket", "metaflow")),
    ("s3://my-bucket", ("my-bucket", "")),
    ("s3://my-bucket/", ("my-bucket", "")),
    ("s3://my.bucket-1/a/b", ("my.bucket-1", "a/b")),
])
def test_valid_sysroots(value, expected):
    assert parse_s3_sysroot(value) == expected


@pytest.mark.parametrize("value, problem", [
    ("", "is empty"),
    ("my-bucket/metaflow", "must start with s3://"),
    ("https://my-bucket.s3.amazonaws.com/x", "must start with s3://"),
    ("s3:///metaflow", "has no bucket name"),
    ("s3://My_Bucket/x", "invalid bucket name 'My_Bucket'"),
    ("s3://ab/x", "invalid bucket name 'ab'"),
    ("s3://my..bucket/x", "invalid bucket name"),
    ("s3://192.168.1.1/x", "invalid bucket name"),
    ("s3://my-bucket/a//b", "consecutive slashes"),
])
def test_invalid_sysroots(value, problem):
    with pytest.raises(ConfigurationError, match=problem) as info:
        parse_s3_sysroot(value)
    assert f"METAFLOW_DATASTORE_SYSROOT_S3={value!r}" in info.value.message
    assert "s3://my-bucket/metaflow" in info.value.fix


def _settings(**env):
    return Settings(env={**os.environ, **env})


def test_from_settings_and_cards_root(aws_env, s3_bucket):
    env = {"METAFLOW_DEFAULT_DATASTORE": "s3",
           "METAFLOW_DATASTORE_SYSROOT_S3": f"s3://{s3_bucket}/metaflow",
           "METAFLOW_S3_ENDPOINT_URL": aws_env.endpoint_url}
    backend = get_backend(_settings(**env))
    assert isinstance(backend, S3Backend) and backend.root == f"s3://{s3_bucket}/metaflow"
    backend.put_bytes("F/x", b"artifact")
    assert aws_env.client("s3").get_object(
        Bucket=s3_bucket, Key="metaflow/F/x")["Body"].read() == b"artifact"
    assert S3Backend.for_cards(_settings(**env)).root == f"s3://{s3_bucket}/metaflow/mf.cards"
    cards = S3Backend.for_cards(_settings(**env, METAFLOW_CARD_S3ROOT=f"s3://{s3_bucket}/cards"))
    cards.put_bytes("F/card.html", b"<html>")
    assert backend.list("") == ["F/x"]
    with pytest.raises(ConfigurationError, match="METAFLOW_CARD_S3ROOT='cards'"):
        S3Backend.for_cards(_settings(**env, METAFLOW_CARD_S3ROOT="cards"))


def test_the_cards_root_is_checked_with_the_sysroot_before_the_run():
    # the run's datastore is built before the run is recorded: a bad card root stops it there
    with pytest.raises(ConfigurationError, match="METAFLOW_CARD_S3ROOT='cards' must start "
                                                 "with s3://"):
        get_backend(_settings(METAFLOW_DEFAULT_DATASTORE="s3",
                              METAFLOW_DATASTORE_SYSROOT_S3="s3://my-bucket/metaflow",
                              METAFLOW_CARD_S3ROOT="cards"))


def test_an_empty_sysroot_says_the_rule():
    with pytest.raises(ConfigurationError, match="METAFLOW_DATASTORE_SYSROOT_S3='' is empty: "
                                                 "the bucket name must not be empty"):
        get_backend(_settings(METAFLOW_DEFAULT_DATASTORE="s3", METAFLOW_DATASTORE_SYSROOT_S3=""))


def test_from_settings_needs_a_sysroot():
    with pytest.raises(ConfigurationError, match="METAFLOW_DATASTORE_SYSROOT_S3 is not set"):
        get_backend(Settings(env={"METAFLOW_DEFAULT_DATASTORE": "s3",
                                  "METAFLOW_HOME": os.environ["METAFLOW_HOME"]}))


def test_large_files_go_up_as_multipart(s3_backend, tmp_path):
    s3_backend.chunk_bytes = 5 << 20
    big = tmp_path / "big"
    big.write_bytes(os.urandom(21 << 20))
    s3_backend.put_file("big", str(big))
    s3_backend.put_bytes("small", b"x")
    head = s3_backend._client.head_object(Bucket=s3_backend.bucket, Key="root/prefix/big")
    assert head["ETag"].strip('"').endswith("-5")  # 5 parts of at most 5 MB
    small = s3_backend._client.head_object(Bucket=s3_backend.bucket, Key="root/prefix/small")
    assert "-" not in small["ETag"]
    with open(s3_backend.local_path("big"), "rb") as f, open(big, "rb") as g:
        assert f.read() == g.read()


def test_missing_bucket_names_it(aws_env):
    backend = S3Backend("no-such-bucket", endpoint_url=aws_env.endpoint_url)
    with pytest.raises(DataNotFound, match="bucket 'no-such-bucket' does not exist"):
        backend.put_bytes("k", b"x")


def test_no_credentials_is_an_auth_error(aws_env, s3_bucket, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    backend = S3Backend(s3_bucket, endpoint_url=aws_env.endpoint_url)
    with pytest.raises(DataStoreAuthError, match="no AWS credentials found") as info:
        backend.get_bytes("k")
    assert "AWS_PROFILE" in info.value.fix


def test_unreachable_endpoint(aws_env):
    from botocore.config import Config

    backend = S3Backend("my-bucket", endpoint_url=f"http://127.0.0.1:{free_port()}",
                        client_options={"config": Config(retries={"total_max_attempts": 1})})
    with pytest.raises(DataStoreError, match="cannot reach http://127.0.0.1"):
        backend.get_bytes("k")


class _Refusing(http.server.BaseHTTPRequestHandler):
    status = 403
    code = "AccessDenied"

    def _answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{self.code}</Code>"
                f"<Message>no</Message></Error>").encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status, code, error, text", [
    (403, "AccessDenied", DataStoreAuthError, "S3 refused access (403 AccessDenied)"),
    (403, "InvalidAccessKeyId", DataStoreAuthError, "S3 refused access"),
    (503, "SlowDown", DataStoreThrottled, "S3 is throttling requests (503 SlowDown)"),
])
def test_refusals_and_throttling(aws_env, status, code, error, text):
    """moto accepts every request, so a small local server answers the way S3 refuses or
    throttles (status and XML error code); the real botocore parses it."""
    from botocore.config import Config

    handler = type("Handler", (_Refusing,), {"status": status, "code": code})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        backend = S3Backend("my-bucket", endpoint_url=f"http://127.0.0.1:{server.server_port}",
                            client_options={"config": Config(retries={"total_max_attempts": 1},
                                                             s3={"addressing_style": "path"})})
        with pytest.raises(error, match=re.escape(text)):
            backend.put_bytes("k", b"x")
    finally:
        server.shutdown()
        server.server_close()


class _NoConditionalWrites(http.server.BaseHTTPRequestHandler):
    """An S3-compatible store that stores objects but answers conditional PUTs with
    501 NotImplemented, as stores without conditional-write support do."""

    protocol_version = "HTTP/1.1"
    objects: dict

    def _reply(self, status, body=b"", code=None):
        if code:
            body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                    f"<Message>x</Message></Error>").encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"e"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_PUT(self):
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("If-None-Match"):
            return self._reply(501, code="NotImplemented")
        self.objects[self.path] = data
        self._reply(200)

    def do_GET(self):
        if self.path in self.objects:
            return self._reply(200, self.objects[self.path])
        self._reply(404, code="NoSuchKey")

    def do_HEAD(self):
        self._reply(200 if self.path in self.objects else 404)

    def log_message(self, *args):
        pass


def test_stores_without_conditional_writes_check_then_write(aws_env):
    handler = type("Handler", (_NoConditionalWrites,), {"objects": {}})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        backend = S3Backend("my-bucket", endpoint_url=f"http://127.0.0.1:{server.server_port}")
        backend.put_bytes("F/data/ab/abc", b"first", overwrite=False)
        backend.put_bytes("F/data/ab/abc", b"second", overwrite=False)
        assert backend.get_bytes("F/data/ab/abc") == b"first"
        backend.put_bytes("F/data/ab/abc", b"third")  # overwrite=True sends no condition
        assert backend.get_bytes("F/data/ab/abc") == b"third"
    finally:
        server.shutdown()
        server.server_close()
