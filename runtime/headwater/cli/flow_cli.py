"""The command line of a flow file: ``python flow.py [OPTIONS] COMMAND``.

Commands: ``run``, ``resume``, ``spin``, ``show``, ``check``, ``logs``, ``dump``, ``tag`` and the
hidden ``step`` (one task; what remote compute runs in a container). Options that belong to
the whole flow (``--config-file``, ``--config``, ``--with``, ``--namespace``,
``--datastore``, ``--metadata``, ``--quiet``) are accepted before or after the command.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from typing import TYPE_CHECKING, Any

import click

from ..exceptions import ConfigurationError

if TYPE_CHECKING:
    from ..flowspec import FlowSpec
    from ..graph import FlowGraph
from .errors import run_cli

# Options of the flow group that users also write after the command; value count for each.
GLOBAL_OPTIONS = {"--config-file": 1, "--config": 2, "--config-value": 2, "--with": 1,
                  "--namespace": 1, "--datastore": 1, "--datastore-root": 1, "--metadata": 1,
                  "--quiet": 0, "--not-quiet": 0, "--environment": 1, "--pylint": 0,
                  "--no-pylint": 0, "--event-logger": 1, "--monitor": 1}


class FlowContext:
    """The flow class plus everything the command line decided about it."""

    def __init__(self, flow_cls: type[FlowSpec]):
        from ..settings import Settings

        self.flow_cls = flow_cls
        self.flow_name = flow_cls.__name__
        self.flow_file = flow_cls._flow_file()
        self.settings = Settings()
        self.config_files: dict[str, str] = {}
        self.config_values: dict[str, str] = {}
        self.with_specs: list[str] = []
        self.namespace: str | None = None
        self.deployment_name: str | None = None  # a deployer group's --name
        self.quiet = False
        self.configs: dict[str, Any] = {}
        self.config_paths: dict[str, str] = {}
        self._graph: FlowGraph | None = None

    # --- preparing the flow --------------------------------------------------------------

    def load_configs(self) -> dict[str, Any]:
        from ..config import environment_configs, flow_configs

        configs = flow_configs(self.flow_cls)
        env_values, env_files = environment_configs(self.settings.env)
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
        unknown = sorted((set(files) | set(self.config_values)) - set(by_name))
        if unknown:
            raise ConfigurationError(f"{self.flow_name} has no config named {unknown[0]!r}",
                                     f"known configs: {', '.join(by_name) or 'none'}")
        self.config_paths = files  # name -> path, for tasks that run elsewhere
        # The command line wins over the environment; the environment names configs of
        # whichever flow it was meant for, so names this flow lacks are not errors there.
        values = {}
        for attr, config in configs.items():
            name = config.name
            if name in files:
                values[attr] = config.load(files[name], self.flow_file, self.flow_name,
                                           self.settings.user)
            elif name in self.config_values:
                values[attr] = config.from_value(self.config_values[name], "--config-value")
            elif name in env_values:
                values[attr] = config.from_value(env_values[name],
                                                 "METAFLOW_FLOW_CONFIG_VALUE")
            else:
                values[attr] = config.load(env_files.get(name), self.flow_file,
                                           self.flow_name, self.settings.user)
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


def _lift_global_options(args: list[str], commands: dict[str, click.Command]) -> list[str]:
    """Move flow-wide options written after the command to before it, except those the
    command itself declares (``argo-workflows create --namespace`` is Kubernetes')."""
    try:
        at = next(i for i, a in enumerate(args) if a in commands)
    except StopIteration:
        return args
    own = _declared_options(commands[args[at]])
    head, tail, moved = args[:at], [], []
    rest = args[at:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS and name not in own and i > 0:
            count = 0 if "=" in arg else GLOBAL_OPTIONS[name]
            moved.extend(rest[i:i + 1 + count])
            i += 1 + count
            continue
        tail.append(arg)
        i += 1
    return head + moved + tail


def _declared_options(command: click.Command) -> set[str]:
    """Option names a command (and, for a group, any of its subcommands) declares."""
    names = {o for p in command.params for o in p.opts}
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            names |= _declared_options(sub)
    return names


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
                                      metavar=param.metavar, help=help_text)
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
    @click.option("--config-value", "config_values", nargs=2, multiple=True,
                  metavar="NAME VALUE",
                  help="The Config called NAME given as JSON or TOML text (repeatable).")
    @click.option("--with", "with_specs", multiple=True, metavar="DECORATOR",
                  help="Add a decorator to every step, e.g. --with retry:times=2.")
    @click.option("--namespace", help="Namespace the run is tagged with.")
    @click.option("--datastore", type=click.Choice(["local", "azure", "s3"]),
                  help="Override METAFLOW_DEFAULT_DATASTORE.")
    @click.option("--datastore-root", help="Override the datastore's sysroot.")
    @click.option("--metadata", type=click.Choice(["local", "service"]),
                  help="Override METAFLOW_DEFAULT_METADATA.")
    @click.option("--quiet/--not-quiet", default=False, help="Do not echo task output.")
    # Metaflow's top options for its pylint pass, event logger and monitor sidecars, which
    # Headwater does not have: accepted so that command lines written for Metaflow run
    @click.option("--pylint/--no-pylint", "_pylint", default=True, hidden=True)
    @click.option("--event-logger", "_event_logger", hidden=True)
    @click.option("--monitor", "_monitor", hidden=True)
    @click.option("--environment", type=click.Choice(["local", "pypi", "conda"]),
                  default="local", help="pypi/conda: every step runs in a resolved "
                  "environment (same as --with pypi / --with conda).")
    @click.pass_context
    def cli(ctx, config_file, configs, config_values, with_specs, namespace, datastore,
            datastore_root, metadata, quiet, _pylint, _event_logger, _monitor, environment):
        obj = FlowContext(flow_cls)
        overrides = {"METAFLOW_DEFAULT_DATASTORE": datastore,
                     "METAFLOW_DEFAULT_METADATA": metadata}
        if datastore_root:
            overrides[f"METAFLOW_DATASTORE_SYSROOT_{(datastore or obj.settings.datastore_type).upper()}"] = datastore_root
        if not obj.settings.get("METAFLOW_DATASTORE_SYSROOT_LOCAL"):
            # Found once (nearest .headwater from the current directory up) so every task,
            # whatever its working directory, writes where the Client will read.
            from ..datastore.local import local_root

            overrides.setdefault("METAFLOW_DATASTORE_SYSROOT_LOCAL", local_root(obj.settings))
        for key, value in overrides.items():
            if value:
                os.environ[key] = value
                obj.settings.env[key] = value
        if config_file:
            obj.config_files[""] = config_file
        obj.config_files.update({name: path for name, path in configs})
        obj.config_values.update({name: value for name, value in config_values})
        obj.with_specs = list(with_specs) + ([environment] if environment != "local" else [])
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
        from ..launch import start_run
        from ..parameters import resolve_parameters

        graph = obj.prepare()
        # a parameter's default function sees what the flow decorators put in `current`
        # (@project's names), as in Metaflow
        from ..current import current

        for deco in getattr(obj.flow_cls, "_flow_decorators", []):
            current._set(**deco.current_values(obj.flow_name, obj.settings.user))
        values = resolve_parameters(obj.flow_cls, {k: v for k, v in params.items()
                                                   if v is not None}, obj.settings.user,
                                    obj.configs)
        start_run(run_request(obj, graph, max_workers, max_num_splits, list(tags), run_id_file),
                  {**values, **obj.configs})

    @cli.command(help="Resume a failed run: successful tasks of the origin run are reused "
                      "(by reference) and the rest runs again. STEP reruns from that step.")
    @click.argument("step", required=False)
    @click.option("--step", "step_option", multiple=True,
                  help="Same as the STEP argument (given more than once, the last is used).")
    @click.option("--origin-run-id", help="Run to resume (default: your latest run).")
    @_run_options
    @click.pass_obj
    def resume(obj: FlowContext, step, step_option, origin_run_id, max_workers,
               max_num_splits, tags, run_id_file):
        from ..launch import resume_run

        graph = obj.prepare()
        resume_run(run_request(obj, graph, max_workers, max_num_splits, list(tags), run_id_file),
                   _one_resume_step(step, step_option), origin_run_id)

    @cli.command(hidden=True, help="Run one task (used by remote compute).")
    @click.option("--spec", "spec_json", required=True, help="The task's TaskSpec as JSON.")
    @click.pass_obj
    def step(obj: FlowContext, spec_json):
        from ..task import TaskRunner, TaskSpec

        from ..environments.task_environment import enter_environment, write_result

        graph = obj.prepare()
        spec = TaskSpec.from_json(json.loads(spec_json))
        env = obj.environment()
        enter_environment(obj.flow_cls, graph, spec, env)
        result = TaskRunner(obj.flow_cls, graph, spec, env).run()
        if not write_result(result.to_json()):
            click.echo(json.dumps(result.to_json()))
        sys.exit(0 if result.ok else 1)

    from .inspect import add_inspect_commands

    add_inspect_commands(cli)
    from .deploy import add_deploy_commands

    add_deploy_commands(cli)

    from .spin import spin_command
    cli.add_command(spin_command())
    from .card import flow_card_group
    cli.add_command(flow_card_group())
    from .environment import flow_environment_group
    cli.add_command(flow_environment_group())
    return cli


def run_request(obj: FlowContext, graph, max_workers: int, max_num_splits: int,
                tags: list[str], run_id_file: str | None):
    """What the run's command line decided, for ``headwater.launch``."""
    from ..launch import RunRequest

    return RunRequest(obj.flow_cls, graph, obj.environment(), obj.settings.user,
                      obj.run_namespace(), tags, obj.system_tags(), obj.flow_file,
                      quiet=obj.quiet, max_workers=max_workers,
                      max_num_splits=max_num_splits, run_id_file=run_id_file,
                      compute_options={"with_specs": list(obj.with_specs),
                                       "config_files": dict(obj.config_paths)})


def _one_resume_step(step: str | None, step_options: tuple[str, ...]) -> str | None:
    """The step to resume from: the last one given, saying so when several differ."""
    given = ([step] if step else []) + list(step_options)
    if len(set(given)) > 1:
        what = (f"--step was given {len(given)} times" if not step else
                "STEP and --step were both given")
        click.echo(f"{what} ({', '.join(given)}): resuming from {given[-1]!r}", err=True)
    return given[-1] if given else None


def main(flow_cls: type) -> None:
    """Entry point used by ``FlowSpec.__init__`` under ``__main__``."""
    cli = build_cli(flow_cls)
    args = _lift_global_options(sys.argv[1:], dict(cli.commands))
    sys.exit(run_cli(cli, prog_name=os.path.basename(sys.argv[0]), args=args))
