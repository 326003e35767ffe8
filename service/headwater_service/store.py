"""The Postgres store: a psycopg 3 connection pool, error translation and the schema gate.

Connections are in autocommit mode: every statement in ``queries.py`` is its own
transaction, so a request writes all its rows or none. Database failures become API errors
here and nowhere else: a lost connection, a full pool or a statement timeout is a 503 the
client may retry, a duplicate a 409, a missing parent a 404, a value Postgres cannot hold a
400. The raw Postgres message never reaches the caller (it is logged).

The service never changes the schema. It reads the version at start and again (at most
every few seconds) while a route it refuses is asked for, so after an operator runs
``headwater-service db upgrade`` the refused routes open without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any, Awaitable, Callable

import psycopg
from psycopg import errors as pg
from psycopg.adapt import Loader

from . import migrations
from .config import ServiceConfig, redact_url
from .errors import ApiError, BadRequest, Conflict, DatabaseUnavailable, NotFound, SchemaBehind

log = logging.getLogger("headwater_service.store")

SCHEMA_RECHECK_SECONDS = 2.0


class _RawJson(Loader):
    """Hands ``json`` results over as the bytes Postgres sent: they are the response body."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


async def _configure(conn: psycopg.AsyncConnection) -> None:
    conn.adapters.register_loader("json", _RawJson)
    conn.prepared_max = 256  # every statement of queries.py, in all its variants, stays prepared


def _connection_lost(exc: BaseException) -> bool:
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) and not isinstance(
        exc, pg.QueryCanceled)


