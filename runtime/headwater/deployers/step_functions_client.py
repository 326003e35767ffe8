"""Deploying a state machine with boto3: Batch job definitions (registered once per
content), the state machine (created or updated in place), its schedule, and executions
(start, list). Every call here is idempotent.

A schedule without a time zone is an EventBridge rule (cron in UTC); with one it is an
EventBridge Scheduler schedule (``ScheduleExpressionTimezone``), since rules have no time
zone. Deploying one kind removes the other, so a flow never runs on both."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ..exceptions import HeadwaterException


class StepFunctionsApiError(HeadwaterException):
    headline = "Step Functions error"


def _explain(exc: Exception, what: str) -> StepFunctionsApiError:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    message = getattr(exc, "response", {}).get("Error", {}).get("Message", str(exc))
    if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException"):
        return StepFunctionsApiError(f"{what}: access denied ({message})",
                                     "your AWS identity needs the deployer policy the stack "
                                     "creates (see docs/deploy-aws.md)")
    return StepFunctionsApiError(f"{what}: {code or type(exc).__name__}: {message}",
                                 "check the profile's METAFLOW_SFN_* and METAFLOW_BATCH_* "
                                 "settings")


def job_definition_body(name: str, image: str, cpu: float, memory_mb: int, gpu: int,
                        job_role: str | None, execution_role: str | None,
                        fargate: bool, log_group: str | None = None) -> dict[str, Any]:
    """The RegisterJobDefinition request for a step's container; its name carries a hash
    of the content, so a changed step registers a new revision and an unchanged one none.
    ``log_group`` (the profile's ``METAFLOW_BATCH_LOG_GROUP``) is where the job logs: the
    stacks' execution role may write there and nowhere else."""
    resources = [{"type": "VCPU", "value": f"{cpu:g}"},
                 {"type": "MEMORY", "value": str(int(memory_mb))}]
    if gpu:
        resources.append({"type": "GPU", "value": str(int(gpu))})
    container: dict[str, Any] = {"image": image, "command": ["python"],
                                 "resourceRequirements": resources}
    if job_role:
        container["jobRoleArn"] = job_role
    if execution_role:
        container["executionRoleArn"] = execution_role
    if log_group:
        container["logConfiguration"] = {"logDriver": "awslogs",
                                         "options": {"awslogs-group": log_group}}
    if fargate:
        container["networkConfiguration"] = {"assignPublicIp": "DISABLED"}
        container["fargatePlatformConfiguration"] = {"platformVersion": "LATEST"}
    body = {"type": "container", "containerProperties": container,
            "platformCapabilities": ["FARGATE" if fargate else "EC2"]}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
    return {"jobDefinitionName": f"{name[:100]}-{digest}", **body}


def register_job_definition(batch: Any, body: dict[str, Any]) -> str:
    """Register ``body`` unless an active definition of that name exists; returns its name."""
    name = body["jobDefinitionName"]
    try:
        found = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
        if not found.get("jobDefinitions"):
            batch.register_job_definition(**body)
    except Exception as exc:
        raise _explain(exc, f"registering job definition {name}") from None
    return name


def deploy_state_machine(sfn: Any, name: str, definition: dict[str, Any], role_arn: str,
                         tags: dict[str, str], log_group_arn: str | None) -> str:
    """Create the state machine, or update it in place; returns its ARN."""
    kwargs: dict[str, Any] = {"definition": json.dumps(definition), "roleArn": role_arn}
    if log_group_arn:
        kwargs["loggingConfiguration"] = {
            "level": "ERROR", "includeExecutionData": False,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}]}
    try:
        existing = _find(sfn, name)
        tag_list = [{"key": k, "value": v} for k, v in sorted(tags.items())]
        if existing:
            sfn.update_state_machine(stateMachineArn=existing, **kwargs)
            if tag_list:  # an update keeps the old tags; a new branch or owner replaces them
                sfn.tag_resource(resourceArn=existing, tags=tag_list)
            return existing
        created = sfn.create_state_machine(name=name, type="STANDARD", tags=tag_list,
                                           **kwargs)
        return created["stateMachineArn"]
    except StepFunctionsApiError:
        raise
    except Exception as exc:
        raise _explain(exc, f"deploying state machine {name}") from None


