"""``headwater dev up|status|down|logs``: shared mode on one machine."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from .state import DEFAULT_DIR, Cloud, StackDir

_dir_option = click.option(
    "--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
    help=f"Where the stack keeps its data and state [env HEADWATER_DEV_DIR, default "
         f"{DEFAULT_DIR}].")
_profile_option = click.option("--profile", "profile_name", default="dev", show_default=True,
                               metavar="NAME", help="Profile to write: "
                               "$METAFLOW_HOME/config_NAME.json.")


def _stack(folder: Path | None) -> StackDir:
    return StackDir(folder or Path(os.environ.get("HEADWATER_DEV_DIR") or DEFAULT_DIR))


@click.group()
def dev() -> None:
    """Shared mode on this machine: Postgres, the metadata service, and Azurite or moto.

    Everything listens on 127.0.0.1 only and lives under --dir. See docs/dev-stack.md.
    """


@dev.command()
@click.option("--cloud", type=click.Choice([c.value for c in Cloud]), default=Cloud.AZURE.value,
              show_default=True, help="Emulate Azure Blob Storage (Azurite) or S3 and Secrets "
              "Manager (moto).")
@_dir_option
@click.option("--database-url", metavar="URL", default=None,
              help="Use this Postgres instead of starting one (pgserver) under --dir.")
@click.option("--port", type=click.IntRange(1024, 65533), default=8080, show_default=True,
              help="The service's port; Postgres and the storage emulator take the next two.")
@_profile_option
def up(cloud: str, folder: Path | None, database_url: str | None, port: int,
       profile_name: str) -> None:
    """Start the stack (what already runs is left as it is) and write its profile."""
    from . import profile, stack

    dev_stack = _stack(folder)
    began = time.monotonic()
    stack.up(dev_stack, Cloud(cloud), port, database_url, profile_name, click.echo)
    click.echo(f"ready in {time.monotonic() - began:.1f} s; next:")
    for line in profile.next_steps(profile_name, dev_stack, Cloud(cloud)):
        click.echo(f"  {line}")


@dev.command()
@_dir_option
def status(folder: Path | None) -> None:
    """Each component: pid, port, healthy, data size."""
    from . import stack
    from .service import redact_url

    dev_stack = _stack(folder)
    state, rows = stack.status(dev_stack)
    if state is None:
        click.echo(f"no dev stack in {dev_stack.root} (start one with `headwater dev up`)")
        return
    click.echo(f"dev stack in {dev_stack.root} (--cloud {state.cloud})")
    if state.external_database:
        click.echo(f"database: {redact_url(state.database_url or '')}")
    click.echo(f"{'component':<10} {'pid':>8} {'port':>6}  {'state':<9} {'data':>9}")
    for row in rows:
        word = "healthy" if row.healthy else ("unhealthy" if row.running else "stopped")
        click.echo(f"{row.name:<10} {row.pid or '-':>8} {row.port or '-':>6}  {word:<9} "
                   f"{_size(row.data_bytes):>9}")
    if not all(r.healthy for r in rows):
        sys.exit(1)


@dev.command()
@_dir_option
@click.option("--purge", is_flag=True, help="Also delete the data (runs, artifacts, API key) "
              "and the stack's profile.")
@_profile_option
def down(folder: Path | None, purge: bool, profile_name: str) -> None:
    """Stop what `up` started (by pid). The data is kept unless --purge."""
    from . import stack

    stack.down(_stack(folder), purge, profile_name, click.echo)


@dev.command()
@click.argument("component", metavar="COMPONENT")
@_dir_option
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=100, show_default=True,
              help="How many of the last lines to print first.")
def logs(component: str, folder: Path | None, follow: bool, lines: int) -> None:
    """Print a component's log: postgres, service, azurite or moto."""
    from . import stack
    from .errors import DevStackError

    path = stack.log_path(_stack(folder), component)
    if not path.exists():
        raise DevStackError(f"no log for {component} in {path.parent}",
                            "has `headwater dev up` started it?")
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace").splitlines()
        for line in text[-lines:] if lines else []:
            click.echo(line)
        if not follow:
            return
        try:
            while True:
                chunk = f.read()
                if chunk:
                    click.echo(chunk.decode("utf-8", "replace"), nl=False)
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            return


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
