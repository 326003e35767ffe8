"""The ``headwater`` console script: commands that need no flow file.

Subcommands live in their own modules and are imported only when invoked, so
``headwater --help`` stays fast. To add one, add a line to ``COMMANDS``.
"""

from __future__ import annotations

import sys

import click

from ..registry import load, unknown

# name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "status": "headwater.cli.status:status",
    "configure": "headwater.cli.configure:configure",
    "runs": "headwater.cli.inspect:runs",
    "card": "headwater.cli.card:card",
    "dev": "headwater.dev.cli:dev",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str):
        if name in COMMANDS:
            return load(COMMANDS[name])
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        # An unknown name gets the registries' error shape; still a usage error (exit 2).
        name = args[0] if args else ""
        if (name and not name.startswith("-") and not ctx.resilient_parsing
                and self.get_command(ctx, name) is None):
            error = unknown("command", name, self.list_commands(ctx), "use one of them")
            raise click.UsageError(str(error), ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup)
@click.version_option(package_name="headwater")
def cli() -> None:
    """Headwater: ML and data workflows as plain Python classes.

    Flow commands run on the flow file (`python flow.py run`); these commands do not need one.
    """


def main() -> None:
    from .errors import run_cli

    sys.exit(run_cli(cli, prog_name="headwater"))
