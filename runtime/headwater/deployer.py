"""Deploying flows from Python: ``Deployer``, with the Metaflow API users know.

    deployed = Deployer("flow.py").argo_workflows().create(max_workers=4)
    triggered = deployed.trigger(alpha=0.5)
    triggered.wait_for_run().data      # the Client Run, once its start task runs
    triggered.status, triggered.terminate(), deployed.delete()
    DeployedFlow.from_deployment("linearflow")   # later, without the flow file

``create`` runs the flow's own ``argo-workflows create`` / ``step-functions create`` command
in a child process (the flow's code is imported and packaged there, never in the caller).
Everything after it needs only the deployment's name, so ``trigger``, ``status``,
``terminate``, ``delete`` and ``from_deployment`` talk to the scheduler directly through the
deployers' clients (``deployers/argo_client.py``, ``deployers/step_functions_client.py``):
no flow file and no interpreter start.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Iterator

from .exceptions import HeadwaterException, MetaflowNotFound
from .runner import _option, flow_name_of
from .settings import Settings

if TYPE_CHECKING:
    import click

    from .client import Run


class DeployerError(HeadwaterException):
    headline = "Deployer error"


class DeployerType(str, Enum):
    """The production schedulers a flow deploys to (the CLI group names)."""

    ARGO_WORKFLOWS = "argo-workflows"
    STEP_FUNCTIONS = "step-functions"

    @property
    def method_name(self) -> str:
        return self.value.replace("-", "_")


def _parameter_text(value: Any) -> str:
    """A parameter value as the deployed start step parses it (as ``run --name VALUE``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)


def _cli_command(kind: DeployerType, command: str) -> "click.Command":
    """The flow CLI's ``<kind> <command>`` as a plain click object (its options are read
    from it, so the facade accepts exactly what the command line does)."""
    import click

    from .cli.deploy import add_deploy_commands

    cli = click.Group("flow")
    add_deploy_commands(cli)
    return cli.commands[kind.value].commands[command]  # type: ignore[attr-defined]


def _command_args(kind: DeployerType, command: str, kwargs: dict[str, Any],
                  refused: tuple[str, ...] = ()) -> list[str]:
    """``max_workers=4, tags=["a"]`` -> ``--max-workers 4 --tag a`` for ``command``'s
    options (named by their Python name or their flag: ``tags`` and ``tag`` both work)."""
    import click

    options: dict[str, click.Option] = {}
    for param in _cli_command(kind, command).params:
        if isinstance(param, click.Option) and not param.hidden and param.name not in refused:
            options[param.name] = param
            options[param.opts[0].lstrip("-").replace("-", "_")] = param
    args: list[str] = []
    for key, value in kwargs.items():
        option = options.get(key)
        if option is None:
            known = ", ".join(sorted(options)) or "none"
            raise DeployerError(f"{kind.value} {command} has no option {key!r}",
                                f"known options: {known}")
        flag = option.opts[0]
        if option.is_flag:
            args += [flag] if value else []
        elif option.multiple:
            for item in value if isinstance(value, (list, tuple)) else [value]:
                args += [flag, str(item)]
        elif value is not None:
            args += [flag, str(value)]
    return args


class Deployer:
    """Deploys a flow file to a production scheduler.

    ``Deployer(flow_file, show_output=True, profile=None, env=None, cwd=None, **options)``:
    ``options`` are the flow's top-level options (as for ``Runner``); ``env`` and ``profile``
    apply to the deploying command and to the settings the later calls read.
    """

    def __init__(self, flow_file: str, show_output: bool = True, profile: str | None = None,
                 env: dict[str, str] | None = None, cwd: str | None = None,
                 file_read_timeout: int = 3600, **options: Any):
        if not os.path.isfile(flow_file):
            raise DeployerError(f"flow file {flow_file!r} does not exist",
                                "pass the path of a file that defines the flow")
        self.flow_file = os.path.abspath(flow_file)
        self.show_output = show_output
        self.profile = profile
        self.env = env
        self.cwd = cwd
        self.file_read_timeout = file_read_timeout
        self.top_level_kwargs = options

    def _impl(self, cls: type["DeployerImpl"], deployer_kwargs: dict[str, Any]) -> "DeployerImpl":
        if deployer_kwargs:
            raise DeployerError(
                f"{cls.TYPE.value} takes no deployer options here (got "
                f"{', '.join(sorted(deployer_kwargs))})",
                "the deployment is named after the flow (and its @project branch); pass "
                "options such as namespace= or tags= to create()")
        return cls(self.flow_file, show_output=self.show_output, profile=self.profile,
                   env=self.env, cwd=self.cwd, file_read_timeout=self.file_read_timeout,
                   **self.top_level_kwargs)

    def argo_workflows(self, **deployer_kwargs: Any) -> "ArgoWorkflowsDeployer":
        """Deploy to Argo Workflows (Kubernetes)."""
        return self._impl(ArgoWorkflowsDeployer, deployer_kwargs)  # type: ignore[return-value]

    def step_functions(self, **deployer_kwargs: Any) -> "StepFunctionsDeployer":
        """Deploy to AWS Step Functions (tasks on AWS Batch)."""
        return self._impl(StepFunctionsDeployer, deployer_kwargs)  # type: ignore[return-value]


