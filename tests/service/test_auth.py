"""Optional API-key authentication: with keys configured, a request without a valid
``x-api-key`` gets a 401 and no data, reads or writes; probes stay open."""

from __future__ import annotations

import httpx
import psycopg
import pytest

KEYS = ("key-one-5c1d0b", "key-two-77a9e3")


@pytest.fixture(scope="module")
def locked(make_database, start_service, tmp_path_factory):
    """A service with two keys: one from the environment, one from a key file."""
    key_file = tmp_path_factory.mktemp("keys") / "keys.txt"
    key_file.write_text(f"\n{KEYS[1]}\n")
    return start_service(make_database(), api_keys=KEYS[:1],
                         env={"HEADWATER_SERVICE_API_KEYS_FILE": str(key_file)})


@pytest.mark.parametrize("headers", [{}, {"x-api-key": ""}, {"x-api-key": "wrong"},
                                     {"x-api-key": KEYS[0] + "x"},
                                     {"x-api-key": KEYS[0][:-1]},
                                     {"authorization": f"Bearer {KEYS[0]}"}])
def test_without_a_valid_key_every_data_route_is_a_401(locked, headers):
    with httpx.Client(base_url=locked.url, headers=headers) as api:
        for method, path in [("GET", "/flows"), ("GET", "/flows/F"), ("POST", "/flows/F"),
                             ("POST", "/flows/F/run"), ("GET", "/flows/F/runs/1/steps"),
                             ("GET", "/does/not/exist")]:
            resp = api.request(method, path, json={} if method == "POST" else None)
            assert resp.status_code == 401, f"{method} {path}: {resp.status_code}"
            body = resp.json()
            assert body["error"] == "unauthorized"
            assert "METAFLOW_SERVICE_AUTH_KEY" in body["message"]
            assert "flow_id" not in resp.text


def test_a_refused_write_stores_nothing(locked):
    with httpx.Client(base_url=locked.url) as api:
        assert api.post("/flows/Sneaky", json={}).status_code == 401
    with psycopg.connect(locked.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM flows").fetchone()[0] == 0


@pytest.mark.parametrize("key", KEYS)
def test_either_configured_key_works(locked, key):
    flow = f"Keyed{KEYS.index(key)}"
    with httpx.Client(base_url=locked.url, headers={"x-api-key": key}) as api:
        assert api.post(f"/flows/{flow}", json={}).status_code == 200
        assert api.get(f"/flows/{flow}").json()["flow_id"] == flow


def test_probes_and_the_api_document_need_no_key(locked):
    with httpx.Client(base_url=locked.url) as api:
        assert api.get("/ping").status_code == 200
        assert api.get("/ready").status_code == 200
        assert api.get("/healthcheck").status_code == 200
        doc = api.get("/openapi.json").json()
        assert doc["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"


def test_keys_never_reach_the_log(locked):
    with httpx.Client(base_url=locked.url, headers={"x-api-key": KEYS[0]}) as api:
        api.get("/flows")
    with httpx.Client(base_url=locked.url, headers={"x-api-key": "guess-123"}) as api:
        api.get("/flows")
    log = locked.log()
    assert "/flows" in log
    for secret in KEYS + ("guess-123",):
        assert secret not in log


def test_an_unreadable_key_file_stops_the_service_with_a_clear_error(tmp_path):
    from headwater_service.config import ConfigError, ServiceConfig

    with pytest.raises(ConfigError, match="cannot read HEADWATER_SERVICE_API_KEYS_FILE"):
        ServiceConfig.from_env({"HEADWATER_DATABASE_URL": "postgresql://x/y",
                                "HEADWATER_SERVICE_API_KEYS_FILE": str(tmp_path / "none")})
