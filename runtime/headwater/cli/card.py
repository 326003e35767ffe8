"""The ``card`` commands: find, open and save cards, and serve them.

    python flow.py card view STEP|RUN/STEP|RUN/STEP/TASK [--id ID] [--no-browser]
    python flow.py card get  STEP|RUN/STEP|RUN/STEP/TASK FILE [--id ID]
    python flow.py card list [STEP|RUN|RUN/STEP|RUN/STEP/TASK]
    headwater card view|get|list FLOW/RUN[/STEP[/TASK]] ...
    headwater card server [--port 8324] [--host 127.0.0.1]

A bare STEP means that step of the flow's latest run. Cards are read through the Client API
with the command's settings, in every namespace (naming a run is explicit enough). The flow
CLI adds ``flow_card_group()``; the ``headwater`` CLI registers ``card``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import TYPE_CHECKING, Iterator

import click

from ..atomic import write_atomic
from ..exceptions import InvalidPathspec, ObjectNotFound

if TYPE_CHECKING:
    from ..cards.client import Card
    from ..client import Task


class StandaloneContext:
    """What the card commands read from ``ctx.obj`` under ``headwater card`` (no flow file);
    under ``python flow.py card`` the flow CLI's ``FlowContext`` has the same two names."""

    flow_name: str | None = None

    def __init__(self) -> None:
        from ..settings import Settings

        self.settings = Settings()


@contextlib.contextmanager
def _reading(ctx: click.Context) -> Iterator[None]:
    from ..client import namespace
    from ..client._services import pinned

    with pinned(ctx.obj.settings), namespace(None):
        yield


def _flow_name(ctx: click.Context) -> str | None:
    """The flow of ``python flow.py card ...``; None under the ``headwater`` command."""
    return ctx.obj.flow_name


def _form(ctx: click.Context) -> str:
    return ("STEP, RUN/STEP or RUN/STEP/TASK" if _flow_name(ctx)
            else "FLOW/RUN, FLOW/RUN/STEP or FLOW/RUN/STEP/TASK")


def _tasks(ctx: click.Context, spec: str | None) -> list["Task"]:
    """The tasks ``spec`` names (every task of the latest run when it is None)."""
    from ..client import Flow, Run
    from ..client.step import task_order

    flow_name = _flow_name(ctx)
    parts = [p for p in (spec or "").strip("/").split("/") if p] if spec else []
    if flow_name and len(parts) == 4 and parts[0] == flow_name:
        parts = parts[1:]  # a full pathspec, copied from elsewhere
    if flow_name:
        parts = [flow_name] + parts
    if not parts or len(parts) > 4:
        raise InvalidPathspec(f"{spec!r} does not name a run, step or task",
                              f"give {_form(ctx)}")
    if len(parts) == 1 or (flow_name and len(parts) == 2 and not parts[1].isdigit()
                           and parts[1] not in Flow(flow_name)):
        # FLOW or a bare STEP: the latest run
        latest = Flow(parts[0]).latest_run
        if latest is None:
            raise ObjectNotFound(f"{parts[0]} has no run yet",
                                 "run the flow first: python flow.py run")
        parts = [parts[0], latest.id] + parts[1:]
    run = Run("/".join(parts[:2]))
    steps = [run[parts[2]]] if len(parts) >= 3 else list(run)
    tasks: list["Task"] = []
    for step in steps:
        if len(parts) == 4:
            tasks.append(step[parts[3]])
        else:
            tasks.extend(step.tasks())
    return sorted(tasks, key=lambda t: task_order(t.id))


def _cards(ctx: click.Context, spec: str | None, card_id: str | None,
           card_type: str | None) -> list["Card"]:
    from ..cards.client import get_cards, no_cards_error

    tasks = _tasks(ctx, spec)
    found = [c for task in tasks for c in get_cards(task, id=card_id, type=card_type)]
    if not found:
        raise no_cards_error(tasks[0].pathspec if len(tasks) == 1 else str(spec), card_id)
    return found


def _one(ctx: click.Context, spec: str, card_id: str | None, card_type: str | None) -> "Card":
    found = _cards(ctx, spec, card_id, card_type)
    if len(found) > 1:
        others = ", ".join(f"{c.pathspec} {c.type}" + (f" id={c.id}" if c.id else "")
                           for c in found[1:6])
        click.echo(f"{len(found)} cards match; showing the first. Others: {others}"
                   + (" …" if len(found) > 6 else "") + " (pick one with --id or a task "
                   "pathspec)", err=True)
    return found[0]