class DeployerImpl:
    """One scheduler's deployer: ``create`` runs the flow's deploy command."""

    TYPE: ClassVar[DeployerType]
    # the line of the create command's output that names what was deployed
    CREATED: ClassVar[re.Pattern[str]]

    def __init__(self, flow_file: str | None, show_output: bool = True,
                 profile: str | None = None, env: dict[str, str] | None = None,
                 cwd: str | None = None, file_read_timeout: int = 3600, **options: Any):
        self.flow_file = flow_file
        self.show_output = show_output
        self.profile = profile
        self.env = env
        self.cwd = cwd
        self.file_read_timeout = file_read_timeout
        self.top_level_kwargs = options
        self.env_vars = dict(os.environ)
        self.env_vars.update(env or {})
        if profile:
            self.env_vars["METAFLOW_PROFILE"] = profile
        self.settings = Settings(env=self.env_vars, profile=profile)
        self.name: str | None = None
        self.flow_name: str | None = flow_name_of(flow_file) if flow_file else None
        self.metadata: str | None = None

    def __enter__(self) -> "DeployerImpl":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def create(self, **kwargs: Any) -> "DeployedFlow":
        """Compile and deploy the flow (``kwargs`` are the create command's options);
        returns the deployed flow."""
        if self.flow_file is None:
            raise DeployerError("this deployment was looked up without its flow file",
                                "create it with Deployer('flow.py')")
        top: list[str] = []
        for name, value in self.top_level_kwargs.items():
            top += _option(name.rstrip("_"), value)
        argv = [sys.executable, self.flow_file, *top, self.TYPE.value, "create",
                *_command_args(self.TYPE, "create", kwargs, refused=("only_json",))]
        try:
            proc = subprocess.run(argv, env=self.env_vars, cwd=self.cwd, capture_output=True,
                                  text=True, stdin=subprocess.DEVNULL,
                                  timeout=self.file_read_timeout)
        except subprocess.TimeoutExpired:
            raise DeployerError(f"{self.TYPE.value} create did not finish in "
                                f"{self.file_read_timeout} s",
                                "raise file_read_timeout, or run the command by hand to see "
                                "where it hangs") from None
        if self.show_output:
            sys.stdout.write(proc.stdout)
            sys.stderr.write(proc.stderr)
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            raise DeployerError(f"{self.TYPE.value} create failed for {self.flow_file}: "
                                + (" / ".join(lines[-3:]) or f"exit code {proc.returncode}"),
                                "the lines above are the command's own error")
        found = self.CREATED.search(proc.stdout)
        if found is None:
            raise DeployerError(f"{self.TYPE.value} create succeeded but did not say what it "
                                f"deployed: {proc.stdout.strip()[-300:]}",
                                "report this: the create command's output changed")
        self._created(found)
        self.metadata = _metadata_of(self.settings)
        return self.deployed_flow_type()(self)

    def _created(self, found: re.Match[str]) -> None:
        raise NotImplementedError

    @staticmethod
    def deployed_flow_type() -> type["DeployedFlow"]:
        raise NotImplementedError


def _metadata_of(settings: Settings) -> str:
    """``service@URL`` or ``local@ROOT``, as Metaflow's ``get_metadata()`` names it."""
    kind = settings.metadata_type
    where = settings.get("METAFLOW_SERVICE_URL") if kind == "service" else \
        settings.get("METAFLOW_DATASTORE_SYSROOT_LOCAL")
    return f"{kind}@{where}" if where else kind


