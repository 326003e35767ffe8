"""The inspection commands: ``logs``, ``dump``, ``tag`` and ``list-runs``.

    python flow.py logs 12/start [--stdout|--stderr] [--attempt N]
    python flow.py dump 12/train/3 [--private] [--max-value-size N] [--include a,b] [--file F]
    python flow.py tag add|remove [--run-id 12] TAG...
    python flow.py tag replace [--run-id 12] OLD NEW
    python flow.py tag list [--run-id 12] [--all] [--hide-system-tags] [--flat]
    python flow.py list-runs [--all] [--limit N]      (also: headwater runs FLOW)

They read through the Client API with the flow command's settings, in every namespace:
naming a run id is explicit enough. The flow CLI attaches them with
``add_inspect_commands(group)``; the group's ``ctx.obj`` has ``flow_name`` and ``settings``.
"""

from __future__ import annotations

import contextlib
import pickle
import warnings
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Iterator

import click

from ..exceptions import InvalidPathspec, ObjectNotFound, ParameterError
from ..status import Status

if TYPE_CHECKING:
    from ..client import Run, Task


def add_inspect_commands(group: click.Group) -> None:
    """Add ``logs``, ``dump`` and ``tag`` to a flow's command group."""
    for command in (logs, dump, tag, list_runs):
        group.add_command(command)


# --- shared helpers ---------------------------------------------------------------------


@contextlib.contextmanager
def _reading(ctx: click.Context) -> Iterator[str]:
    """Read with the flow command's settings, every namespace; yields the flow name."""
    from ..client import namespace
    from ..client._services import pinned
    from ..settings import Settings

    obj = ctx.obj
    settings = getattr(obj, "settings", None) or Settings()
    with pinned(settings), namespace(None):
        yield obj.flow_name


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show the Client API's warnings as one ``Warning: ...`` line each on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        click.echo(f"Warning: {warning.message}", err=True)


def _script(ctx: click.Context) -> str:
    return ctx.find_root().info_name or "flow.py"


def _select_tasks(ctx: click.Context, flow_name: str, pathspec: str,
                  attempt: int | None) -> list["Task"]:
    """The tasks ``RUN/STEP`` or ``RUN/STEP/TASK`` names, in task id order."""
    from ..client import Task
    from ..client.step import task_order

    parts = pathspec.strip("/").split("/")
    if len(parts) == 4 and parts[0] == flow_name:  # a full pathspec, copied from elsewhere
        parts = parts[1:]
    if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
        raise InvalidPathspec(
            f"{pathspec!r} is not RUN/STEP or RUN/STEP/TASK",
            f"e.g. python {_script(ctx)} {ctx.info_name} 12/start (every task of the step) "
            f"or 12/start/3 (one task)")
    step = _run(ctx, flow_name, parts[0])[parts[1]]
    if len(parts) == 3:
        tasks = [step[parts[2]]]
    else:
        tasks = sorted(step.tasks(), key=lambda t: task_order(t.id))
        if not tasks:
            raise ObjectNotFound(f"step {step.pathspec} has no task yet",
                                 "wait for the step to start, or name another step")
    if attempt is not None:
        tasks = [Task(t.pathspec, attempt=attempt) for t in tasks]
    return tasks


def _run(ctx: click.Context, flow_name: str, run_id: str) -> "Run":
    """Run ``run_id`` of the flow; when there is none, the message lists recent runs."""
    from ..client import Flow

    flow = Flow(flow_name)  # a flow that never ran has its own message
    if run_id in flow:
        return flow[run_id]
    recent = [run.id for run in flow.runs()][:10]
    raise ObjectNotFound(
        f"run {flow_name}/{run_id} does not exist",
        f"recent runs: {', '.join(recent)} (all of them: python {_script(ctx)} tag list --all)"
        if recent else f"start one with: python {_script(ctx)} run")


def _short(task: "Task") -> str:
    return "/".join(task.path_components[1:])


def _status(task: "Task") -> str:
    return Status.of_task(task).value