class Store:
    """Runs the API's statements on a pool of Postgres connections (one pool per process)."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.pool: Any = None
        #: The schema version last read from the database (``None``: not read yet).
        self.schema_version: int | None = None
        self.expected_schema = migrations.latest_version()
        self._schema_read_at = 0.0
        self._check_task: asyncio.Task | None = None
        self._probe_task: asyncio.Task | None = None
        self._probed_at = 0.0
        # One cursor per pooled connection, reused by every request that gets it: creating
        # a cursor per statement costs as much as the rest of the client side.
        self._cursors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    # --- lifecycle ---------------------------------------------------------------------------

    def _new_pool(self) -> Any:
        from psycopg_pool import AsyncConnectionPool

        cfg = self.config
        return AsyncConnectionPool(
            connection_info(cfg), min_size=cfg.pool_size, max_size=cfg.pool_size,
            open=False, timeout=cfg.pool_timeout, reconnect_timeout=60.0,
            configure=_configure, name="headwater", kwargs={"autocommit": True})

    async def open(self) -> None:
        """Start the pool without waiting for Postgres: the service starts (and answers 503)
        even while the database is still coming up."""
        self.pool = self._new_pool()
        await self.pool.open(wait=False)
        try:
            version = await self.refresh_schema()
        except DatabaseUnavailable:
            log.warning("database %s is not reachable yet; serving 503 until it is",
                        redact_url(self.config.database_url))
        else:
            if version < self.expected_schema:
                log.warning("database schema is at version %s, this release expects %s: "
                            "routes that need the newer schema answer 503 until an operator "
                            "runs `%s`", version, self.expected_schema,
                            migrations.UPGRADE_COMMAND)

    async def close(self) -> None:
        for task in (self._check_task, self._probe_task):
            if task is not None and not task.done():
                task.cancel()
        if self.pool is not None:
            await self.pool.close()

    # --- statements --------------------------------------------------------------------------

    async def one(self, sql: str, params: dict, *, read: bool = False,
                  missing: str | None = None, conflict: str | None = None) -> tuple:
        """Run one statement and return its first row.

        ``missing``: raise ``NotFound`` with this message when there is no row (or a foreign
        key is violated); without it the statement must return a row (an aggregate, an
        ``INSERT ... RETURNING``). ``conflict``: the message for a unique violation.
        """
        row = await self.first(sql, params, read=read, missing=missing, conflict=conflict)
        if row is None:
            if missing is None:
                raise RuntimeError("the statement returned no row: " + sql.split("\n", 1)[0])
            raise NotFound(missing)
        return row

    async def first(self, sql: str, params: dict, *, read: bool = False,
                    missing: str | None = None, conflict: str | None = None) -> tuple | None:
        """Run one statement and return its first row, or None when it returned none (an
        existence check, an insert that may do nothing). ``missing`` still names a violated
        foreign key. Reads are retried once on a fresh connection when the one they got
        turns out to be dead.
        """
        for attempt in (0, 1):
            try:
                async with self.pool.connection() as conn:
                    cur = self._cursors.get(conn)
                    if cur is None:
                        cur = self._cursors[conn] = conn.cursor()
                    # prepared on first use: the statements are few and run all the time
                    await cur.execute(sql, params, prepare=True)
                    row = await cur.fetchone()
                break
            except Exception as exc:
                if _connection_lost(exc):
                    check = self._check_pool()
                    if read and attempt == 0:
                        # Postgres restarted or dropped us: once the idle connections are
                        # tested (and dead ones replaced), a read is safe to send again.
                        await asyncio.shield(check)
                        continue
                raise self._translate(exc, missing, conflict) from None
        return row

    async def transaction(self, work: Callable[[psycopg.AsyncConnection], Awaitable[Any]],
                          missing: str | None = None, conflict: str | None = None) -> Any:
        """Run ``work(conn)`` in one transaction (for read-modify-write statements)."""
        try:
            async with self.pool.connection() as conn:
                async with conn.transaction():
                    return await work(conn)
        except ApiError:
            raise
        except Exception as exc:
            if _connection_lost(exc):
                self._check_pool()
            raise self._translate(exc, missing, conflict) from None

    def _check_pool(self) -> asyncio.Task:
        """After a lost connection, test the idle ones in the background, so the next
        requests get live connections instead of each finding a dead one (e.g. after
        Postgres restarted). One check at a time; returns it."""
        if self._check_task is None or self._check_task.done():
            self._check_task = asyncio.get_running_loop().create_task(self._check())
        return self._check_task

    async def _check(self) -> None:
        try:
            await self.pool.check()
        except Exception:  # the pool keeps reconnecting on its own
            log.debug("pool check failed", exc_info=True)

    def _probe_database(self) -> None:
        """No connection came within the pool timeout: at most once a second, try one fresh
        connection. The pool retries on its own, but with a backoff that doubles up to a
        minute; when Postgres answers again a new pool serves at once."""
        now = time.monotonic()
        if (self._probe_task is None or self._probe_task.done()) and now - self._probed_at > 1:
            self._probed_at = now
            self._probe_task = asyncio.get_running_loop().create_task(self._probe())

    async def _probe(self) -> None:
        try:
            conn = await psycopg.AsyncConnection.connect(connection_info(self.config),
                                                         connect_timeout=2)
        except psycopg.Error:
            return  # still down
        await conn.close()
        old, self.pool = self.pool, self._new_pool()
        await self.pool.open(wait=False)
        log.warning("database reachable again: connection pool renewed")
        await old.close(timeout=2.0)

    def _translate(self, exc: BaseException, missing: str | None,
                   conflict: str | None) -> ApiError:
        from psycopg_pool import PoolTimeout

        if isinstance(exc, ApiError):
            return exc
        if isinstance(exc, pg.UniqueViolation):
            return Conflict(conflict or "the object already exists")
        if isinstance(exc, pg.ForeignKeyViolation):
            return NotFound(missing or "the parent object does not exist")
        if isinstance(exc, pg.InvalidRegularExpression):
            return BadRequest("pattern is not a valid regular expression")
        if isinstance(exc, (pg.DataError, pg.IntegrityError)):
            log.info("rejected by the database: %s", exc)
            return BadRequest("a value in the request cannot be stored (it is out of range or "
                              "not valid text)")
        if isinstance(exc, pg.QueryCanceled):
            return DatabaseUnavailable("the database did not answer in time; retry later")
        if isinstance(exc, PoolTimeout) or _connection_lost(exc):
            log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else
                        type(exc).__name__)
            if isinstance(exc, PoolTimeout):
                self._probe_database()
            return DatabaseUnavailable("the database is unavailable; retry later")
        log.error("unexpected database error", exc_info=exc)
        return ApiError("internal error")

    # --- schema ------------------------------------------------------------------------------

    async def read_schema_version(self) -> int:
        async def read(conn) -> int:
            cur = await conn.execute(migrations.HAS_VERSION_TABLE_SQL)
            if not (await cur.fetchone())[0]:
                return 0
            cur = await conn.execute(migrations.MAX_VERSION_SQL)
            return int((await cur.fetchone())[0])

        return await self.transaction(read)

    async def refresh_schema(self) -> int:
        self.schema_version = await self.read_schema_version()
        self._schema_read_at = time.monotonic()
        return self.schema_version

    async def require_schema(self, needed: int) -> None:
        """Refuse (503) a route whose statements need a newer schema than the database has."""
        version = self.schema_version
        if version is not None and version >= needed:
            return
        if version is None or time.monotonic() - self._schema_read_at > SCHEMA_RECHECK_SECONDS:
            version = await self.refresh_schema()
        if version < needed:
            raise SchemaBehind(schema_message(version, needed, self.expected_schema))


def connection_info(config: ServiceConfig) -> str:
    """The database URL with the service's connection settings added; ``options`` already
    in the URL (e.g. a search_path) are kept."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    given = conninfo_to_dict(config.database_url).get("options") or ""
    options = f"{given} -c statement_timeout={config.statement_timeout_ms}".strip()
    settings: dict[str, Any] = {"options": options, "application_name": "headwater-service"}
    if "connect_timeout" not in conninfo_to_dict(config.database_url):
        settings["connect_timeout"] = 5
    return make_conninfo(config.database_url, **settings)


def schema_message(version: int, needed: int, expected: int) -> str:
    if version == 0:
        return (f"the database has no Headwater schema yet: an operator must run "
                f"`{migrations.UPGRADE_COMMAND}` (see docs/metadata-service.md)")
    return (f"the database schema is at version {version} but this request needs version "
            f"{needed} (this service expects {expected}): an operator must back up the "
            f"database and run `{migrations.UPGRADE_COMMAND}` (see docs/metadata-service.md)")