class TriggeredRun:
    """A run started on a production scheduler: ``pathspec`` (``Flow/run-id``) and ``name``
    (the scheduler's own name for it), its Client ``run`` once it exists, ``status``."""

    def __init__(self, deployer: DeployerImpl, pathspec: str, name: str,
                 metadata: str | None = None):
        self.deployer = deployer
        self.pathspec = pathspec
        self.name = name
        self.metadata_for_flow = metadata

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pathspec!r})"

    @property
    def run(self) -> "Run | None":
        """The Client ``Run``: None until the run's start task has started."""
        from .client import Run

        try:
            return Run(self.pathspec, _namespace_check=False)
        except MetaflowNotFound:
            return None

    def wait_for_run(self, check_interval: float = 5, timeout: float | None = None) -> "Run":
        """Block until ``run`` exists; TimeoutError after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.run
            if run is not None:
                return run
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{self.pathspec} did not start within {timeout} s")
            time.sleep(check_interval)

    @property
    def status(self) -> str | None:
        raise NotImplementedError

    @property
    def is_running(self) -> bool:
        return self.status in ("Pending", "Running")

    def wait_for_completion(self, check_interval: float = 5,
                            timeout: float | None = None) -> None:
        """Block until the run has finished (any outcome); TimeoutError after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_running:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{self.pathspec} did not finish within {timeout} s")
            time.sleep(check_interval)

    def terminate(self, **kwargs: Any) -> bool:
        raise NotImplementedError


class DeployedFlow:
    """A flow deployed to a scheduler: ``trigger`` a run, ``delete`` the deployment. Found
    again later with ``DeployedFlow.from_deployment(name)``."""

    TYPE: ClassVar[DeployerType | None] = None

    def __init__(self, deployer: DeployerImpl):
        self.deployer = deployer
        self.name: str = deployer.name or ""
        self.flow_name: str = deployer.flow_name or ""
        self.metadata = deployer.metadata

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, flow={self.flow_name!r})"

    def trigger(self, **params: Any) -> TriggeredRun:
        raise NotImplementedError

    def delete(self, **kwargs: Any) -> bool:
        raise NotImplementedError

    @property
    def production_token(self) -> str | None:
        """Always None: Headwater deployments are guarded by the scheduler's access rights,
        not by production tokens."""
        return None

    # --- finding deployments without the flow file ---------------------------------------

    @staticmethod
    def _type(impl: str | DeployerType | None) -> type["DeployedFlow"]:
        settings = Settings()
        name = str(getattr(impl, "value", impl) or settings.get(
            "METAFLOW_DEFAULT_FROM_DEPLOYMENT_IMPL") or DeployerType.ARGO_WORKFLOWS.value)
        for kind, cls in DEPLOYED_FLOW_TYPES.items():
            if name in (kind.value, kind.method_name):
                return cls
        known = ", ".join(k.method_name for k in DEPLOYED_FLOW_TYPES)
        raise DeployerError(f"no deployer {name!r}", f"use one of: {known}")

    @classmethod
    def from_deployment(cls, identifier: str, metadata: str | None = None,
                        impl: str | DeployerType | None = None) -> "DeployedFlow":
        """The deployment named ``identifier`` (``impl`` defaults to
        METAFLOW_DEFAULT_FROM_DEPLOYMENT_IMPL, else argo-workflows)."""
        target = cls if cls.TYPE is not None and impl is None else cls._type(impl)
        return target._lookup(identifier, metadata)

    @classmethod
    def from_argo_workflows(cls, identifier: str, metadata: str | None = None) -> "DeployedFlow":
        return ArgoWorkflowsDeployedFlow._lookup(identifier, metadata)

    @classmethod
    def from_step_functions(cls, identifier: str, metadata: str | None = None) -> "DeployedFlow":
        return StepFunctionsDeployedFlow._lookup(identifier, metadata)

    @classmethod
    def get_triggered_run(cls, identifier: str, run_id: str, metadata: str | None = None,
                          impl: str | DeployerType | None = None) -> TriggeredRun:
        """The run ``run_id`` (``argo-...`` / ``sfn-...``) of deployment ``identifier``."""
        deployed = cls.from_deployment(identifier, metadata, impl)
        return deployed._triggered(run_id)

    @classmethod
    def list_deployed_flows(cls, flow_name: str | None = None,
                            impl: str | DeployerType | None = None) -> Iterator["DeployedFlow"]:
        """Every deployment (of ``flow_name``, when given) the scheduler holds."""
        target = cls if cls.TYPE is not None and impl is None else cls._type(impl)
        return target._list(flow_name)

    @classmethod
    def _lookup(cls, identifier: str, metadata: str | None) -> "DeployedFlow":
        raise NotImplementedError

    @classmethod
    def _list(cls, flow_name: str | None) -> Iterator["DeployedFlow"]:
        raise NotImplementedError

    def _triggered(self, run_id: str) -> TriggeredRun:
        raise NotImplementedError

    @classmethod
    def _found(cls, deployer_type: type[DeployerImpl], name: str, flow_name: str,
               metadata: str | None, **extra: Any) -> "DeployedFlow":
        deployer = deployer_type(None)
        deployer.name, deployer.flow_name = name, flow_name
        deployer.metadata = metadata or _metadata_of(deployer.settings)
        for key, value in extra.items():
            setattr(deployer, key, value)
        return cls(deployer)