_attempt_option = click.option("--attempt", type=click.IntRange(0),
                               help="Attempt to show (default: the latest).")


# --- logs -------------------------------------------------------------------------------


@click.command(help="Show what tasks printed. PATHSPEC is RUN/STEP (every task of the step) "
                    "or RUN/STEP/TASK.")
@click.argument("pathspec")
@click.option("--stdout", "stream", flag_value="stdout", help="Only standard output.")
@click.option("--stderr", "stream", flag_value="stderr",
              help="Only standard error (printed to stdout, as --stdout is).")
@_attempt_option
@click.pass_context
def logs(ctx: click.Context, pathspec: str, stream: str | None, attempt: int | None) -> None:
    with _reading(ctx) as flow_name:
        tasks = _select_tasks(ctx, flow_name, pathspec, attempt)
        streams = [stream] if stream else ["stdout", "stderr"]
        shown = False
        for task in tasks:
            if len(tasks) > 1:
                click.echo(f"==> {_short(task)} (attempt {task.current_attempt}) <==")
            for name in streams:
                text = getattr(task, name)
                if text:
                    shown = True
                    # one chosen stream goes to stdout, for pipes; both keep their own
                    click.echo(text, nl=not text.endswith("\n"),
                               err=stream is None and name == "stderr")
        if not shown:
            what = " or ".join(streams)
            click.echo(f"No {what} output in {pathspec} "
                       f"(attempt {', '.join(sorted({str(t.current_attempt) for t in tasks}))}).",
                       err=True)


# --- dump -------------------------------------------------------------------------------


@click.command(help="Show the artifacts of tasks. PATHSPEC is RUN/STEP (every task of the "
                    "step) or RUN/STEP/TASK.")
@click.argument("pathspec")
@click.option("--private", is_flag=True,
              help="Also show internal artifacts (names starting with '_').")
@click.option("--max-value-size", type=click.IntRange(10), default=1000, show_default=True,
              help="Cut each value's text after this many characters.")
@click.option("--include", help="Only these artifacts (comma-separated names).")
@click.option("--file", "file_path", type=click.Path(dir_okay=False, writable=True),
              help="Write the artifacts' values, pickled, to this file instead of showing "
                   "them: {'RUN/STEP/TASK': {name: value}}, whole values.")
@_attempt_option
@click.pass_context
def dump(ctx: click.Context, pathspec: str, private: bool, max_value_size: int,
         include: str | None, file_path: str | None, attempt: int | None) -> None:
    wanted = None
    if include is not None:
        wanted = [name.strip() for name in include.split(",") if name.strip()]
        if not wanted:
            raise ParameterError("--include was given no artifact names",
                                 "e.g. --include model,metrics")
    with _reading(ctx) as flow_name:
        tasks = _select_tasks(ctx, flow_name, pathspec, attempt)
        if wanted:
            found = set().union(*(set(a.id for a in t) for t in tasks))
            missing = [name for name in wanted if name not in found]
            if missing:
                known = sorted(n for n in found if private or not n.startswith("_"))
                raise ObjectNotFound(
                    f"{pathspec} has no artifact {', '.join(map(repr, missing))}",
                    f"its artifacts are: {', '.join(known) or 'none'}")
        chosen = {task: [a for a in task if (a.id in wanted if wanted else
                                             private or not a.id.startswith("_"))]
                  for task in tasks}
        if file_path is not None:
            values = {_short(task): {a.id: a.data for a in artifacts}
                      for task, artifacts in chosen.items()}
            import cloudpickle  # lambdas and local classes, as stored; read with pickle.load

            with open(file_path, "wb") as f:
                cloudpickle.dump(values, f, protocol=pickle.HIGHEST_PROTOCOL)
            click.echo(f"Artifacts of {len(values)} task{'s' if len(values) != 1 else ''} "
                       f"written to {file_path}")
            return
        for task, artifacts in chosen.items():
            click.echo(f"{task.pathspec} (attempt {task.current_attempt}, {_status(task)})")
            if not artifacts:
                click.echo("  (no artifacts)")
            for artifact in artifacts:
                click.echo(f"  {artifact.id} ({artifact.type}) = "
                           f"{_render(artifact, max_value_size)}")