def _find(sfn: Any, name: str) -> str | None:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    return None


def put_schedule(events: Any, scheduler: Any, name: str, schedule: str,
                 timezone: str | None, machine_arn: str, role_arn: str) -> None:
    """Start the state machine on ``schedule``: an EventBridge rule (UTC), or with a
    ``timezone`` an EventBridge Scheduler schedule in that zone; the other kind goes."""
    execution_input = json.dumps({"Parameters": {}})
    try:
        if timezone is None:
            events.put_rule(Name=name, ScheduleExpression=schedule, State="ENABLED",
                            Description=f"Headwater schedule for {name}")
            events.put_targets(Rule=name, Targets=[{
                "Id": "headwater", "Arn": machine_arn, "RoleArn": role_arn,
                "Input": execution_input}])
            _delete_scheduler_schedule(scheduler, name)
            return
        request = {"Name": scheduler_name(name), "ScheduleExpression": schedule,
                   "ScheduleExpressionTimezone": timezone, "State": "ENABLED",
                   "Description": f"Headwater schedule for {name}",
                   "FlexibleTimeWindow": {"Mode": "OFF"},
                   "Target": {"Arn": machine_arn, "RoleArn": role_arn,
                              "Input": execution_input}}
        try:
            scheduler.create_schedule(**request)
        except scheduler.exceptions.ConflictException:
            scheduler.update_schedule(**request)
        _delete_rule(events, name)
    except Exception as exc:
        raise _explain(exc, f"scheduling {name}") from None


def scheduler_name(name: str) -> str:
    """A Scheduler schedule's name (at most 64 of ``[0-9A-Za-z-_.]``) for a state machine."""
    clean = re.sub(r"[^0-9A-Za-z_.-]", "-", name)
    if len(clean) <= 64:
        return clean
    return f"{clean[:55]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _delete_rule(events: Any, name: str) -> bool:
    if not any(r["Name"] == name for r in events.list_rules(NamePrefix=name).get("Rules", [])):
        return False
    events.remove_targets(Rule=name, Ids=["headwater"])
    events.delete_rule(Name=name)
    return True


def _delete_scheduler_schedule(scheduler: Any, name: str) -> bool:
    try:
        scheduler.delete_schedule(Name=scheduler_name(name))
    except scheduler.exceptions.ResourceNotFoundException:
        return False
    return True


def start(sfn: Any, name: str, parameters: dict[str, str]) -> str:
    """Start an execution; returns the execution's name (the run id is ``sfn-<name>``)."""
    arn = _find(sfn, name)
    if arn is None:
        raise StepFunctionsApiError(f"no state machine named {name} is deployed",
                                    "deploy it first: step-functions create")
    try:
        started = sfn.start_execution(stateMachineArn=arn,
                                      input=json.dumps({"Parameters": parameters}))
    except Exception as exc:
        raise _explain(exc, f"starting {name}") from None
    return started["executionArn"].rsplit(":", 1)[1]


def delete(sfn: Any, events: Any, scheduler: Any, name: str) -> list[str]:
    """Remove the schedule (either kind) and the state machine; returns what was removed."""
    gone = []
    try:
        if _delete_rule(events, name) | _delete_scheduler_schedule(scheduler, name):
            gone.append("schedule")
        arn = _find(sfn, name)
        if arn:
            sfn.delete_state_machine(stateMachineArn=arn)
            gone.append("state machine")
    except Exception as exc:
        raise _explain(exc, f"deleting {name}") from None
    return gone


def list_executions(sfn: Any, name: str) -> list[dict[str, Any]]:
    arn = _find(sfn, name)
    if arn is None:
        return []
    return sfn.list_executions(stateMachineArn=arn)["executions"]
