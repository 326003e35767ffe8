"""``python flow.py argo-workflows ...``: deploy a flow to a production scheduler, plus the
hidden ``deployed-step`` command its tasks run."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Callable

import click

from ..exceptions import ConfigurationError

if TYPE_CHECKING:
    from .flow_cli import FlowContext

# Flow parameters after the command's own options are passed through as `--name value`.
PASS_PARAMETERS = {"ignore_unknown_options": True}


def require_shared_mode(obj: "FlowContext", target: str) -> None:
    """Production runs need the shared datastore and metadata service."""
    settings = obj.settings
    if settings.datastore_type == "local":
        raise ConfigurationError(
            f"{target} runs need a shared datastore, but METAFLOW_DEFAULT_DATASTORE is local",
            "use a shared-mode profile (METAFLOW_PROFILE=..., `headwater configure import`) "
            "with METAFLOW_DEFAULT_DATASTORE=azure or s3")
    if settings.metadata_type != "service":
        raise ConfigurationError(
            f"{target} runs need the metadata service, but METAFLOW_DEFAULT_METADATA is "
            f"{settings.metadata_type}", "set METAFLOW_DEFAULT_METADATA=service and "
            "METAFLOW_SERVICE_URL (a shared-mode profile has both)")


def refuse_other_compute(graph: Any, target: str, backend: str, instead: str) -> None:
    """A step sized for another scheduler's compute (``@batch`` on Argo, ``@kubernetes`` on
    Step Functions) is refused rather than silently run with other settings."""
    for node in graph:
        for deco in node.decorators:
            named = deco.compute_backend()
            if named is not None and named != backend:
                raise ConfigurationError(
                    f"step {node.name!r} has @{deco.name}, which {target} cannot run "
                    f"(its tasks run on {backend})",
                    f"use @{instead} for {target}, or deploy with the scheduler that matches")


def task_environment(obj: "FlowContext") -> dict[str, str]:
    """The profile as environment for a deployed task (what remote compute passes, never a
    secret), run as the deploying user, with the deployment's config values."""
    from ..compute.container import container_environment

    env = container_environment(obj.settings)
    env["METAFLOW_USER"] = obj.settings.user
    env.update(config_environment(obj))
    return env


def config_environment(obj: "FlowContext") -> dict[str, str]:
    """The flow's ``Config`` values as read at deploy time (``--config``, ``--config-value``,
    the environment, the defaults), pinned for every task of every run of the deployment:
    ``METAFLOW_FLOW_CONFIG_VALUE``, which a task reads as Metaflow does, by config name.
    A changed config file takes effect with the next ``create``, as in Metaflow."""
    from ..config import CONFIG_VALUE_VARIABLE, flow_configs

    values = {config.name: dict(obj.configs[attr])
              for attr, config in flow_configs(obj.flow_cls).items()
              if obj.configs.get(attr) is not None}
    if not values:
        return {}
    try:
        return {CONFIG_VALUE_VARIABLE: json.dumps(values, sort_keys=True,
                                                  separators=(",", ":"))}
    except TypeError as exc:
        raise ConfigurationError(f"a config value cannot be stored with the deployment: {exc}",
                                 "keep deployed configs to JSON values (strings, numbers, "
                                 "lists, tables; no dates)") from None


def deployment_name(obj: "FlowContext") -> str:
    """The scheduler-side name: the deployer group's ``--name``, else the flow, qualified by
    its @project and branch (Metaflow's project flow name, ``<project>.<branch>.<flow>``)."""
    from ..deployers.project import PROJECT_FLOW_NAME, deployment_metadata

    if obj.deployment_name:
        return obj.deployment_name
    return deployment_metadata(obj.flow_cls, obj.settings.user).get(PROJECT_FLOW_NAME,
                                                                   obj.flow_name)


