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

from ..exceptions import HeadwaterException, MetaflowNotFound
from ..registry import load, unknown
from ..runner import _option, flow_name_of
from ..settings import Settings

if TYPE_CHECKING:
    import click

    from ..client import Run
    from .argo_workflows import ArgoWorkflowsDeployer
    from .step_functions import StepFunctionsDeployer


class DeployerError(HeadwaterException):
    headline = "Deployer error"


class DeployerType(str, Enum):
    """The production schedulers a flow deploys to (the CLI group names)."""

    ARGO_WORKFLOWS = "argo-workflows"
    STEP_FUNCTIONS = "step-functions"

    @property
    def method_name(self) -> str:
        return self.value.replace("-", "_")


# Each scheduler's DeployedFlow, imported when first named.
DEPLOYED_FLOW_TYPES: dict[DeployerType, str] = {
    DeployerType.ARGO_WORKFLOWS: "headwater.deploy_api.argo_workflows:ArgoWorkflowsDeployedFlow",
    DeployerType.STEP_FUNCTIONS: "headwater.deploy_api.step_functions:StepFunctionsDeployedFlow",
}


def parameter_text(value: Any) -> str:
    """A parameter value as the deployed start step parses it (as ``run --name VALUE``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)


def _cli_command(kind: DeployerType, command: str | None) -> "click.Command":
    """The flow CLI's ``<kind> <command>`` (or the ``<kind>`` group itself) as a plain click
    object (its options are read from it, so the facade accepts exactly what the command
    line does)."""
    import click

    from ..cli.deploy import add_deploy_commands

    cli = click.Group("flow")
    add_deploy_commands(cli)
    group = cli.commands[kind.value]
    return group if command is None else group.commands[command]  # type: ignore[attr-defined]


def _command_args(kind: DeployerType, command: str | None, kwargs: dict[str, Any],
                  refused: tuple[str, ...] = ()) -> list[str]:
    """``max_workers=4, tags=["a"]`` -> ``--max-workers 4 --tag a`` for ``command``'s
    options (named by their Python name or their flag: ``tags`` and ``tag`` both work);
    ``command=None``: the group's own options (``--name``)."""
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
            where = kind.value if command is None else f"{kind.value} {command}"
            raise DeployerError(f"{where} has no option {key!r}", f"known options: {known}")
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
        # handed as they are to the scheduler's DeployerImpl, which keeps them
        self._impl_kwargs: dict[str, Any] = dict(
            show_output=show_output, profile=profile, env=env, cwd=cwd,
            file_read_timeout=file_read_timeout, **options)

    def _impl(self, cls: type["DeployerImpl"], deployer_kwargs: dict[str, Any]) -> "DeployerImpl":
        impl = cls(self.flow_file, **self._impl_kwargs)
        # the group's options (name=): checked now, passed before the create command
        impl.group_args = _command_args(cls.TYPE, None, deployer_kwargs)
        return impl

    def argo_workflows(self, **deployer_kwargs: Any) -> "ArgoWorkflowsDeployer":
        """Deploy to Argo Workflows (Kubernetes); ``name=`` deploys under that name instead
        of the flow's."""
        from .argo_workflows import ArgoWorkflowsDeployer

        return self._impl(ArgoWorkflowsDeployer, deployer_kwargs)  # type: ignore[return-value]

    def step_functions(self, **deployer_kwargs: Any) -> "StepFunctionsDeployer":
        """Deploy to AWS Step Functions (tasks on AWS Batch); ``name=`` as for Argo."""
        from .step_functions import StepFunctionsDeployer

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
        self.group_args: list[str] = []  # the deployer group's options (--name)
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
        argv = [sys.executable, self.flow_file, *top, self.TYPE.value, *self.group_args,
                "create", *_command_args(self.TYPE, "create", kwargs, refused=("only_json",))]
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
        from ..client import Run

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
        name = (impl.value if isinstance(impl, DeployerType) else impl) or settings.get(
            "METAFLOW_DEFAULT_FROM_DEPLOYMENT_IMPL") or DeployerType.ARGO_WORKFLOWS.value
        # Both spellings name a deployer: the CLI group's and the Python method's.
        for kind, target in DEPLOYED_FLOW_TYPES.items():
            if name in (kind.value, kind.method_name):
                return load(target)
        raise unknown("deployer", name, [k.method_name for k in DEPLOYED_FLOW_TYPES],
                      "pass impl= or set METAFLOW_DEFAULT_FROM_DEPLOYMENT_IMPL to one of them",
                      DeployerError)

    @classmethod
    def from_deployment(cls, identifier: str, metadata: str | None = None,
                        impl: str | DeployerType | None = None) -> "DeployedFlow":
        """The deployment named ``identifier`` (``impl`` defaults to
        METAFLOW_DEFAULT_FROM_DEPLOYMENT_IMPL, else argo-workflows)."""
        target = cls if cls.TYPE is not None and impl is None else cls._type(impl)
        return target._lookup(identifier, metadata)

    @classmethod
    def from_argo_workflows(cls, identifier: str, metadata: str | None = None) -> "DeployedFlow":
        return cls._type(DeployerType.ARGO_WORKFLOWS)._lookup(identifier, metadata)

    @classmethod
    def from_step_functions(cls, identifier: str, metadata: str | None = None) -> "DeployedFlow":
        return cls._type(DeployerType.STEP_FUNCTIONS)._lookup(identifier, metadata)

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