def _local_copy(card: "Card") -> str:
    """The card's page in a file of its own (under the temp dir), for a browser to open."""
    folder = os.path.join(tempfile.gettempdir(), "headwater-cards", *card.pathspec.split("/"))
    os.makedirs(folder, exist_ok=True)
    name = f"{card.attempt}.{card.stored.slot}.{card.type}" + (f".{card.id}" if card.id else "")
    path = os.path.join(folder, name + ".html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(card.html)
    return path


_id_option = click.option("--id", "card_id", help="Only the card with this id.")
_type_option = click.option("--type", "card_type", help="Only cards of this type.")


@click.command(help="Open a task's card in the browser.")
@click.argument("spec", metavar="PATHSPEC")
@_id_option
@_type_option
@click.option("--no-browser", is_flag=True, help="Print the file's path instead of opening it.")
@click.pass_context
def view(ctx: click.Context, spec: str, card_id: str | None, card_type: str | None,
         no_browser: bool) -> None:
    with _reading(ctx):
        found = _one(ctx, spec, card_id, card_type)
        path = _local_copy(found)
    if no_browser:
        click.echo(path)
        return
    import webbrowser

    if not webbrowser.open(f"file://{path}"):
        click.echo(f"No browser could be started; the card is at {path}")
    else:
        click.echo(f"Opened {found.type} card of {found.pathspec}: {path}")


@click.command(help="Save a task's card to FILE ('-' writes it to standard output).")
@click.argument("spec", metavar="PATHSPEC")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@_id_option
@_type_option
@click.pass_context
def get(ctx: click.Context, spec: str, file: str, card_id: str | None,
        card_type: str | None) -> None:
    with _reading(ctx):
        found = _one(ctx, spec, card_id, card_type)
        page = found.html
    if file == "-":
        sys.stdout.write(page)
        return
    write_atomic(file, page, permissions=0o644)
    click.echo(f"Saved the {found.type} card of {found.pathspec} to {file}", err=True)


@click.command(name="list", help="List the cards of a run, step or task (default: the "
                                "latest run).")
@click.argument("spec", metavar="[PATHSPEC]", required=False)
@_id_option
@_type_option
@click.pass_context
def list_cards(ctx: click.Context, spec: str | None, card_id: str | None,
               card_type: str | None) -> None:
    from ..cards.client import get_cards

    if spec is None and not _flow_name(ctx):
        raise InvalidPathspec("headwater card list needs a run, step or task",
                              f"give {_form(ctx)}")
    with _reading(ctx):
        tasks = _tasks(ctx, spec)
        rows = [(c.pathspec, c.type, c.id or "", c.status, f"{c.stored.size / 1024:.0f} KiB")
                for task in tasks for c in get_cards(task, id=card_id, type=card_type)]
    if not rows:
        click.echo("No cards.")
        return
    header = ("TASK", "TYPE", "ID", "STATUS", "SIZE")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
    for row in [header] + rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


@click.command(help="Serve recent runs' cards over HTTP; live cards refresh while their task "
                   "runs.")
@click.option("--port", type=click.IntRange(0, 65535), default=8324, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (keep the default unless you mean to share).")
@click.option("--max-runs", type=click.IntRange(1), default=10, show_default=True,
              help="Recent runs listed per flow.")
@click.pass_context
def server(ctx: click.Context, port: int, host: str, max_runs: int) -> None:
    from ..cards.server import serve

    with _reading(ctx):
        serve(host, port, max_runs=max_runs, flow_name=_flow_name(ctx))


def _card_group(standalone: bool) -> click.Group:
    @click.group(name="card", help="Cards: HTML reports stored with tasks (see docs/cards.md).")
    @click.pass_context
    def group(ctx: click.Context) -> None:
        if standalone:
            ctx.obj = StandaloneContext()

    for command in (view, get, list_cards, server):
        group.add_command(command)
    return group


def flow_card_group() -> click.Group:
    """The ``card`` group for a flow's command line (``ctx.obj`` is its ``FlowContext``)."""
    return _card_group(standalone=False)


#: ``headwater card``, registered in ``cli/main.py``.
card = _card_group(standalone=True)
