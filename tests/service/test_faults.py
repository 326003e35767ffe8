"""Postgres failing under a running service: requests fail cleanly (503 with a JSON body,
never a 500 or a hang) while it is down, and the service recovers without a restart.

Two real faults: the service's connections killed with ``pg_terminate_backend`` (what a
Postgres restart or failover does to them), and a Postgres server this test owns (from the
``pgserver`` wheel) stopped and started again under the service.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from headwater_service import migrations

from ..fixtures.postgres import database_url


def kill_service_connections(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return len(conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'headwater-service'"
        ).fetchall())


def test_killed_connections_are_replaced_without_failing_reads(make_database, start_service):
    url = make_database(own_database=True)  # its connections are all this service's
    service = start_service(url, env={"HEADWATER_SERVICE_POOL_TIMEOUT": "2"})
    with httpx.Client(base_url=service.url, timeout=20) as api:
        assert api.post("/flows/Survivor", json={}).status_code == 200
        run = api.post("/flows/Survivor/run", json={}).json()["run_number"]
        assert kill_service_connections(url) >= 1

        # reads are retried on a fresh connection once the pool has been checked
        first = api.get(f"/flows/Survivor/runs/{run}")
        assert first.status_code == 200 and first.json()["run_number"] == run
        statuses = []
        for i in range(20):
            resp = api.post("/flows/Survivor/run", json={}) if i % 2 else api.get("/flows")
            assert resp.headers["content-type"].startswith("application/json")
            statuses.append(resp.status_code)
        assert set(statuses) <= {200, 503}, statuses
        assert statuses[-5:] == [200] * 5, statuses

        kill_service_connections(url)
        write = api.post("/flows/Survivor/run", json={})
        # a write is not resent blindly (it might have run): at worst a clean 503
        assert write.status_code in (200, 503)
        if write.status_code == 503:
            assert write.json()["error"] == "database_unavailable"
            assert write.headers["retry-after"] == "1"


@pytest.fixture(scope="module")
def own_postgres():
    """A Postgres server only this module uses, so it can be stopped and started."""
    pgserver = pytest.importorskip("pgserver")
    from pgserver._commands import pg_ctl

    folder = Path(tempfile.mkdtemp(prefix="hw-pgf-"))
    server = pgserver.get_server(folder / "data", cleanup_mode="stop")

    def stop() -> None:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)

    def start() -> None:
        server.ensure_postgres_running()

    try:
        yield server.get_uri(), stop, start
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_postgres_down_then_up_again(own_postgres, start_service):
    server_url, stop, start = own_postgres
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE hw_fault")
    url = database_url(server_url, "hw_fault")
    with psycopg.connect(url) as conn:
        migrations.upgrade(conn)
    service = start_service(url, env={"HEADWATER_SERVICE_POOL_TIMEOUT": "1"})

    with httpx.Client(base_url=service.url, timeout=20) as api:
        assert api.post("/flows/Durable", json={}).status_code == 200
        run = api.post("/flows/Durable/run", json={"tags": ["kept"]}).json()

        stop()
        for method, path in [("GET", "/flows/Durable"), ("POST", "/flows/Durable/run"),
                             ("GET", f"/flows/Durable/runs/{run['run_number']}"),
                             ("GET", "/flows")]:
            # fails fast, does not hang: an answer well before the client's own timeout
            resp = api.request(method, path, json={} if method == "POST" else None,
                               timeout=10)
            assert resp.status_code == 503, f"{method} {path}: {resp.status_code} {resp.text}"
            assert resp.json()["error"] == "database_unavailable"
            assert "retry later" in resp.json()["message"]
        ready = api.get("/ready")
        assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
        assert api.get("/ping").status_code == 200  # alive: no restart needed

        time.sleep(3)  # a longer outage: the pool's own reconnect backoff has grown
        start()
        deadline = time.monotonic() + 30  # a bound on the wait, not a speed requirement
        while True:  # the same process answers again, without a restart
            resp = api.get(f"/flows/Durable/runs/{run['run_number']}")
            if resp.status_code == 200:
                break
            assert resp.status_code == 503, resp.text
            assert time.monotonic() < deadline, "the service did not recover"
            time.sleep(0.25)
        assert resp.json() == run  # nothing lost
        assert api.post("/flows/Durable/run", json={}).status_code == 200
        assert api.get("/ready").json()["ready"] is True
    assert service.proc.poll() is None
    assert "Traceback" not in service.log()