# --- Argo Workflows -------------------------------------------------------------------------


class ArgoWorkflowsDeployer(DeployerImpl):
    TYPE = DeployerType.ARGO_WORKFLOWS
    CREATED = re.compile(r"^Applied WorkflowTemplate ([^/\s]+)/(\S+?)\.$", re.MULTILINE)
    namespace: str = "default"

    def _created(self, found: re.Match[str]) -> None:
        self.namespace, self.name = found.group(1), found.group(2)

    @staticmethod
    def deployed_flow_type() -> type[DeployedFlow]:
        return ArgoWorkflowsDeployedFlow

    def api(self) -> Any:
        from .deployers.argo_client import custom_objects_api

        return custom_objects_api(self.settings.get("METAFLOW_KUBERNETES_CONTEXT"))


def _argo_get(api: Any, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
    from kubernetes.client.exceptions import ApiException

    from .deployers.argo_client import GROUP, VERSION, ArgoApiError

    try:
        return api.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise ArgoApiError(f"reading {plural} {namespace}/{name}: {exc.reason}",
                           "check that the cluster is reachable (kubectl get nodes)") from None


class ArgoWorkflowsTriggeredRun(TriggeredRun):
    """A Workflow submitted from the deployed WorkflowTemplate (run id ``argo-<name>``)."""

    deployer: ArgoWorkflowsDeployer

    def _workflow(self) -> tuple[Any, dict[str, Any] | None]:
        api = self.deployer.api()
        return api, _argo_get(api, self.deployer.namespace, "workflows", self.name)

    @property
    def status(self) -> str | None:
        """The Workflow's phase (``Pending``, ``Running``, ``Succeeded``, ``Failed``), as
        Metaflow reports it: ``Error`` counts as ``Failed``, and a Workflow whose run has
        not started yet is ``Pending``. None when the Workflow is gone."""
        _, workflow = self._workflow()
        if workflow is None:
            return None
        phase = (workflow.get("status") or {}).get("phase") or "Pending"
        phase = {"Error": "Failed"}.get(phase, phase)
        if phase == "Running" and self.run is None:
            return "Pending"
        return phase

    def _set_spec(self, **fields: Any) -> bool:
        from kubernetes.client.exceptions import ApiException

        from .deployers.argo_client import GROUP, VERSION, ArgoApiError

        api, workflow = self._workflow()
        if workflow is None:
            return False
        workflow["spec"].update(fields)
        try:
            api.replace_namespaced_custom_object(GROUP, VERSION, self.deployer.namespace,
                                                 "workflows", self.name, workflow)
        except ApiException as exc:
            raise ArgoApiError(f"updating workflow {self.name}: {exc.reason}",
                               "retry; another client changed the workflow meanwhile") from None
        return True

    def terminate(self, **kwargs: Any) -> bool:
        """Stop the Workflow now (Argo's ``shutdown: Terminate``); False when it is gone."""
        return self._set_spec(shutdown="Terminate")

    def suspend(self, **kwargs: Any) -> bool:
        """Pause the Workflow: no new pods start until ``unsuspend``."""
        return self._set_spec(suspend=True)

    def unsuspend(self, **kwargs: Any) -> bool:
        return self._set_spec(suspend=False)


class ArgoWorkflowsDeployedFlow(DeployedFlow):
    """A WorkflowTemplate (and its CronWorkflow for ``@schedule``)."""

    TYPE = DeployerType.ARGO_WORKFLOWS
    deployer: ArgoWorkflowsDeployer

    def _template(self) -> dict[str, Any]:
        template = _argo_get(self.deployer.api(), self.deployer.namespace,
                             "workflowtemplates", self.name)
        if template is None:
            raise DeployerError(f"no WorkflowTemplate {self.deployer.namespace}/{self.name} "
                                "is deployed", "create it first: Deployer(...).argo_workflows()"
                                ".create()")
        return template

    def trigger(self, **params: Any) -> ArgoWorkflowsTriggeredRun:
        """Submit a Workflow with ``params`` (the flow's parameters, by name)."""
        from .deployers.argo_client import submit

        declared = [p["name"] for p in self._template()["spec"].get("arguments", {}).get(
            "parameters", [])]
        given: dict[str, str] = {}
        for key, value in params.items():
            name = key if key in declared else key.replace("_", "-")
            if name not in declared:
                raise DeployerError(f"{self.flow_name} has no parameter {key!r}",
                                    f"known parameters: {', '.join(declared) or 'none'}")
            given[name] = _parameter_text(value)
        workflow = submit(self.deployer.api(), self.deployer.namespace, self.name, given)
        return self._triggered(f"argo-{workflow}")

    def _triggered(self, run_id: str) -> ArgoWorkflowsTriggeredRun:
        return ArgoWorkflowsTriggeredRun(self.deployer, f"{self.flow_name}/{run_id}",
                                         run_id.removeprefix("argo-"), self.metadata)

    def delete(self, **kwargs: Any) -> bool:
        """Remove the WorkflowTemplate and its schedule; False when nothing was deployed."""
        from .deployers.argo_client import delete

        return bool(delete(self.deployer.api(), self.deployer.namespace, self.name))

    @property
    def workflow_template(self) -> dict[str, Any]:
        """The WorkflowTemplate as the cluster stores it."""
        return self._template()

    @classmethod
    def _lookup(cls, identifier: str, metadata: str | None) -> DeployedFlow:
        probe = ArgoWorkflowsDeployer(None)
        namespace, _, name = identifier.rpartition("/")
        namespace = namespace or probe.settings.get("METAFLOW_KUBERNETES_NAMESPACE") or "default"
        template = _argo_get(probe.api(), namespace, "workflowtemplates", name)
        if template is None:
            raise DeployerError(f"no WorkflowTemplate {namespace}/{name} is deployed",
                                "check the name (list_deployed_flows() lists them) and "
                                "METAFLOW_KUBERNETES_NAMESPACE, or pass 'namespace/name'")
        return cls._from_template(template, metadata)

    @classmethod
    def _from_template(cls, template: dict[str, Any], metadata: str | None) -> DeployedFlow:
        from .deployers.argo import LABEL_PREFIX

        meta = template["metadata"]
        flow_name = meta.get("annotations", {}).get(f"{LABEL_PREFIX}/flow-name")
        if not flow_name:
            raise DeployerError(f"WorkflowTemplate {meta['name']} was not deployed by Headwater",
                                "name a template that `argo-workflows create` made")
        return cls._found(ArgoWorkflowsDeployer, meta["name"], flow_name, metadata,
                          namespace=meta.get("namespace") or "default")

    @classmethod
    def _list(cls, flow_name: str | None) -> Iterator[DeployedFlow]:
        from .deployers.argo import LABEL_PREFIX, k8s_name
        from .deployers.argo_client import GROUP, VERSION

        probe = ArgoWorkflowsDeployer(None)
        namespace = probe.settings.get("METAFLOW_KUBERNETES_NAMESPACE") or "default"
        selector = f"{LABEL_PREFIX}/flow={k8s_name(flow_name)}" if flow_name else None
        found = probe.api().list_namespaced_custom_object(
            GROUP, VERSION, namespace, "workflowtemplates", label_selector=selector)
        for template in found.get("items", []):
            annotations = template["metadata"].get("annotations", {})
            if annotations.get(f"{LABEL_PREFIX}/flow-name") and (
                    flow_name is None or annotations[f"{LABEL_PREFIX}/flow-name"] == flow_name):
                yield cls._from_template(template, None)


# --- AWS Step Functions ---------------------------------------------------------------------


class StepFunctionsDeployer(DeployerImpl):
    TYPE = DeployerType.STEP_FUNCTIONS
    CREATED = re.compile(r"^Deployed state machine (arn:\S+?)\.$", re.MULTILINE)

    def _created(self, found: re.Match[str]) -> None:
        self.name = found.group(1).rsplit(":", 1)[1]

    @staticmethod
    def deployed_flow_type() -> type[DeployedFlow]:
        return StepFunctionsDeployedFlow


def _boto3(service: str) -> Any:
    import boto3

    return boto3.client(service)


class StepFunctionsTriggeredRun(TriggeredRun):
    """An execution of the deployed state machine (run id ``sfn-<execution name>``)."""

    def _execution(self) -> dict[str, Any] | None:
        from .deployers.step_functions_client import list_executions

        return next((e for e in list_executions(_boto3("stepfunctions"), self.deployer.name
                                                or "") if e["name"] == self.name), None)

    @property
    def status(self) -> str | None:
        """The execution's status (``RUNNING``, ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``,
        ``ABORTED``), as Step Functions reports it; None when it is not found."""
        execution = self._execution()
        return None if execution is None else execution["status"]

    @property
    def is_running(self) -> bool:
        return self.status == "RUNNING"

    def terminate(self, **kwargs: Any) -> bool:
        """Stop the execution; False when it is not running."""
        execution = self._execution()
        if execution is None or execution["status"] != "RUNNING":
            return False
        _boto3("stepfunctions").stop_execution(executionArn=execution["executionArn"])
        return True


class StepFunctionsDeployedFlow(DeployedFlow):
    """A state machine (and its EventBridge schedule)."""

    TYPE = DeployerType.STEP_FUNCTIONS

    def trigger(self, **params: Any) -> StepFunctionsTriggeredRun:
        """Start an execution with ``params`` (the flow's parameters, by attribute name)."""
        from .deployers.step_functions_client import start

        given = {key.replace("-", "_"): _parameter_text(value) for key, value in params.items()}
        execution = start(_boto3("stepfunctions"), self.name, given)
        return self._triggered(f"sfn-{execution}")

    def _triggered(self, run_id: str) -> StepFunctionsTriggeredRun:
        return StepFunctionsTriggeredRun(self.deployer, f"{self.flow_name}/{run_id}",
                                         run_id.removeprefix("sfn-"), self.metadata)

    def delete(self, **kwargs: Any) -> bool:
        """Remove the state machine and its schedule; False when nothing was deployed."""
        from .deployers.step_functions_client import delete

        return bool(delete(_boto3("stepfunctions"), _boto3("events"), self.name))

    @classmethod
    def _machines(cls) -> Iterator[tuple[str, str]]:
        """(name, flow name) of every state machine Headwater deployed."""
        sfn = _boto3("stepfunctions")
        for page in sfn.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                described = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
                comment = json.loads(described["definition"]).get("Comment", "")
                if comment.startswith("Headwater flow "):
                    yield machine["name"], comment.removeprefix("Headwater flow ")

    @classmethod
    def _lookup(cls, identifier: str, metadata: str | None) -> DeployedFlow:
        for name, flow_name in cls._machines():
            if name == identifier:
                return cls._found(StepFunctionsDeployer, name, flow_name, metadata)
        raise DeployerError(f"no state machine {identifier!r} deployed by Headwater",
                            "check the name (list_deployed_flows(impl='step_functions') lists "
                            "them), including METAFLOW_SFN_STATE_MACHINE_PREFIX")

    @classmethod
    def _list(cls, flow_name: str | None) -> Iterator[DeployedFlow]:
        for name, found in cls._machines():
            if flow_name is None or found == flow_name:
                yield cls._found(StepFunctionsDeployer, name, found, None)


DEPLOYED_FLOW_TYPES: dict[DeployerType, type[DeployedFlow]] = {
    DeployerType.ARGO_WORKFLOWS: ArgoWorkflowsDeployedFlow,
    DeployerType.STEP_FUNCTIONS: StepFunctionsDeployedFlow,
}
