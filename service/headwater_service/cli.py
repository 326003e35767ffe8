"""``headwater-service``: run the metadata service and manage its database schema.

    headwater-service db status  [--database-url URL]
    headwater-service db upgrade [--database-url URL] [--to VERSION]
    headwater-service serve      [--database-url URL] [--host H] [--port P] [--workers N]

``--database-url`` defaults to ``$HEADWATER_DATABASE_URL``. ``serve`` never changes the
schema; ``db upgrade`` applies every pending migration in one transaction (back the
database up first: docs/metadata-service.md).
"""

from __future__ import annotations

import os
import sys

import click

from .config import DATABASE_URL_ENV, ConfigError, ServiceConfig, redact_url

_url_option = click.option(
    "--database-url", envvar=DATABASE_URL_ENV, metavar="URL",
    help=f"Postgres URL, e.g. postgresql://user@host:5432/headwater [env {DATABASE_URL_ENV}]")


def _require_url(url: str | None) -> str:
    if not url:
        raise click.UsageError(f"no database URL: pass --database-url or set "
                               f"{DATABASE_URL_ENV} (e.g. postgresql://user@host:5432/headwater)")
    return url


def _connect(url: str):
    import psycopg

    try:
        return psycopg.connect(url, connect_timeout=10, application_name="headwater-service-cli")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(f"cannot connect to the database at {redact_url(url)}: "
                                   f"{reason}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="headwater", prog_name="headwater-service")
def main() -> None:
    """The Headwater metadata service (the metaflow-service API on Postgres)."""


@main.group()
def db() -> None:
    """Inspect and upgrade the database schema."""


@db.command()
@_url_option
@click.option("--check", is_flag=True, help="Exit with status 1 when an upgrade is pending.")
def status(database_url: str | None, check: bool) -> None:
    """Show the schema version of the database and the migrations it lacks."""
    from . import migrations

    url = _require_url(database_url)
    with _connect(url) as conn:
        state = migrations.status(conn)
    click.echo(f"database:        {redact_url(url)}")
    click.echo(f"schema version:  {state.current}")
    click.echo(f"this release:    {state.latest}")
    if state.ahead:
        click.echo("status:          the database is newer than this release; upgrade the "
                   "service")
    elif state.up_to_date:
        click.echo("status:          up to date")
    else:
        click.echo(f"status:          {len(state.pending)} migration(s) pending:")
        for m in state.pending:
            click.echo(f"  {m.version:04d}_{m.name}")
        click.echo(f"back the database up, then run: {migrations.UPGRADE_COMMAND}")
    if check and not state.up_to_date:
        sys.exit(1)


@db.command()
@_url_option
@click.option("--to", "target", type=click.IntRange(min=0), default=None,
              help="Stop at this schema version (default: the latest).")
def upgrade(database_url: str | None, target: int | None) -> None:
    """Apply pending migrations, all in one transaction (back the database up first)."""
    from . import migrations

    url = _require_url(database_url)
    with _connect(url) as conn:
        try:
            applied = migrations.upgrade(conn, target)
        except migrations.MigrationError as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:  # the transaction rolled back: nothing was applied
            raise click.ClickException(f"upgrade failed and was rolled back, the schema is "
                                       f"unchanged: {str(exc).strip().splitlines()[0]}") from None
        version = migrations.current_version(conn)
    if not applied:
        click.echo(f"schema version {version}: nothing to do")
        return
    for m in applied:
        click.echo(f"applied {m.version:04d}_{m.name}")
    click.echo(f"schema version {version}")


@main.command()
@_url_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 in a container).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (each has its own connection pool).")
@click.option("--pool-size", type=click.IntRange(1, 200), default=None,
              help="Postgres connections per worker [env HEADWATER_SERVICE_POOL_SIZE, 8].")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--no-access-log", is_flag=True, help="Do not log one line per request.")
def serve(database_url: str | None, host: str, port: int, workers: int, pool_size: int | None,
          log_level: str, no_access_log: bool) -> None:
    """Serve the API (never changes the schema; see `db status`)."""
    import uvicorn

    from .logs import log_config

    os.environ[DATABASE_URL_ENV] = _require_url(database_url)
    if pool_size is not None:
        os.environ["HEADWATER_SERVICE_POOL_SIZE"] = str(pool_size)
    if no_access_log:
        os.environ["HEADWATER_SERVICE_ACCESS_LOG"] = "0"
    try:
        ServiceConfig.from_env()  # fail here, once, rather than in every worker
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    uvicorn.run("headwater_service.app:create_app", factory=True, host=host, port=port,
                workers=workers, log_config=log_config(log_level),
                access_log=False, server_header=False, backlog=2048,
                http="httptools", loop="uvloop", timeout_keep_alive=30)


if __name__ == "__main__":
    main()
