"""The service's settings, read from the environment (the CLI's options set the same
variables, so every uvicorn worker process sees one configuration).

| variable | meaning | default |
|---|---|---|
| ``HEADWATER_DATABASE_URL`` | Postgres URL (``postgresql://user@host:5432/db``) | required |
| ``HEADWATER_SERVICE_API_KEYS`` | accepted ``x-api-key`` values, comma separated | none: no auth |
| ``HEADWATER_SERVICE_API_KEYS_FILE`` | a file with one accepted key per line | |
| ``HEADWATER_SERVICE_API_KEYS_SECRET_ID`` | a Key Vault secret identifier or Secrets Manager ARN holding accepted keys (comma or line separated), read at start (``secret_store.py``) | |
| ``HEADWATER_SERVICE_MAX_BODY_BYTES`` | largest request body accepted | 4 MiB |
| ``HEADWATER_SERVICE_POOL_SIZE`` | Postgres connections per worker process | 8 |
| ``HEADWATER_SERVICE_POOL_TIMEOUT`` | seconds to wait for a connection before a 503 | 3 |
| ``HEADWATER_SERVICE_STATEMENT_TIMEOUT_MS`` | longest SQL statement before a 503 | 15000 |
| ``HEADWATER_SERVICE_ACCESS_LOG`` | ``0`` turns the per-request JSON log line off | on |
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Mapping

DATABASE_URL_ENV = "HEADWATER_DATABASE_URL"
API_KEYS_ENV = "HEADWATER_SERVICE_API_KEYS"
API_KEYS_FILE_ENV = "HEADWATER_SERVICE_API_KEYS_FILE"
API_KEYS_SECRET_ENV = "HEADWATER_SERVICE_API_KEYS_SECRET_ID"


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


def redact_url(url: str) -> str:
    """The URL with any password replaced, fit for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def key_digest(key: str) -> bytes:
    """Keys are held and compared as SHA-256 digests: equal length, constant-time compare."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class ServiceConfig:
    """Everything one service process needs to know."""

    database_url: str
    api_key_digests: frozenset[bytes] = field(default=frozenset(), repr=False)
    max_body_bytes: int = 4 * 1024 * 1024
    pool_size: int = 8
    pool_timeout: float = 3.0
    statement_timeout_ms: int = 15000
    access_log: bool = True

    @property
    def auth_required(self) -> bool:
        return bool(self.api_key_digests)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ServiceConfig":
        env = os.environ if env is None else env
        url = env.get(DATABASE_URL_ENV, "").strip()
        if not url:
            raise ConfigError(f"no database URL: pass --database-url or set {DATABASE_URL_ENV} "
                              f"(e.g. postgresql://user@host:5432/headwater)")
        keys = [k.strip() for k in env.get(API_KEYS_ENV, "").split(",") if k.strip()]
        key_file = env.get(API_KEYS_FILE_ENV, "").strip()
        if key_file:
            try:
                with open(key_file, encoding="utf-8") as f:
                    keys += [line.strip() for line in f if line.strip()]
            except OSError as exc:
                raise ConfigError(f"cannot read {API_KEYS_FILE_ENV} file {key_file}: "
                                  f"{exc.strerror}") from None
        key_secret = env.get(API_KEYS_SECRET_ENV, "").strip()
        if key_secret:
            from .secret_store import read_secret

            keys += [k.strip() for k in re.split(r"[,\n]", read_secret(API_KEYS_SECRET_ENV,
                                                                        key_secret))
                     if k.strip()]
        pool_timeout = env.get("HEADWATER_SERVICE_POOL_TIMEOUT")
        try:
            timeout = float(pool_timeout) if pool_timeout else 3.0
        except ValueError:
            raise ConfigError(f"HEADWATER_SERVICE_POOL_TIMEOUT={pool_timeout!r} is not a "
                              f"number of seconds") from None
        return cls(
            database_url=url,
            api_key_digests=frozenset(key_digest(k) for k in keys),
            max_body_bytes=_int(env, "HEADWATER_SERVICE_MAX_BODY_BYTES", 4 * 1024 * 1024),
            pool_size=_int(env, "HEADWATER_SERVICE_POOL_SIZE", 8),
            pool_timeout=timeout,
            statement_timeout_ms=_int(env, "HEADWATER_SERVICE_STATEMENT_TIMEOUT_MS", 15000),
            access_log=env.get("HEADWATER_SERVICE_ACCESS_LOG", "1").strip().lower()
            not in ("0", "false", "no", "off"),
        )