def name_option(target: str) -> Callable[[Callable], Callable]:
    """A deployer group's ``--name`` (Metaflow's): the deployment's name instead of the
    flow's. Refused for a @project flow, whose name the project and branch decide."""
    def set_name(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        from ..deployers.project import project_decorator

        if value is None:
            return
        obj: "FlowContext" = ctx.obj
        if project_decorator(obj.flow_cls) is not None:
            raise ConfigurationError(
                f"{target} --name cannot rename a @project flow's deployment",
                "the project and branch name it: pass @project(branch=...) or drop --name")
        if not value.strip():
            raise ConfigurationError(f"{target} --name is empty", "give a name, or leave it out")
        obj.deployment_name = value

    return click.option("--name", callback=set_name, expose_value=False, is_eager=True,
                        help="Deploy under this name instead of the flow's.")


def flow_schedule(obj: "FlowContext") -> tuple[str | None, str | None]:
    from ..decorators.project import ScheduleDecorator

    for deco in getattr(obj.flow_cls, "_flow_decorators", []):
        if isinstance(deco, ScheduleDecorator):
            return deco.schedule, deco.attributes.get("timezone")
    return None, None


def task_command(obj: "FlowContext", graph: Any, upload: bool) -> Callable[[list[str]], list[str]]:
    """How a deployed task's container runs the flow command it is given: the container
    entry point, which unpacks the flow's code package (built here, uploaded to the
    datastore once; with ``upload=False`` only its id is worked out)."""
    import os

    from ..compute.base import ComputeContext
    from ..compute.container import container_command
    from ..package import package_for_run

    # Config values reach the tasks pinned in their environment (config_environment); the
    # files still travel in the package, for a step that opens one itself.
    ctx = ComputeContext(obj.flow_cls, graph, obj.environment(),
                         os.path.abspath(obj.flow_file or "flow.py"),
                         {"with_specs": list(obj.with_specs),
                          "config_files": dict(obj.config_paths)})
    package = package_for_run(ctx, upload=upload)
    return lambda flow_args: container_command(package, None, obj.with_specs,
                                               flow_args=flow_args)


def snapshot_environments(obj: "FlowContext", graph: Any) -> None:
    """Resolve every step environment (``@pypi``, ``@conda``) that has no snapshot yet and
    snapshot it in the shared datastore, as ``run`` does before its first task: each
    deployed task then builds its step's environment from the snapshot alone, with no
    package index. The lock is for this machine's platform, so deploy from the platform the
    task image runs (Linux)."""
    from ..console import Console
    from ..environments.declared import step_spec
    from ..environments.spec import current_platform
    from ..environments.task_environment import prepare_environments

    if not any(step_spec(obj.flow_cls, graph, node.name) for node in graph):
        return
    if not current_platform().startswith("linux-"):
        raise ConfigurationError(
            f"this flow's step environments would be resolved for {current_platform()}, but "
            "the deployed tasks run on Linux", "deploy from Linux (e.g. CI or the task image)")
    prepare_environments(obj.flow_cls, graph, obj.environment().backend,
                         Console(quiet=obj.quiet).status)


def add_deploy_commands(cli: click.Group) -> None:
    """Register the deployer commands on a flow's CLI."""
    from ..deployers.step_functions import DEFAULT_INLINE_MAP_LIMIT
    from ..parameters import flow_parameters

    @cli.command("deployed-step", hidden=True, context_settings=PASS_PARAMETERS,
                 help="Run one task of a deployed flow (used by Argo Workflows pods).")
    @click.option("--run-id", required=True)
    @click.option("--step", "step_name", required=True)
    @click.option("--path", "path_text", default="")
    @click.option("--attempt", default="0", help="Attempt number, or 'auto' (count them).")
    @click.option("--outputs-dir", help="Write outputs as files here (Argo Workflows).")
    @click.option("--outputs-table", help="Write outputs to this DynamoDB table (Step Functions).")
    @click.option("--inline-map-limit", type=int,
                  help="A foreach with more items writes them to the S3 datastore "
                       "(Step Functions' distributed Map).")
    @click.option("--tag", "tags", multiple=True)
    @click.argument("parameter_args", nargs=-1, type=click.UNPROCESSED)
    @click.pass_obj
    def deployed_step(obj: "FlowContext", run_id, step_name, path_text, attempt, outputs_dir,
                      outputs_table, inline_map_limit, tags, parameter_args):
        from ..deployers.coordinates import parse_path
        from ..deployers.deployed_step import DynamoDBOutputs, FileOutputs, run_deployed_step
        from ..parameters import resolve_parameters

        graph = obj.prepare()
        values = None
        if step_name == "start":
            given = _parse_parameter_args(obj.flow_cls, list(parameter_args))
            values = {**resolve_parameters(obj.flow_cls, given, obj.settings.user, obj.configs),
                      **obj.configs}
        env = obj.environment()
        outputs = (FileOutputs(outputs_dir) if outputs_dir else
                   DynamoDBOutputs(outputs_table, inline_map_limit, env.backend)
                   if outputs_table else None)
        runtime = "step-functions" if outputs_table else "argo-workflows"
        result = run_deployed_step(
            obj.flow_cls, graph, env, run_id=run_id, step=step_name,
            path=parse_path(path_text), attempt=-1 if attempt == "auto" else int(attempt),
            user=obj.settings.user, namespace=obj.run_namespace(), tags=list(tags),
            system_tags=[t for t in obj.system_tags() if not t.startswith("runtime:")]
            + [f"runtime:{runtime}"], parameters=values,
            outputs=outputs)
        sys.exit(0 if result.ok else 1)

    @cli.group("argo-workflows", help="Deploy the flow to Argo Workflows (AKS/EKS).")
    @name_option("argo-workflows")
    def argo_workflows() -> None:
        pass

    @argo_workflows.command(help="Compile the flow into a WorkflowTemplate (and a CronWorkflow "
                                 "for @schedule) and apply it.")
    @click.option("--namespace", "k8s_namespace",
                  help="Kubernetes namespace (default: METAFLOW_KUBERNETES_NAMESPACE).")
    @click.option("--tag", "tags", multiple=True, help="Tag every run (repeatable).")
    @click.option("--max-workers", type=click.IntRange(1), help="Pods running at once.")
    @click.option("--workflow-timeout", type=click.IntRange(1),
                  help="Fail a run that takes longer (seconds).")
    @click.option("--only-json", is_flag=True, help="Print the objects; apply nothing.")
    @click.pass_obj
    def create(obj: "FlowContext", k8s_namespace, tags, max_workers, workflow_timeout,
               only_json):
        objects = _compile_argo(obj, k8s_namespace, list(tags), max_workers, workflow_timeout,
                                upload=not only_json)
        if only_json:
            click.echo(json.dumps(objects if len(objects) > 1 else objects[0], indent=2))
            return
        from ..deployers.argo_client import apply, custom_objects_api

        api = custom_objects_api(obj.settings.get("METAFLOW_KUBERNETES_CONTEXT"))
        for item in objects:
            apply(api, item)
            click.echo(f"Applied {item['kind']} {item['metadata']['namespace']}/"
                       f"{item['metadata']['name']}.")
        click.echo(f"Start a run with: python {_script(obj)} argo-workflows trigger")

    @argo_workflows.command(help="Start a run of the deployed flow; prints its run id. "
                                 "Parameters as for run: --name VALUE.",
                            context_settings=PASS_PARAMETERS)
    @click.option("--namespace", "k8s_namespace", help="Kubernetes namespace.")
    @click.argument("parameter_args", nargs=-1, type=click.UNPROCESSED)
    @click.pass_obj
    def trigger(obj: "FlowContext", k8s_namespace, parameter_args):
        from ..deployers.argo_client import custom_objects_api, submit
        from ..deployers.argo import k8s_name

        given = _parse_parameter_args(obj.flow_cls, list(parameter_args))
        params = {flow_parameters(obj.flow_cls)[k].name: str(v) for k, v in given.items()}
        api = custom_objects_api(obj.settings.get("METAFLOW_KUBERNETES_CONTEXT"))
        name = submit(api, _namespace(obj, k8s_namespace), k8s_name(deployment_name(obj)),
                      params)
        click.echo(f"Workflow {name} started: run {obj.flow_name}/argo-{name}")

    @argo_workflows.command(help="Remove the deployed WorkflowTemplate and its schedule.")
    @click.option("--namespace", "k8s_namespace", help="Kubernetes namespace.")
    @click.pass_obj
    def delete(obj: "FlowContext", k8s_namespace):
        from ..deployers.argo_client import custom_objects_api, delete as delete_objects
        from ..deployers.argo import k8s_name

        api = custom_objects_api(obj.settings.get("METAFLOW_KUBERNETES_CONTEXT"))
        name = k8s_name(deployment_name(obj))
        gone = delete_objects(api, _namespace(obj, k8s_namespace), name)
        click.echo(f"Deleted {', '.join(gone)} {name}." if gone
                   else f"Nothing named {name} is deployed.")

    @argo_workflows.command("list-runs", help="List runs of the deployed flow.")
    @click.option("--namespace", "k8s_namespace", help="Kubernetes namespace.")
    @click.pass_obj
    def list_runs(obj: "FlowContext", k8s_namespace):
        from ..deployers.argo_client import custom_objects_api, list_runs as list_workflows
        from ..deployers.argo import k8s_name

        api = custom_objects_api(obj.settings.get("METAFLOW_KUBERNETES_CONTEXT"))
        for wf in list_workflows(api, _namespace(obj, k8s_namespace),
                                 k8s_name(deployment_name(obj))):
            status = wf.get("status", {})
            click.echo(f"argo-{wf['metadata']['name']}  {status.get('phase', 'Pending'):<10} "
                       f"started {status.get('startedAt') or '-'}")


    @cli.group("step-functions", help="Deploy the flow to AWS Step Functions (tasks on AWS "
                                      "Batch).")
    @name_option("step-functions")
    def step_functions() -> None:
        pass

    @step_functions.command("create", help="Compile the flow into a state machine and deploy "
                                           "it (created, or updated in place).")
    @click.option("--schedule", help="EventBridge schedule, e.g. 'cron(0 2 * * ? *)' "
                                     "(default: the flow's @schedule).")
    @click.option("--role", help="IAM role the state machine runs as (default: "
                                 "METAFLOW_SFN_IAM_ROLE).")
    @click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
                  help="Tag the state machine and every run (repeatable).")
    @click.option("--max-workers", type=click.IntRange(1), help="Items of a foreach at once.")
    @click.option("--inline-map-limit", type=click.IntRange(0),
                  default=DEFAULT_INLINE_MAP_LIMIT, show_default=True,
                  help="A foreach with more items runs as a distributed Map (child "
                       "executions) instead of an inline one; 0: always distributed.")
    @click.option("--only-json", is_flag=True, help="Print the state machine; deploy nothing.")
    @click.pass_obj
    def sfn_create(obj: "FlowContext", schedule, role, tags, max_workers, inline_map_limit,
                   only_json):
        from ..deployers.schedules import check_timezone, eventbridge_schedule

        settings = obj.settings
        obj.prepare()  # resolves config placeholders in @schedule
        flow_cron, timezone = flow_schedule(obj)
        cron = schedule or flow_cron
        expression = eventbridge_schedule(cron) if cron else None
        timezone = check_timezone(timezone) if expression else None
        definition, bodies = _compile_step_functions(obj, list(tags), max_workers,
                                                     inline_map_limit, upload=not only_json)
        if only_json:
            click.echo(json.dumps(definition, indent=2))
            return
        import boto3

        from ..deployers import step_functions_client as api

        role = role or settings.get("METAFLOW_SFN_IAM_ROLE")
        if not role:
            raise ConfigurationError("no IAM role for the state machine",
                                     "pass --role ARN or set METAFLOW_SFN_IAM_ROLE")
        batch = boto3.client("batch")
        for body in bodies.values():
            api.register_job_definition(batch, body)
        name = _state_machine_name(obj)
        from ..deployers.project import deployment_metadata

        # Metaflow's metaflow/* keys (flow, owner, @project), then the user's --tag k=v
        resource_tags = {**deployment_metadata(obj.flow_cls, settings.user),
                         **dict(t.split("=", 1) for t in tags if "=" in t)}
        arn = api.deploy_state_machine(boto3.client("stepfunctions"), name, definition, role,
                                       resource_tags,
                                       settings.get("METAFLOW_SFN_EXECUTION_LOG_GROUP_ARN"))
        click.echo(f"Deployed state machine {arn}.")
        if expression:
            events_role = settings.require("METAFLOW_EVENTS_SFN_ACCESS_IAM_ROLE",
                                           "to let EventBridge start scheduled runs")
            api.put_schedule(boto3.client("events"), boto3.client("scheduler"), name,
                             expression, timezone, arn, events_role)
            click.echo(f"Scheduled: {expression}" + (f" ({timezone}, EventBridge Scheduler)."
                                                     if timezone else " (UTC)."))
        click.echo(f"Start a run with: python {_script(obj)} step-functions trigger")

    @step_functions.command("trigger", context_settings=PASS_PARAMETERS,
                            help="Start a run of the deployed flow; prints its run id. "
                                 "Parameters as for run: --name VALUE.")
    @click.argument("parameter_args", nargs=-1, type=click.UNPROCESSED)
    @click.pass_obj
    def sfn_trigger(obj: "FlowContext", parameter_args):
        import boto3

        from ..deployers import step_functions_client as api

        given = _parse_parameter_args(obj.flow_cls, list(parameter_args))
        params = {k: str(v) for k, v in given.items()}  # the definition's keys: attributes
        execution = api.start(boto3.client("stepfunctions"), _state_machine_name(obj), params)
        click.echo(f"Execution {execution} started: run {obj.flow_name}/sfn-{execution}")

    @step_functions.command("delete", help="Remove the state machine and its schedule.")
    @click.pass_obj
    def sfn_delete(obj: "FlowContext"):
        import boto3

        from ..deployers import step_functions_client as api

        name = _state_machine_name(obj)
        gone = api.delete(boto3.client("stepfunctions"), boto3.client("events"),
                          boto3.client("scheduler"), name)
        click.echo(f"Deleted the {' and the '.join(gone)} of {name}." if gone
                   else f"Nothing named {name} is deployed.")

    @step_functions.command("list-runs", help="List runs of the deployed flow.")
    @click.pass_obj
    def sfn_list_runs(obj: "FlowContext"):
        import boto3

        from ..deployers import step_functions_client as api

        for ex in api.list_executions(boto3.client("stepfunctions"), _state_machine_name(obj)):
            click.echo(f"sfn-{ex['name']}  {ex['status']:<10} started {ex['startDate']}")


