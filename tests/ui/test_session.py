"""Session cookies of the UI login: signed, expiring, tied to a key that is still
accepted, and never carrying the key."""

from __future__ import annotations

from headwater_service.config import key_digest
from headwater_service.ui.session import SESSION_SECONDS, Sessions

KEYS = frozenset({key_digest("key-one"), key_digest("key-two")})


def test_a_valid_key_gets_a_cookie_that_does_not_contain_it():
    sessions = Sessions(KEYS, secret="s3cret")
    cookie = sessions.issue("key-one", now=1000.0)
    assert cookie is not None and sessions.valid(cookie, now=1001.0)
    assert "key-one" not in cookie and key_digest("key-one").hex() not in cookie
    assert sessions.issue("wrong", now=1000.0) is None


def test_a_tampered_or_expired_cookie_is_refused():
    sessions = Sessions(KEYS, secret="s3cret")
    cookie = sessions.issue("key-one", now=1000.0)
    version, expiry, key_id, signature = cookie.split(".")
    later = f"{version}.{int(expiry) + 10**6}.{key_id}.{signature}"
    assert not sessions.valid(later, now=1001.0)  # a longer life, not signed
    assert not sessions.valid(cookie[:-1] + ("0" if cookie[-1] != "0" else "1"), now=1001.0)
    assert not sessions.valid(cookie, now=1000.0 + SESSION_SECONDS + 1)
    assert not sessions.valid("", now=1001.0) and not sessions.valid("v1.x.y.z", now=1001.0)
    assert not Sessions(KEYS, secret="other").valid(cookie, now=1001.0)


def test_removing_a_key_ends_its_sessions():
    cookie = Sessions(KEYS, secret="s3cret").issue("key-one", now=1000.0)
    fewer = Sessions(frozenset({key_digest("key-two")}), secret="s3cret")
    assert not fewer.valid(cookie, now=1001.0)


def test_without_a_secret_it_is_derived_from_the_keys(monkeypatch):
    monkeypatch.delenv("HEADWATER_UI_SESSION_SECRET", raising=False)
    cookie = Sessions(KEYS).issue("key-two", now=1000.0)
    assert Sessions(KEYS).valid(cookie, now=1001.0)  # another worker, same keys
    changed = Sessions(KEYS | {key_digest("key-three")})
    assert not changed.valid(cookie, now=1001.0)
