"""The token cache behind ``create_azure_credential()``.

The underlying credential here is a small stand-in that counts requests and issues tokens
with chosen lifetimes, driven by a fake clock, so refresh timing can be checked exactly.
The real chain (DefaultAzureCredential -> AzureCliCredential -> Azurite) is exercised in
``test_azure.py``.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from headwater.azure_credential import CachedTokenCredential, create_azure_credential
from headwater.exceptions import ConfigurationError


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


class CountingCredential:
    """Issues ``token-<n>`` valid for ``lifetime`` seconds of ``clock``."""

    def __init__(self, clock, lifetime=3600, delay=0.0):
        self.clock = clock
        self.lifetime = lifetime
        self.delay = delay
        self.requests = []

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        time.sleep(self.delay)
        self.requests.append(scopes)
        return AccessToken(f"token-{len(self.requests)}", int(self.clock() + self.lifetime))

    def get_token_info(self, *scopes, options=None):
        from azure.core.credentials import AccessTokenInfo

        token = self.get_token(*scopes)
        return AccessTokenInfo(token.token, token.expires_on)


@pytest.fixture
def clock():
    return Clock()


def test_tokens_are_reused_until_the_refresh_margin(clock):
    inner = CountingCredential(clock, lifetime=3600)
    cred = CachedTokenCredential(lambda: inner, refresh_margin=300, clock=clock)
    assert cred.get_token("https://storage.azure.com/.default").token == "token-1"
    clock.now += 3600 - 301
    assert cred.get_token("https://storage.azure.com/.default").token == "token-1"
    assert cred.get_token_info("https://storage.azure.com/.default").token == "token-1"
    clock.now += 1  # 300 s before expiry: replaced before it can fail a request
    assert cred.get_token("https://storage.azure.com/.default").token == "token-2"
    assert len(inner.requests) == 2 and cred.fetch_count == 2


def test_each_scope_has_its_own_token(clock):
    inner = CountingCredential(clock)
    cred = CachedTokenCredential(lambda: inner, clock=clock)
    storage = cred.get_token("https://storage.azure.com/.default").token
    vault = cred.get_token_info("https://vault.azure.net/.default").token
    assert storage != vault
    assert cred.get_token("https://vault.azure.net/.default").token == vault
    assert len(inner.requests) == 2


def test_a_claims_challenge_bypasses_the_cache(clock):
    inner = CountingCredential(clock)
    cred = CachedTokenCredential(lambda: inner, clock=clock)
    cred.get_token("s")
    assert cred.get_token("s", claims='{"access_token": {}}').token == "token-2"
    assert cred.get_token_info("s", options={"claims": "{}"}).token == "token-3"
    assert cred.get_token("s").token == "token-1"


def test_concurrent_requests_share_one_slow_fetch(clock):
    inner = CountingCredential(clock, delay=0.2)  # like the Azure CLI: slow
    cred = CachedTokenCredential(lambda: inner, clock=clock)
    tokens = []
    threads = [threading.Thread(target=lambda: tokens.append(cred.get_token("s").token))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tokens == ["token-1"] * 8 and len(inner.requests) == 1


def test_after_fork_the_credential_is_rebuilt_and_tokens_are_kept(clock):
    built = []

    def factory():
        built.append(os.getpid())
        return CountingCredential(clock)

    cred = CachedTokenCredential(factory, clock=clock)
    cred.get_token("cached")
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            report = {"cached": cred.get_token("cached").token,
                      "fresh": cred.get_token("other").token,
                      "built_in_child": built[-1] == os.getpid()}
            os.write(write_fd, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    report = json.loads(os.read(read_fd, 4096))
    os.close(read_fd)
    # The child asked its own new credential, once, only for the scope it lacked.
    assert report == {"cached": "token-1", "fresh": "token-1", "built_in_child": True}
    assert built == [os.getpid()]


def test_create_azure_credential_is_shared_per_arguments(monkeypatch):
    monkeypatch.setattr("headwater.azure_credential._shared", {})
    assert create_azure_credential() is create_azure_credential()
    assert create_azure_credential(exclude_cli_credential=True) is not create_azure_credential()
    with pytest.raises(ConfigurationError, match="hashable"):
        create_azure_credential(additionally_allowed_tenants=["*"])


def test_the_default_chain_is_defaultazurecredential(monkeypatch):
    from azure.identity import DefaultAzureCredential

    monkeypatch.setattr("headwater.azure_credential._shared", {})
    cred = create_azure_credential()
    assert isinstance(cred._credential(), DefaultAzureCredential)
    import headwater

    assert headwater.create_azure_credential is create_azure_credential