def _render(artifact: Any, limit: int) -> str:
    try:
        text = repr(artifact.data)
    except Exception as exc:  # a broken blob or a value whose repr fails: say so, go on
        return f"<cannot show: {type(exc).__name__}: {exc}>"
    if len(text) > limit:
        text = (text[:limit] + f"... ({len(text) - limit} more characters; "
                f"raise --max-value-size to see them)")
    return text.replace("\n", "\n    ")


# --- tag --------------------------------------------------------------------------------


@click.group(help="Add, remove, replace or list the user tags of runs.")
def tag() -> None:
    pass


_run_id_option = click.option("--run-id", help="The run (default: your latest run).")


def _tag_run(ctx: click.Context, flow_name: str, run_id: str | None) -> "Run":
    from ..client import Flow

    if run_id is not None:
        return _run(ctx, flow_name, run_id)
    user = f"user:{_user(ctx)}"
    run = next((r for r in Flow(flow_name).runs() if user in r.system_tags), None)
    if run is None:
        raise ObjectNotFound(f"{user} has no run of {flow_name}",
                             f"pass --run-id, or start a run: python {_script(ctx)} run")
    return run


def _user(ctx: click.Context | None) -> str:
    from ..client._services import services

    return services().settings.user


def _echo_tags(run: "Run", system: bool = True) -> None:
    click.echo(f"Run {run.pathspec} ({run.user}, started {run.created_at:%Y-%m-%d %H:%M:%S})")
    click.echo(f"  user tags:   {', '.join(sorted(run.user_tags)) or '-'}")
    if system:
        click.echo(f"  system tags: {', '.join(sorted(run.system_tags)) or '-'}")


@tag.command("add", help="Add TAGS to a run.")
@_run_id_option
@click.argument("tags", nargs=-1, required=True)
@click.pass_context
def tag_add(ctx: click.Context, run_id: str | None, tags: tuple[str, ...]) -> None:
    with _reading(ctx) as flow_name:
        run = _tag_run(ctx, flow_name, run_id)
        with _warnings_as_lines():
            run.add_tags(tags)
        _echo_tags(run, system=False)


@tag.command("remove", help="Remove TAGS from a run (system tags cannot be removed).")
@_run_id_option
@click.argument("tags", nargs=-1, required=True)
@click.pass_context
def tag_remove(ctx: click.Context, run_id: str | None, tags: tuple[str, ...]) -> None:
    with _reading(ctx) as flow_name:
        run = _tag_run(ctx, flow_name, run_id)
        absent = [t for t in tags if t not in run.user_tags and t not in run.system_tags]
        if absent:
            raise ParameterError(
                f"run {run.pathspec} has no tag {', '.join(map(repr, absent))}",
                f"its user tags are: {', '.join(sorted(run.user_tags)) or 'none'}")
        run.remove_tags(tags)
        _echo_tags(run, system=False)


@tag.command("replace", help="Replace tag OLD with NEW on a run, in one step.")
@_run_id_option
@click.argument("old")
@click.argument("new")
@click.pass_context
def tag_replace(ctx: click.Context, run_id: str | None, old: str, new: str) -> None:
    with _reading(ctx) as flow_name:
        run = _tag_run(ctx, flow_name, run_id)
        if old not in run.user_tags and old not in run.system_tags:
            raise ParameterError(f"run {run.pathspec} has no tag {old!r}",
                                 f"its user tags are: {', '.join(sorted(run.user_tags)) or 'none'}")
        with _warnings_as_lines():
            run.replace_tag(old, new)
        _echo_tags(run, system=False)