def _state_machine_name(obj: "FlowContext") -> str:
    import re

    # <prefix>_<flow>: the stacks grant Step Functions rights on "<prefix>_*" only
    prefix = obj.settings.get("METAFLOW_SFN_STATE_MACHINE_PREFIX")
    name = re.sub(r"[^A-Za-z0-9_-]", "_", deployment_name(obj))
    return (f"{prefix}_{name}" if prefix else name)[:80]


def _compile_step_functions(obj: "FlowContext", tags: list[str], max_workers: int | None,
                            inline_map_limit: int, upload: bool) -> tuple[dict, dict[str, dict]]:
    """The state machine definition, and the job definitions it names (by step)."""
    from ..deployers.step_functions import StepFunctionsCompiler, StepFunctionsOptions
    from ..deployers.step_functions_client import job_definition_body
    from ..decorators.resources import ResourcesDecorator

    graph = obj.prepare()
    require_shared_mode(obj, "Step Functions")
    refuse_other_compute(graph, "Step Functions", "batch", "batch")
    settings = obj.settings
    queue = settings.require("METAFLOW_BATCH_JOB_QUEUE", "to run the flow's tasks on AWS Batch")
    table = settings.require("METAFLOW_SFN_DYNAMO_DB_TABLE",
                             "for the state foreach and conditional steps hand on")
    image = settings.get("METAFLOW_BATCH_CONTAINER_IMAGE") or settings.get(
        "METAFLOW_DEFAULT_CONTAINER_IMAGE")
    if not image:
        raise ConfigurationError("no container image for the flow's tasks",
                                 "set METAFLOW_BATCH_CONTAINER_IMAGE (the image built from "
                                 "infra/images/task.Dockerfile)")
    bodies: dict[str, dict] = {}
    for node in graph:
        req = {"cpu": 1, "memory": 4096, "gpu": 0}
        for deco in node.decorators:
            if isinstance(deco, ResourcesDecorator):
                req.update(deco.requests())
        bodies[node.name] = job_definition_body(
            f"{_state_machine_name(obj)}-{node.name}", image, float(req["cpu"]),
            int(float(req["memory"])), int(float(req.get("gpu") or 0)),
            settings.get("METAFLOW_ECS_S3_ACCESS_IAM_ROLE"),
            settings.get("METAFLOW_ECS_FARGATE_EXECUTION_ROLE"),
            fargate=bool(settings.get("METAFLOW_ECS_FARGATE_EXECUTION_ROLE")),
            log_group=settings.get("METAFLOW_BATCH_LOG_GROUP"))
    options = StepFunctionsOptions(name=_state_machine_name(obj), job_queue=queue,
                                   state_table=table, environment=task_environment(obj),
                                   tags=[t for t in tags], max_workers=max_workers,
                                   inline_map_limit=inline_map_limit)
    backend = obj.environment().backend
    if backend.TYPE == "s3":  # where wide foreaches leave their items for distributed Maps
        options.items_bucket = backend.bucket
        options.items_prefix = f"{backend.prefix}/" if backend.prefix else ""
    compiler = StepFunctionsCompiler(obj.flow_cls, graph, options,
                                     command=task_command(obj, graph, upload),
                                     job_definition=lambda n: bodies[n.name]["jobDefinitionName"])
    if upload:
        snapshot_environments(obj, graph)
    return compiler.definition(), bodies


