"""The ``Deployer`` facade for AWS Step Functions: a state machine deployed by
``step-functions create``, executions started, read and stopped with boto3
(``deployers/step_functions_client.py``)."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

from .base import (DeployedFlow, DeployerError, DeployerImpl, DeployerType, TriggeredRun,
                   parameter_text)


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
        """The execution as ``describe_execution`` gives it (its ARN is the state machine's
        with ``execution`` and the name), None when there is no such execution."""
        sfn = _boto3("stepfunctions")
        for page in sfn.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                if machine["name"] == self.deployer.name:
                    arn = machine["stateMachineArn"].replace(":stateMachine:", ":execution:")
                    try:
                        return sfn.describe_execution(executionArn=f"{arn}:{self.name}")
                    except sfn.exceptions.ExecutionDoesNotExist:
                        return None
        return None

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
        from ..deployers.step_functions_client import start

        given = {key.replace("-", "_"): parameter_text(value) for key, value in params.items()}
        execution = start(_boto3("stepfunctions"), self.name, given)
        return self._triggered(f"sfn-{execution}")

    def _triggered(self, run_id: str) -> StepFunctionsTriggeredRun:
        return StepFunctionsTriggeredRun(self.deployer, f"{self.flow_name}/{run_id}",
                                         run_id.removeprefix("sfn-"), self.metadata)

    def delete(self, **kwargs: Any) -> bool:
        """Remove the state machine and its schedule; False when nothing was deployed."""
        from ..deployers.step_functions_client import delete

        return bool(delete(_boto3("stepfunctions"), _boto3("events"), _boto3("scheduler"),
                           self.name))

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
