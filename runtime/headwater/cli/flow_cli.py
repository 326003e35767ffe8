"""The command line of a flow file: ``python flow.py [OPTIONS] COMMAND``.

Commands: ``run``, ``resume``, ``show``, ``check``, ``logs``, ``dump``, ``tag`` and the
hidden ``step`` (one task; what remote compute runs in a container). Options that belong to
the whole flow (``--config-file``, ``--config``, ``--with``, ``--namespace``,
``--datastore``, ``--metadata``, ``--quiet``) are accepted before or after the command.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from typing import Any

import click

from ..exceptions import ConfigurationError, ResumeError, RunFailed
from .errors import run_cli

# Options of the flow group that users also write after the command; value count for each.
GLOBAL_OPTIONS = {"--config-file": 1, "--config": 2, "--with": 1, "--namespace": 1,
                  "--datastore": 1, "--datastore-root": 1, "--metadata": 1, "--quiet": 0}


class FlowContext:
    """The flow class plus everything the command line decided about it."""

    def __init__(self, flow_cls: type):
        from ..settings import Settings

        self.flow_cls = flow_cls
        self.flow_name = flow_cls.__name__
        self.flow_file = flow_cls._flow_file()
        self.settings = Settings()
        self.config_files: dict[str, str] = {}
        self.with_specs: list[str] = []
        self.namespace: str | None = None
        self.quiet = False
        self.configs: dict[str, Any] = {}
        self._graph = None

    # --- preparing the flow --------------------------------------------------------------

    def load_configs(self) -> dict[str, Any]:
        from ..config import flow_configs

        configs = flow_configs(self.flow_cls)
        files = dict(self.config_files)
        if "" in files:  # --config-file PATH: the flow's only Config
            path = files.pop("")
            if len(configs) != 1:
                names = ", ".join(c.name for c in configs.values()) or "none"
                raise ConfigurationError(
                    f"--config-file needs a flow with exactly one Config (this one has: {names})",
                    "use --config NAME PATH")
            files[next(iter(configs.values())).name] = path
        by_name = {c.name: attr for attr, c in configs.items()}
        unknown = sorted(set(files) - set(by_name))
        if unknown:
            raise ConfigurationError(f"{self.flow_name} has no config named {unknown[0]!r}",
                                     f"known configs: {', '.join(by_name) or 'none'}")
        values = {}
        for attr, config in configs.items():
            values[attr] = config.load(files.get(config.name), self.flow_file)
        return values

    def prepare(self):
        """Read configs, resolve placeholders, add ``--with`` decorators, check the graph."""
        if self._graph is not None:
            return self._graph
        from ..decorators import parse_with
        from ..graph import FlowGraph

        self.configs = self.load_configs()
        graph = FlowGraph(self.flow_cls)
        extra = [parse_with(spec) for spec in self.with_specs]
        for node in graph:
            decorators = node.func.__dict__.setdefault("decorators", [])
            # Preparing again (a notebook, a deployer) starts from what the code says.
            decorators[:] = [d for d in decorators if not d.from_cli]
            for deco in extra:
                if not any(d.name == deco.name for d in decorators):
                    decorators.append(type(deco)(deco.attributes, from_cli=True))
            for deco in decorators:
                _resolve_attributes(deco, self.configs)
                deco.step_init(self.flow_cls, graph, node.name)
        for deco in getattr(self.flow_cls, "_flow_decorators", []):
            _resolve_attributes(deco, self.configs)
            deco.flow_init(self.flow_cls, graph)
        self._graph = graph
        return graph

    def run_namespace(self) -> str | None:
        return self.namespace or self.settings.namespace or getattr(
            self.flow_cls, "_flow_namespace", None)

    def environment(self):
        from ..datastore import get_backend
        from ..metadata import get_provider
        from ..task import RunEnvironment

        return RunEnvironment(self.settings, get_backend(self.settings),
                              get_provider(self.settings))

    def system_tags(self) -> list[str]:
        from .. import __version__

        user = self.settings.user
        tags = [f"user:{user}", "runtime:dev", f"python_version:{platform.python_version()}",
                f"headwater_version:{__version__}"]
        namespace = self.run_namespace()
        if namespace:
            tags.append(namespace)
        for deco in getattr(self.flow_cls, "_flow_decorators", []):
            tags.extend(deco.system_tags(user))
        return tags


def _resolve_attributes(deco, configs: dict[str, Any]) -> None:
    """Fill config placeholders in a decorator's attributes, keeping the originals."""
    from ..config import resolve_placeholders

    raw = deco.__dict__.setdefault("raw_attributes", dict(deco.attributes))
    deco.attributes = resolve_placeholders(raw, configs)