def _script(obj: "FlowContext") -> str:
    import os

    return os.path.relpath(obj.flow_file) if obj.flow_file else "flow.py"


def _namespace(obj: "FlowContext", given: str | None) -> str:
    return given or obj.settings.get("METAFLOW_KUBERNETES_NAMESPACE") or "default"


def _parse_parameter_args(flow_cls: type, args: list[str]) -> dict[str, Any]:
    """``--name value`` pairs (as ``run`` takes them) -> {attribute: raw value}."""
    from ..exceptions import ParameterError
    from ..parameters import flow_parameters

    by_option = {p.option_name: attr for attr, p in flow_parameters(flow_cls).items()}
    given: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if name not in by_option:
            known = ", ".join(f"--{o}" for o in by_option) or "none"
            raise ParameterError(f"{flow_cls.__name__} has no parameter {arg!r}",
                                 f"known parameters: {known}")
        if not eq:
            if i + 1 >= len(args):
                raise ParameterError(f"parameter {arg} needs a value", f"pass {arg} VALUE")
            value = args[i + 1]
            i += 1
        given[by_option[name]] = value
        i += 1
    return given


def step_pod(obj: "FlowContext") -> Callable:
    """A step's container and pod fields on Kubernetes, exactly as ``--with kubernetes``
    builds them (``@kubernetes`` over the profile, sizes combined with ``@resources``), run
    as the deploying user."""
    from ..compute.kubernetes import task_pod
    from ..decorators.kubernetes import KubernetesDecorator

    settings = obj.settings
    configs = config_environment(obj)

    def pod(node: Any, command: list[str]) -> tuple[dict, dict]:
        deco = next((d for d in node.decorators if isinstance(d, KubernetesDecorator)),
                    None) or KubernetesDecorator()
        resolved = deco.resolve(settings, list(node.decorators))
        if not resolved["image"]:
            raise ConfigurationError("no container image for the flow's tasks",
                                     "set METAFLOW_KUBERNETES_CONTAINER_IMAGE (the image built "
                                     "from infra/images/task.Dockerfile) or @kubernetes(image=)")
        container, fields = task_pod(resolved, command, settings)
        container.pop("name", None)  # Argo names a template's container itself
        if not any(e["name"] == "METAFLOW_USER" for e in container["env"]):
            container["env"].append({"name": "METAFLOW_USER", "value": settings.user})
        container["env"] += [{"name": k, "value": v} for k, v in configs.items()]
        return container, fields

    return pod