@tag.command("list", help="List the tags of your runs of this flow, or of one run.")
@_run_id_option
@click.option("--all", "all_users", is_flag=True, help="Runs of every user, not just yours.")
@click.option("--hide-system-tags", is_flag=True, help="Only show user tags.")
@click.option("--flat", is_flag=True, help="Only the tags, one a line, sorted (for scripts).")
@click.pass_context
def tag_list(ctx: click.Context, run_id: str | None, all_users: bool,
             hide_system_tags: bool, flat: bool) -> None:
    from ..client import Flow

    with _reading(ctx) as flow_name:
        if run_id is not None:
            runs = [_run(ctx, flow_name, run_id)]
        else:
            user = f"user:{_user(ctx)}"
            try:
                runs = [r for r in Flow(flow_name).runs() if all_users or user in r.system_tags]
            except ObjectNotFound:  # the flow never ran: an empty list, not an error
                runs = []
            if not runs:
                click.echo(f"No runs of {flow_name}" + ("" if all_users else f" by {user}")
                           + ".")
                return
        if flat:
            tags = set().union(*(run.user_tags if hide_system_tags else run.tags
                                 for run in runs))
            for name in sorted(tags):
                click.echo(name)
            return
        for run in runs:
            _echo_tags(run, system=not hide_system_tags)


# --- list-runs ----------------------------------------------------------------------------

# A run that has not finished counts as running while its scheduler's heartbeat (every 10 s)
# is fresher than this; after that it stopped without reaching its end step.
RUNNING_HEARTBEAT_SECONDS = 60


def _list_runs_options(command: Any) -> Any:
    command = click.option("--limit", type=click.IntRange(0), default=20, show_default=True,
                           help="Show at most this many runs, newest first (0: all).")(command)
    return click.option("--all", "all_users", is_flag=True,
                        help="Runs of every user, not just yours.")(command)


@click.command("list-runs", help="List the runs of this flow, newest first, with status, "
                                 "start, duration and tags.")
@_list_runs_options
@click.pass_context
def list_runs(ctx: click.Context, all_users: bool, limit: int) -> None:
    with _reading(ctx) as flow_name:
        _echo_runs(flow_name, all_users, limit)


@click.command("runs", help="List the runs of FLOW, newest first, with status, start, "
                            "duration and tags (what `python flow.py list-runs` shows).")
@click.argument("flow_name", metavar="FLOW")
@_list_runs_options
@click.pass_context
def runs(ctx: click.Context, flow_name: str, all_users: bool, limit: int) -> None:
    from ..settings import Settings

    ctx.obj = SimpleNamespace(flow_name=flow_name, settings=Settings())
    with _reading(ctx):
        _echo_runs(flow_name, all_users, limit)


def _echo_runs(flow_name: str, all_users: bool, limit: int) -> None:
    from ..client import Flow

    user = f"user:{_user(None)}"
    found = [r for r in Flow(flow_name).runs() if all_users or user in r.system_tags]
    if not found:
        click.echo(f"No runs of {flow_name}" + ("" if all_users else f" by {user}") + ".")
        return
    rows = [(run.id, *_run_status(run), ", ".join(sorted(run.user_tags)))
            for run in (found[:limit] if limit else found)]
    headers = ("RUN", "STATUS", "STARTED", "DURATION", "TAGS")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers[:-1])]
    for row in [headers, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])


def _run_status(run: "Run") -> tuple[str, str, str]:
    """``(status, started, duration)`` of a run, as shown by ``list-runs``."""
    started = run.created_at
    end = run.end_task
    if end is not None and end.finished:
        status, until = Status.ended(end.successful), end.finished_at
    else:
        beat = run.last_heartbeat_at
        alive = beat is not None and (datetime.now() - beat).total_seconds() < \
            RUNNING_HEARTBEAT_SECONDS
        status, until = (Status.RUNNING, datetime.now()) if alive else (Status.FAILED, beat)
    duration = "-"
    if started is not None and until is not None:
        duration = _duration(max(0.0, (until - started).total_seconds()))
    return status.value, f"{started:%Y-%m-%d %H:%M:%S}" if started else "-", duration


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"
