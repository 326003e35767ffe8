"""Schema migrations: ``headwater-service db status | db upgrade``, one transaction per
upgrade, and a service that refuses (never upgrades) when its database is behind."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time

import httpx
import psycopg
import pytest

from headwater_service import migrations


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "headwater_service.cli", *args],
                          capture_output=True, text=True, env=full_env, timeout=60)


def versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        if not conn.execute(migrations.HAS_VERSION_TABLE_SQL).fetchone()[0]:
            return []
        return [r[0] for r in conn.execute(
            f"SELECT version FROM {migrations.VERSION_TABLE} ORDER BY version")]


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}


# --- the command line ----------------------------------------------------------------------

@pytest.mark.slow
def test_status_and_upgrade_from_an_empty_database(make_database):
    url = make_database(schema=False)
    latest = migrations.latest_version()
    status = cli("db", "status", "--database-url", url)
    assert status.returncode == 0, status.stderr
    assert "schema version:  0" in status.stdout
    assert f"{latest} migration(s) pending" in status.stdout
    assert "0001_initial" in status.stdout and "back the database up" in status.stdout
    assert cli("db", "status", "--check", "--database-url", url).returncode == 1

    # the URL may come from the environment instead
    upgrade = cli("db", "upgrade", env={"HEADWATER_DATABASE_URL": url})
    assert upgrade.returncode == 0, upgrade.stderr
    assert "applied 0001_initial" in upgrade.stdout
    assert f"schema version {latest}" in upgrade.stdout
    assert versions(url) == list(range(1, latest + 1))
    assert {"flows", "runs", "steps", "tasks", "metadata", "artifacts"} <= tables(url)

    again = cli("db", "upgrade", "--database-url", url)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    status = cli("db", "status", "--check", "--database-url", url)
    assert status.returncode == 0 and "up to date" in status.stdout


def test_upgrade_stops_at_a_chosen_version(make_database):
    url = make_database(schema=False)
    assert cli("db", "upgrade", "--to", "1", "--database-url", url).returncode == 0
    assert versions(url) == [1]
    status = cli("db", "status", "--database-url", url)
    assert "0002_heartbeats" in status.stdout
    bad = cli("db", "upgrade", "--to", "99", "--database-url", url)
    assert bad.returncode != 0 and "there is no schema version 99" in bad.stderr


@pytest.mark.slow
def test_the_command_line_names_a_missing_or_unreachable_database():
    missing = cli("db", "status")
    assert missing.returncode == 2
    assert "--database-url" in missing.stderr and "HEADWATER_DATABASE_URL" in missing.stderr
    unreachable = cli("db", "upgrade", "--database-url",
                      "postgresql://someone:s3cret-pw@127.0.0.1:1/headwater")
    assert unreachable.returncode == 1
    assert "cannot connect to the database at postgresql://someone:***@127.0.0.1:1/headwater" \
        in unreachable.stderr
    assert "s3cret-pw" not in unreachable.stderr + unreachable.stdout
    assert "Traceback" not in unreachable.stderr
    serve = cli("serve")
    assert serve.returncode == 2 and "HEADWATER_DATABASE_URL" in serve.stderr


# --- atomicity ----------------------------------------------------------------------------

def test_a_failing_migration_rolls_back_the_whole_upgrade(make_database, tmp_path):
    """Three pending migrations, the third fails halfway: nothing of any of them stays."""
    url = make_database(schema=False)
    folder = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, folder)
    broken = folder / f"{migrations.latest_version() + 1:04d}_broken.sql"
    broken.write_text("CREATE TABLE should_vanish (a int);\nSELECT 1 / 0;\n")
    with psycopg.connect(url) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            migrations.upgrade(conn, directory=folder)
    assert versions(url) == []
    assert tables(url) == set()


def test_concurrent_upgrades_apply_each_migration_once(make_database):
    url = make_database(schema=False)
    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            with psycopg.connect(url) as conn:
                migrations.upgrade(conn)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert versions(url) == list(range(1, migrations.latest_version() + 1))


def test_migration_files_must_be_numbered_without_gaps(tmp_path):
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(migrations.MigrationError, match="should be version 0002"):
        migrations.available(tmp_path)
    (tmp_path / "0003_c.sql").unlink()
    (tmp_path / "2_b.sql").write_text("SELECT 1;")
    with pytest.raises(migrations.MigrationError, match="NNNN_name.sql"):
        migrations.available(tmp_path)


def test_a_database_newer_than_the_release_is_reported_not_touched(make_database):
    url = make_database()
    newer = migrations.latest_version() + 1
    with psycopg.connect(url) as conn:
        conn.execute(f"INSERT INTO {migrations.VERSION_TABLE} (version, name) "
                     f"VALUES (%s, 'future')", (newer,))
    status = cli("db", "status", "--database-url", url)
    assert "newer than this release" in status.stdout
    upgrade = cli("db", "upgrade", "--database-url", url)
    assert upgrade.returncode == 1 and "newer than this release knows" in upgrade.stderr
    assert versions(url)[-1] == newer


# --- the running service ------------------------------------------------------------------

def test_the_service_refuses_routes_that_need_a_newer_schema_until_an_upgrade(
        make_database, start_service):
    url = make_database(schema=1)
    service = start_service(url)
    with httpx.Client(base_url=service.url) as api:
        # version 1 has flows: those routes work
        assert api.post("/flows/OldFlow", json={}).status_code == 200
        assert api.get("/flows").status_code == 200
        # runs need the heartbeat columns of version 2
        refused = api.post("/flows/OldFlow/run", json={})
        assert refused.status_code == 503
        body = refused.json()
        assert body["error"] == "schema_outdated"
        assert "headwater-service db upgrade" in body["message"]
        assert "version 1" in body["message"] and "needs version 2" in body["message"]
        ready = api.get("/ready")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert "headwater-service db upgrade" in ready.json()["message"]
        assert api.get("/ping").status_code == 200  # alive, just not ready
        assert versions(url) == [1]  # it never upgrades by itself

        assert cli("db", "upgrade", "--database-url", url).returncode == 0
        deadline = time.monotonic() + 10
        while api.post("/flows/OldFlow/run", json={}).status_code == 503:
            assert time.monotonic() < deadline, "the service did not notice the upgrade"
            time.sleep(0.25)
        assert api.get("/ready").json()["ready"] is True
        assert len(api.get("/flows/OldFlow/runs").json()) == 1
    assert "runs `headwater-service db upgrade`" in service.log()  # warned at start


def test_the_service_on_an_empty_database_creates_nothing(make_database, start_service):
    url = make_database(schema=False)
    service = start_service(url)
    with httpx.Client(base_url=service.url) as api:
        resp = api.get("/flows")
        assert resp.status_code == 503
        assert "no Headwater schema yet" in resp.json()["message"]
        assert api.get("/ready").status_code == 503
    assert tables(url) == set() and versions(url) == []
