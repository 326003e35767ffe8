"""Azure credentials for Headwater and for user code: ``create_azure_credential()``.

    from azure.storage.blob import BlobServiceClient
    from headwater import create_azure_credential

    client = BlobServiceClient(endpoint, credential=create_azure_credential())

The credential is azure-identity's ``DefaultAzureCredential`` (environment variables,
workload identity, managed identity, Azure CLI, ...) behind a token cache: a token is reused
until ``REFRESH_MARGIN_SECONDS`` before it expires, so a slow source such as the Azure CLI
(0.5-1 s per token) is asked once per process and scope, not once per request or per client.
Every call with the same arguments returns the same object, so the datastore, the Key Vault
secrets backend and user code share one cache. Tokens are plain strings, so the cache
survives ``fork()``: task processes forked by the scheduler start with the scheduler's
tokens; the underlying credential (which holds HTTP sessions) is rebuilt in each process.

Azure SDK loggers are set to ERROR the first time Headwater touches Azure; set
``HEADWATER_AZURE_LOG_LEVEL`` (``DEBUG``, ``INFO``, ``WARNING``) to hear more.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo

#: Seconds before expiry at which a cached token is replaced (azure-core refreshes its
#: own per-client copy at the same margin, so the two never disagree).
REFRESH_MARGIN_SECONDS = 300

#: Environment variable that sets the level of the ``azure`` loggers (default ERROR).
LOG_LEVEL_VARIABLE = "HEADWATER_AZURE_LOG_LEVEL"


class _CachedToken(NamedTuple):
    token: str
    expires_on: int


class CachedTokenCredential:
    """A token credential that caches the tokens of another one until shortly before expiry.

    ``factory`` builds the underlying credential; it is called lazily, and again in a child
    process after ``fork()`` (credentials hold HTTP sessions that must not be shared between
    processes). Cached tokens are kept across ``fork()``. Thread-safe: concurrent requests
    for the same scope wait for one token request instead of all asking at once.
    """

    def __init__(self, factory: Callable[[], Any],
                 refresh_margin: float = REFRESH_MARGIN_SECONDS,
                 clock: Callable[[], float] = time.time):
        self._factory = factory
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._tokens: dict[tuple, _CachedToken] = {}
        self._inner: Any = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        #: How many tokens were requested from the underlying credential (for tests and
        #: ``headwater`` diagnostics; never the tokens themselves).
        self.fetch_count = 0

    def _check_process(self) -> None:
        # After fork(): the parent's lock may be held by a thread that does not exist
        # here, and its credential's sessions belong to the parent. Tokens stay valid.
        pid = os.getpid()
        if pid != self._pid:
            self._pid = pid
            self._lock = threading.Lock()
            self._inner = None

    def _credential(self) -> Any:
        if self._inner is None:
            self._inner = self._factory()
        return self._inner

    def _cached(self, key: tuple, fetch: Callable[[Any], _CachedToken]) -> _CachedToken:
        self._check_process()
        token = self._tokens.get(key)
        if token is not None and token.expires_on - self._refresh_margin > self._clock():
            return token
        with self._lock:
            token = self._tokens.get(key)  # another thread may have refreshed it meanwhile
            if token is None or token.expires_on - self._refresh_margin <= self._clock():
                token = fetch(self._credential())
                self.fetch_count += 1
                self._tokens[key] = token
            return token

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs: Any) -> "AccessToken":
        """An access token for ``scopes`` (the ``TokenCredential`` protocol)."""
        from azure.core.credentials import AccessToken

        if claims:
            # A claims challenge means the service rejected the cached token: ask afresh.
            token = self._credential().get_token(*scopes, claims=claims, tenant_id=tenant_id,
                                                 enable_cae=enable_cae, **kwargs)
            return token
        key = (scopes, tenant_id, enable_cae)

        def fetch(credential: Any) -> _CachedToken:
            got = credential.get_token(*scopes, tenant_id=tenant_id, enable_cae=enable_cae,
                                       **kwargs)
            return _CachedToken(got.token, int(got.expires_on))

        cached = self._cached(key, fetch)
        return AccessToken(cached.token, cached.expires_on)

    def get_token_info(self, *scopes: str, options: dict | None = None) -> "AccessTokenInfo":
        """An access token for ``scopes`` (the ``SupportsTokenInfo`` protocol, preferred by
        azure-core >= 1.31)."""
        from azure.core.credentials import AccessTokenInfo

        options = dict(options or {})
        if options.get("claims"):
            return self._credential().get_token_info(*scopes, options=options)
        key = (scopes, options.get("tenant_id"), bool(options.get("enable_cae")))

        def fetch(credential: Any) -> _CachedToken:
            if hasattr(credential, "get_token_info"):
                got = credential.get_token_info(*scopes, options=options or None)
            else:
                got = credential.get_token(*scopes, tenant_id=options.get("tenant_id"))
            return _CachedToken(got.token, int(got.expires_on))

        cached = self._cached(key, fetch)
        return AccessTokenInfo(cached.token, cached.expires_on)

    def clear(self) -> None:
        """Forget every cached token (the next request asks the credential again)."""
        with self._lock:
            self._tokens.clear()

    def close(self) -> None:
        """Close the underlying credential's sessions; cached tokens are kept."""
        inner, self._inner = self._inner, None
        if inner is not None and hasattr(inner, "close"):
            inner.close()

    def __enter__(self) -> "CachedTokenCredential":
        return self

    def __exit__(self, *exc: Any) -> None:
        # Shared instances outlive a ``with`` block; closing only drops HTTP sessions.
        self.close()

    def __repr__(self) -> str:
        return f"<CachedTokenCredential {len(self._tokens)} cached token(s)>"


