"""Turning errors into messages: one line naming the problem and the fix, no traceback
unless ``--debug`` (or ``HEADWATER_DEBUG=1``)."""

from __future__ import annotations

import os
import sys
import traceback

import click

from ..exceptions import HeadwaterException


def debug_enabled(argv: list[str] | None = None) -> bool:
    argv = sys.argv if argv is None else argv
    return "--debug" in argv or os.environ.get("HEADWATER_DEBUG") in ("1", "true")


def format_error(exc: HeadwaterException) -> str:
    text = f"{exc.headline}: {exc.message}"
    if exc.fix:
        text += f"\n  Fix: {exc.fix}"
    return text


def run_cli(command: click.Command, prog_name: str, args: list[str] | None = None) -> int:
    """Run a click command; returns the exit code."""
    args = list(sys.argv[1:] if args is None else args)
    debug = debug_enabled(args)
    if "--debug" in args:
        args.remove("--debug")
    try:
        command.main(args=args, prog_name=prog_name, standalone_mode=False)
        return 0
    except HeadwaterException as exc:
        if debug:
            traceback.print_exc()
        click.secho(format_error(exc), fg="red", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
