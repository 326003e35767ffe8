"""Versioned schema migrations: ``migrations/NNNN_name.sql``, applied in order by
``headwater-service db upgrade`` and never by the running service.

The database records what was applied in ``headwater_schema_version`` (one row per
migration). ``upgrade`` applies every pending file in **one transaction** under an advisory
lock, so a failure leaves the schema exactly as it was and two operators upgrading at once
cannot interleave. Take a backup first (``docs/metadata-service.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "headwater_schema_version"
UPGRADE_COMMAND = "headwater-service db upgrade"

# Any constant: serializes concurrent `db upgrade` runs against one database.
_ADVISORY_LOCK_KEY = 0x4857_5343_4845_4D41  # "HWSCHEMA"

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The migrations on disk or in the database are not in a state we can work with."""


@dataclass(frozen=True)
class Migration:
    """One versioned SQL file."""

    version: int
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands against the migrations this code ships."""

    current: int  # 0: no Headwater schema at all
    latest: int
    pending: tuple[Migration, ...]

    @property
    def up_to_date(self) -> bool:
        return self.current >= self.latest

    @property
    def ahead(self) -> bool:
        """The database was upgraded by a newer release of the service."""
        return self.current > self.latest


def available(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file, in version order; versions must run 1, 2, 3, ... with no gap."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration {migration.path.name} should be version {expected:04d}:"
                                 f" versions must be consecutive from 0001")
    return found


def latest_version() -> int:
    """The schema version this code expects."""
    return len(available())


# Two statements: a query naming a missing table fails at planning, whatever CASE says.
HAS_VERSION_TABLE_SQL = f"SELECT to_regclass('{VERSION_TABLE}') IS NOT NULL"
MAX_VERSION_SQL = f"SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}"


def current_version(conn: "psycopg.Connection") -> int:
    """The version recorded in the database (0 when it has no Headwater schema)."""
    if not _scalar(conn.execute(HAS_VERSION_TABLE_SQL).fetchone()):
        return 0
    return int(_scalar(conn.execute(MAX_VERSION_SQL).fetchone()))


def _scalar(row: tuple | None) -> Any:
    """The value of a one-row, one-column query (both statements above always return one)."""
    assert row is not None
    return row[0]


def status(conn: "psycopg.Connection", directory: Path = MIGRATIONS_DIR) -> SchemaStatus:
    """Compare the database with the shipped migrations."""
    migrations = available(directory)
    current = current_version(conn)
    return SchemaStatus(current, len(migrations),
                        tuple(m for m in migrations if m.version > current))


def upgrade(conn: "psycopg.Connection", target: int | None = None,
            directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply every pending migration (up to ``target``) in one transaction; returns them.

    The connection must not be in a transaction. Nothing is applied if any file fails.
    """
    migrations = available(directory)
    target = len(migrations) if target is None else target
    if not 0 <= target <= len(migrations):
        raise MigrationError(f"there is no schema version {target}; the latest is "
                             f"{len(migrations)}")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_KEY,))
        conn.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} ("
                     "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                     "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        current = current_version(conn)
        if current > len(migrations):
            raise MigrationError(
                f"the database is at schema version {current}, newer than this release "
                f"knows ({len(migrations)}); use the newer release of headwater-service")
        applied = []
        for migration in migrations:
            if current < migration.version <= target:
                conn.execute(migration.sql())
                conn.execute(f"INSERT INTO {VERSION_TABLE} (version, name) VALUES (%s, %s)",
                             (migration.version, migration.name))
                applied.append(migration)
    return applied