def _lift_global_options(args: list[str], commands: set[str]) -> list[str]:
    """Move flow-wide options written after the command to before it."""
    try:
        at = next(i for i, a in enumerate(args) if a in commands)
    except StopIteration:
        return args
    head, tail, moved = args[:at], [], []
    rest = args[at:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS and i > 0:
            count = 0 if "=" in arg else GLOBAL_OPTIONS[name]
            moved.extend(rest[i:i + 1 + count])
            i += 1 + count
            continue
        tail.append(arg)
        i += 1
    return head + moved + tail


def _parameter_options(flow_cls: type):
    """Click options for the flow's parameters (values converted by Parameter itself, so
    the error messages are ours)."""
    from ..parameters import flow_parameters

    def decorate(func):
        for attr, param in reversed(list(flow_parameters(flow_cls).items())):
            help_text = param.help or ""
            if param.show_default and param.default is not None and not callable(param.default):
                help_text += f"  [default: {param.default}]"
            if param.required:
                help_text += "  [required]"
            if param.type is bool:
                # `--flag` alone, or `--flag true|false` (Metaflow's habit)
                option = click.option(f"--{param.option_name}", attr, default=None,
                                      is_flag=False, flag_value="true", metavar="[BOOL]",
                                      help=help_text)
            else:
                option = click.option(f"--{param.option_name}", attr, default=None,
                                      metavar=param.type.__name__.upper(), help=help_text)
            func = option(func)
        return func

    return decorate


def _run_options(func):
    for option in reversed([
        click.option("--max-workers", type=click.IntRange(1), default=16, show_default=True,
                     help="Tasks running at the same time."),
        click.option("--max-num-splits", type=click.IntRange(1), default=100,
                     show_default=True, help="Most tasks one foreach may start."),
        click.option("--tag", "tags", multiple=True, help="Tag the run (repeatable)."),
        click.option("--run-id-file", type=click.Path(dir_okay=False),
                     help="Write the run id to this file."),
    ]):
        func = option(func)
    return func


def build_cli(flow_cls: type) -> click.Group:
    """The click group for one flow class."""

    @click.group(help=(flow_cls.__doc__ or f"Run and inspect {flow_cls.__name__}.").strip())
    @click.option("--config-file", help="Config file for the flow's (only) Config.")
    @click.option("--config", "configs", nargs=2, multiple=True, metavar="NAME PATH",
                  help="Config file for the Config called NAME (repeatable).")
    @click.option("--with", "with_specs", multiple=True, metavar="DECORATOR",
                  help="Add a decorator to every step, e.g. --with retry:times=2.")
    @click.option("--namespace", help="Namespace the run is tagged with.")
    @click.option("--datastore", type=click.Choice(["local", "azure", "s3"]),
                  help="Override METAFLOW_DEFAULT_DATASTORE.")
    @click.option("--datastore-root", help="Override the datastore's sysroot.")
    @click.option("--metadata", type=click.Choice(["local", "service"]),
                  help="Override METAFLOW_DEFAULT_METADATA.")
    @click.option("--quiet", is_flag=True, help="Do not echo task output.")
    @click.pass_context
    def cli(ctx, config_file, configs, with_specs, namespace, datastore, datastore_root,
            metadata, quiet):
        obj = FlowContext(flow_cls)
        overrides = {"METAFLOW_DEFAULT_DATASTORE": datastore,
                     "METAFLOW_DEFAULT_METADATA": metadata}
        if datastore_root:
            overrides[f"METAFLOW_DATASTORE_SYSROOT_{(datastore or obj.settings.datastore_type).upper()}"] = datastore_root
        if not obj.settings.get("METAFLOW_DATASTORE_SYSROOT_LOCAL") and obj.flow_file:
            # Local mode keeps its records beside the flow file.
            overrides.setdefault("METAFLOW_DATASTORE_SYSROOT_LOCAL", os.path.join(
                os.path.dirname(os.path.abspath(obj.flow_file)), ".headwater"))
        for key, value in overrides.items():
            if value:
                os.environ[key] = value
                obj.settings.env[key] = value
        if config_file:
            obj.config_files[""] = config_file
        obj.config_files.update({name: path for name, path in configs})
        obj.with_specs = list(with_specs)
        obj.namespace = namespace
        obj.quiet = quiet
        ctx.obj = obj

    @cli.command(help="Check the flow's structure and decorators without running it.")
    @click.pass_obj
    def check(obj: FlowContext):
        graph = obj.prepare()
        click.echo(f"{obj.flow_name}: {len(graph.nodes)} steps; the flow looks good.")

    @cli.command(help="Show the flow's steps and how they connect.")
    @click.pass_obj
    def show(obj: FlowContext):
        graph = obj.prepare()
        doc = (obj.flow_cls.__doc__ or "").strip()
        if doc:
            click.echo(doc + "\n")
        for info in graph.describe():
            kind = {"foreach": f"foreach over {info['foreach']!r} into",
                    "switch": "one of", "split": "all of", "linear": "next",
                    "end": "end of the flow"}[info["type"]]
            targets = ", ".join(info["next"])
            join = f"  (joins a {info['join']} split)" if info["join"] else ""
            click.echo(f"Step {info['name']}{join}")
            if info["doc"]:
                click.echo(f"    {info['doc'].splitlines()[0]}")
            if info["decorators"]:
                click.echo(f"    decorators: {' '.join(info['decorators'])}")
            click.echo(f"    => {kind} {targets}".rstrip() + "\n")

    @cli.command(help="Run the flow.")
    @_run_options
    @_parameter_options(flow_cls)
    @click.pass_obj
    def run(obj: FlowContext, max_workers, max_num_splits, tags, run_id_file, **params):
        from ..parameters import resolve_parameters

        graph = obj.prepare()
        values = resolve_parameters(obj.flow_cls, {k: v for k, v in params.items()
                                                   if v is not None}, obj.settings.user)
        launch(obj, graph, values, max_workers, max_num_splits, list(tags), run_id_file)

    @cli.command(help="Resume a failed run: successful tasks of the origin run are reused "
                      "(by reference) and the rest runs again. STEP reruns from that step.")
    @click.argument("step", required=False)
    @click.option("--step", "step_option", help="Same as the STEP argument.")
    @click.option("--origin-run-id", help="Run to resume (default: your latest run).")
    @_run_options
    @click.pass_obj
    def resume(obj: FlowContext, step, step_option, origin_run_id, max_workers,
               max_num_splits, tags, run_id_file):
        graph = obj.prepare()
        launch(obj, graph, None, max_workers, max_num_splits, list(tags), run_id_file,
               resume_step=step or step_option, origin_run_id=origin_run_id)

    @cli.command(hidden=True, help="Run one task (used by remote compute).")
    @click.option("--spec", "spec_json", required=True, help="The task's TaskSpec as JSON.")
    @click.pass_obj
    def step(obj: FlowContext, spec_json):
        from ..task import TaskRunner, TaskSpec

        graph = obj.prepare()
        spec = TaskSpec.from_json(json.loads(spec_json))
        result = TaskRunner(obj.flow_cls, graph, spec, obj.environment()).run()
        click.echo(json.dumps(result.to_json()))
        sys.exit(0 if result.ok else 1)

    try:
        from .inspect import add_inspect_commands
    except ModuleNotFoundError:  # built in a later change
        pass
    else:
        add_inspect_commands(cli)
    from .card import flow_card_group
    cli.add_command(flow_card_group())
    return cli


def launch(obj: FlowContext, graph, params: dict | None, max_workers: int, max_num_splits: int,
           tags: list[str], run_id_file: str | None, resume_step: str | None = None,
           origin_run_id: str | None = None) -> None:
    """Start a run (or a resumed run) and block until it ends."""
    from ..scheduler import Console, LocalScheduler, RunInfo
    from ..task import InputRef

    env = obj.environment()
    md, user = env.metadata, obj.settings.user
    origin = None
    if params is None:
        origin = find_origin(obj, graph, env, resume_step, origin_run_id)
    md.register_flow(obj.flow_name, user)
    run = md.new_run(obj.flow_name, user, tags, obj.system_tags())
    run_id = str(run["run_number"])
    if run_id_file:
        with open(run_id_file, "w") as f:
            f.write(run_id)
    info = RunInfo(obj.flow_name, run_id, user, obj.run_namespace(), tags,
                   origin.run_id if origin else None)
    console = Console(quiet=obj.quiet)
    what = f"resuming run {origin.run_id}" if origin else "starting"
    console.status(f"Workflow {obj.flow_name} {what} (run-id {run_id}, user {user}, "
                   f"{env.backend.TYPE} datastore, {md.describe()})")
    started = time.monotonic()
    scheduler = LocalScheduler(obj.flow_cls, graph, env, info, max_workers, max_num_splits,
                               origin, console)
    if origin:
        params_ref = scheduler_clone_parameters(env, info, origin)
    else:
        params_ref = store_parameters(env, info, {**params, **obj.configs})
    try:
        ok = scheduler.start(InputRef("_parameters", params_ref[0], params_ref[1]))
    except KeyboardInterrupt:
        raise RunFailed(f"run {obj.flow_name}/{run_id} was interrupted",
                        f"continue it with: python {_script(obj)} resume --origin-run-id {run_id}"
                        ) from None
    elapsed = time.monotonic() - started
    if not ok:
        raise RunFailed(f"run {obj.flow_name}/{run_id} failed after {elapsed:.1f} s: "
                        f"{scheduler.failure or 'the end step did not run'}",
                        f"fix the step, then: python {_script(obj)} resume --origin-run-id "
                        f"{run_id}")
    console.status(f"Done! Run {obj.flow_name}/{run_id} finished in {elapsed:.2f} s.")


def _script(obj: FlowContext) -> str:
    return os.path.relpath(obj.flow_file) if obj.flow_file else "flow.py"


def store_parameters(env, info, values: dict[str, Any]) -> tuple[str, int]:
    """Create the run's ``_parameters`` task holding parameter and config values."""
    from ..datastore.task_store import TaskDataStore, TaskIndex
    from ..task import artifact_records, done_metadata, start_metadata

    md = env.metadata
    md.register_step(info.flow_name, info.run_id, "_parameters", info.user)
    task_id = str(md.new_task(info.flow_name, info.run_id, "_parameters", info.user)["task_id"])
    store = TaskDataStore(env.backend, info.flow_name, info.run_id, "_parameters", task_id)
    artifacts = store.cas.save(values)
    index = TaskIndex(artifacts, {"ok": True, "targets": ["start"], "stack": []})
    md.register_metadata(info.flow_name, info.run_id, "_parameters", task_id, info.user,
                         start_metadata(env, 0))
    store.save_index(0, index)
    md.register_artifacts(info.flow_name, info.run_id, "_parameters", task_id, info.user,
                          artifact_records(index, store, env, 0))
    md.register_metadata(info.flow_name, info.run_id, "_parameters", task_id, info.user,
                         done_metadata(0, True))
    return task_id, 0


def scheduler_clone_parameters(env, info, origin) -> tuple[str, int]:
    from ..task import TaskSpec, clone_task

    found = origin.tasks.get(("_parameters", ()))
    if found is None:
        raise ResumeError(f"run {origin.run_id} has no stored parameters",
                          "start a new run instead")
    md = env.metadata
    md.register_step(info.flow_name, info.run_id, "_parameters", info.user)
    task_id = str(md.new_task(info.flow_name, info.run_id, "_parameters", info.user)["task_id"])
    spec = TaskSpec(info.flow_name, info.run_id, "_parameters", task_id, 0, [], [], 0,
                    info.user)
    clone_task(spec, origin.run_id, found[0], found[1], env)
    return task_id, 0


def find_origin(obj: FlowContext, graph, env, step: str | None, origin_run_id: str | None):
    """The run to resume, its reusable tasks and the steps to run again."""
    from ..datastore.task_store import TaskDataStore
    from ..flowspec import SplitFrame
    from ..scheduler import OriginRun, stack_key

    md, flow = env.metadata, obj.flow_name
    if origin_run_id is None:
        mine = [r for r in md.get_runs(flow)
                if f"user:{obj.settings.user}" in r.get("system_tags", [])]
        if not mine:
            raise ResumeError(f"there is no earlier run of {flow} to resume",
                              f"start one with: python {_script(obj)} run")
        origin_run_id = str(mine[0]["run_number"])
    elif md.get_run(flow, origin_run_id) is None:
        raise ResumeError(f"run {flow}/{origin_run_id} does not exist",
                          "pass an existing run id to --origin-run-id")
    if step is not None and step not in graph:
        raise ResumeError(f"{flow} has no step {step!r}",
                          f"steps: {', '.join(n.name for n in graph)}")
    tasks: dict = {}
    failed: set[str] = set()
    for name in ["_parameters"] + [n.name for n in graph]:
        for task in md.get_tasks(flow, origin_run_id, name):
            task_id = str(task["task_id"])
            attempt, ok = _latest_attempt(md.get_metadata(flow, origin_run_id, name, task_id))
            store = TaskDataStore(env.backend, flow, origin_run_id, name, task_id)
            if attempt is None or not ok or not store.has_index(attempt):
                failed.add(name)
                continue
            state = store.load_index(attempt).state
            stack = [SplitFrame.from_json(f) for f in state.get("stack", [])]
            tasks[(name, stack_key(stack))] = (task_id, attempt)
    if step is not None:
        rerun = _descendants(graph, {step})
    else:
        if not failed and any(k[0] == "end" for k in tasks):
            raise ResumeError(f"run {flow}/{origin_run_id} succeeded; there is nothing to resume",
                              f"name a step to run again: python {_script(obj)} resume STEP")
        rerun = _descendants(graph, failed - {"_parameters"})
    return OriginRun(origin_run_id, tasks, rerun)


def _latest_attempt(rows: list[dict]) -> tuple[int | None, bool]:
    attempts: dict[int, bool] = {}
    for row in rows:
        if row["field_name"] == "attempt":
            attempts.setdefault(int(row["value"]), False)
        elif row["field_name"] == "attempt_ok":
            tag = next((t for t in row.get("tags", []) if t.startswith("attempt_id:")), None)
            if tag is not None:
                attempts[int(tag.split(":", 1)[1])] = row["value"] == "True"
    if not attempts:
        return None, False
    latest = max(attempts)
    return latest, attempts[latest]


def _descendants(graph, steps: set[str]) -> set[str]:
    out, todo = set(), [s for s in steps if s in graph]
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(graph[name].out)
    return out


def main(flow_cls: type) -> None:
    """Entry point used by ``FlowSpec.__init__`` under ``__main__``."""
    cli = build_cli(flow_cls)
    args = _lift_global_options(sys.argv[1:], set(cli.commands))
    sys.exit(run_cli(cli, prog_name=os.path.basename(sys.argv[0]), args=args))