_shared: dict[tuple, CachedTokenCredential] = {}
_shared_lock = threading.Lock()


def _reinit_shared_lock() -> None:
    # A thread of the parent may have held the lock at fork(); the child has no such thread.
    global _shared_lock
    _shared_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_shared_lock)


def create_azure_credential(**kwargs: Any) -> CachedTokenCredential:
    """The process-wide Azure credential: ``DefaultAzureCredential(**kwargs)`` with a token
    cache. Calls with the same keyword arguments return the same object.

    Which sources the chain tries can be narrowed without code changes with azure-identity's
    ``AZURE_TOKEN_CREDENTIALS`` (``dev``, ``prod`` or a credential name such as
    ``ManagedIdentityCredential``); keyword arguments (``managed_identity_client_id=...``,
    ``exclude_cli_credential=True``) are passed to ``DefaultAzureCredential``.
    """
    try:
        key = tuple(sorted(kwargs.items()))
        hash(key)
    except TypeError:
        raise ConfigurationError(
            "create_azure_credential() arguments must be hashable (strings, numbers, bools)",
            "pass only simple values; build DefaultAzureCredential yourself for anything else"
        ) from None
    with _shared_lock:
        credential = _shared.get(key)
        if credential is None:
            credential = CachedTokenCredential(lambda: _default_azure_credential(kwargs))
            _shared[key] = credential
    return credential


def _default_azure_credential(kwargs: dict[str, Any]) -> Any:
    quiet_azure_loggers()
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise ConfigurationError(
            "Azure support needs the azure-identity package",
            "pip install 'headwater[azure]'") from None
    return DefaultAzureCredential(**kwargs)


_LEVELS = {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}
_configured_level: str | None = None


def quiet_azure_loggers(env: Mapping[str, str] | None = None) -> None:
    """Set the ``azure`` loggers to ERROR, or to ``$HEADWATER_AZURE_LOG_LEVEL``.

    Only the parent ``azure`` logger is set, so a level a user sets on a child
    (``logging.getLogger("azure.identity").setLevel(logging.DEBUG)``) still wins.
    azure-core redacts ``Authorization`` headers from its HTTP logs, and Headwater never
    sends a connection string's key, so DEBUG logs hold no secret.
    """
    global _configured_level
    variables = os.environ if env is None else env
    wanted = (variables.get(LOG_LEVEL_VARIABLE) or "ERROR").strip().upper()
    if wanted not in _LEVELS:
        raise ConfigurationError(
            f"{LOG_LEVEL_VARIABLE}={wanted!r} is not a logging level",
            f"use one of {', '.join(sorted(_LEVELS))}")
    if wanted != _configured_level:
        logging.getLogger("azure").setLevel(wanted)
        _configured_level = wanted


__all__ = ["CachedTokenCredential", "create_azure_credential", "quiet_azure_loggers",
           "REFRESH_MARGIN_SECONDS"]
