"""Login for the UI when the service has API keys: a key is exchanged for a signed session
cookie (HttpOnly, SameSite=Strict, Path=/ui, Secure over HTTPS); the key itself is never
stored in the cookie or sent to a page.

Cookie value: ``v1.<expiry>.<key id>.<HMAC-SHA256 signature>``. The key id is a hash of the
key's digest, so removing a key from ``HEADWATER_SERVICE_API_KEYS`` ends its sessions. The
signing secret is ``HEADWATER_UI_SESSION_SECRET`` (shared by every worker and replica); when
it is unset it is derived from the accepted keys' digests, so sessions end when the key set
changes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time

from ..config import key_digest

COOKIE_NAME = "hw_ui_session"
SECRET_ENV = "HEADWATER_UI_SESSION_SECRET"
SESSION_SECONDS = 12 * 3600


def _key_id(digest: bytes) -> str:
    return hashlib.sha256(b"headwater-ui-key-id:" + digest).hexdigest()[:16]


class Sessions:
    """Issues and checks session cookies for one set of accepted API keys."""

    def __init__(self, key_digests: frozenset[bytes], secret: str | None = None):
        self.key_digests = key_digests
        self.key_ids = frozenset(_key_id(d) for d in key_digests)
        secret = secret if secret is not None else os.environ.get(SECRET_ENV, "")
        if secret:
            self._secret = hashlib.sha256(secret.encode("utf-8")).digest()
        else:
            self._secret = hmac.new(b"headwater-ui-session", b"".join(sorted(key_digests)),
                                    hashlib.sha256).digest()

    @property
    def required(self) -> bool:
        return bool(self.key_digests)

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, key: str, now: float | None = None) -> str | None:
        """A cookie value for a valid key, else ``None``."""
        digest = key_digest(key)
        if digest not in self.key_digests:
            return None
        expiry = int((now or time.time()) + SESSION_SECONDS)
        payload = f"v1.{expiry}.{_key_id(digest)}"
        return f"{payload}.{self._sign(payload)}"

    def valid(self, cookie: str | None, now: float | None = None) -> bool:
        if not cookie:
            return False
        parts = cookie.split(".")
        if len(parts) != 4 or parts[0] != "v1" or not parts[1].isdigit():
            return False
        payload = ".".join(parts[:3])
        if not hmac.compare_digest(self._sign(payload), parts[3]):
            return False
        return int(parts[1]) > (now or time.time()) and parts[2] in self.key_ids