def _compile_argo(obj: "FlowContext", k8s_namespace: str | None, tags: list[str],
                  max_workers: int | None, workflow_timeout: int | None,
                  upload: bool) -> list[dict]:
    from ..deployers.argo import ArgoCompiler, ArgoOptions, k8s_name
    from ..deployers.project import deployment_metadata, project_labels

    graph = obj.prepare()
    require_shared_mode(obj, "Argo Workflows")
    refuse_other_compute(graph, "Argo Workflows", "kubernetes", "kubernetes")
    settings = obj.settings
    schedule, timezone = flow_schedule(obj)
    if schedule:
        from ..deployers.schedules import argo_schedule, check_timezone

        schedule, timezone = argo_schedule(schedule), check_timezone(timezone)
    metadata = deployment_metadata(obj.flow_cls, settings.user)
    options = ArgoOptions(
        namespace=_namespace(obj, k8s_namespace), name=k8s_name(deployment_name(obj)),
        tags=tags, labels=project_labels(metadata), annotations=metadata,
        service_account=settings.get("METAFLOW_KUBERNETES_SERVICE_ACCOUNT"),
        max_workers=max_workers, workflow_timeout=workflow_timeout,
        schedule=schedule, timezone=timezone)
    compiler = ArgoCompiler(obj.flow_cls, graph, options,
                            command=task_command(obj, graph, upload), pod=step_pod(obj))
    if upload:
        snapshot_environments(obj, graph)
    objects = [compiler.workflow_template()]
    cron = compiler.cron_workflow()
    if cron:
        objects.append(cron)
    return objects
