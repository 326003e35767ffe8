"""What `step-functions create` and its executions need from the AWS stack, and no more
(issue 12, item 4): schedules with a time zone (EventBridge Scheduler) beside UTC rules,
and the distributed Maps of wide foreaches.

The requests are the deployer's own: ``put_schedule`` and ``delete`` run against clients
that record their calls, and a flow is compiled as ``step-functions create`` compiles it,
with the profile's datastore. Each request is then checked against the declared policies
by ``allowed`` (Allow statements, wildcards, ``StringEquals`` conditions), for this stack's
names and for a neighbour's (``hw-dev2``).
"""

from __future__ import annotations

import fnmatch
import json
import re
from types import SimpleNamespace
from typing import Any, Iterator

from headwater import FlowSpec, step

ACCOUNT = "123456789012"
BASE = "arn:aws:{}:eu-west-1:" + ACCOUNT + ":{}"
Request = tuple[str, str, dict[str, str]]  # action, resource, request context


def allowed(statements: list[dict[str, Any]], action: str, resource: str,
            context: dict[str, str] | None = None) -> bool:
    """Whether an Allow statement grants ``action`` on ``resource`` with ``context``."""
    def listed(value: Any) -> list[str]:
        return [value] if isinstance(value, str) else value

    for statement in statements:
        if statement["Effect"] != "Allow" or not any(
                fnmatch.fnmatchcase(action, a) for a in listed(statement["Action"])):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in listed(statement["Resource"])):
            continue
        condition = statement.get("Condition", {})
        assert set(condition) <= {"StringEquals"}, condition  # all the stacks use
        if all((context or {}).get(key) in listed(wanted)
               for key, wanted in condition.get("StringEquals", {}).items()):
            return True
    return False


def _statements(inventory, name_prefix: str) -> list[dict[str, Any]]:
    """Every statement of the policies whose resource names start with ``name_prefix``."""
    return [s for r in inventory.resources
            if r["type"] in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
            and r["name"].startswith(name_prefix)
            for s in json.loads(r["inputs"]["policy"])["Statement"]]


def _elsewhere(resource: str, root: str) -> str:
    """The same resource in the neighbouring stack ``<root>2``."""
    return resource.replace(root, f"{root}2")


# --- schedules ------------------------------------------------------------------------------

class Recorder:
    """A boto3 client stand-in: records each call; ``replies[method]`` is returned, or
    raised if it is an exception class."""

    def __init__(self, service: str, **replies: Any):
        self.service, self.replies, self.calls = service, replies, []
        self.exceptions = SimpleNamespace(
            ConflictException=type("ConflictException", (Exception,), {}),
            ResourceNotFoundException=type("ResourceNotFoundException", (Exception,), {}))

    def __getattr__(self, method: str):
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((method, args, kwargs))
            reply = self.replies.get(method, {})
            if isinstance(reply, type) and issubclass(reply, Exception):
                raise reply()
            return reply
        return call


def _requests(client: Recorder) -> Iterator[Request]:
    """The IAM requests a recorded client's calls make (the action, its resource, and for
    ``iam:PassRole`` the service the role is handed to)."""
    for method, args, kwargs in client.calls:
        if method == "get_paginator":  # list_state_machines
            yield "states:ListStateMachines", "*", {}
            continue
        action = f"{client.service}:{''.join(p.capitalize() for p in method.split('_'))}"
        if client.service == "scheduler":
            group = kwargs.get("GroupName", "default")
            yield action, BASE.format("scheduler", f"schedule/{group}/{kwargs['Name']}"), {}
            if "Target" in kwargs:
                yield "iam:PassRole", kwargs["Target"]["RoleArn"], {
                    "iam:PassedToService": "scheduler.amazonaws.com"}
        elif client.service == "events":
            if method == "list_rules":
                yield action, "*", {}
                continue
            rule = kwargs.get("Name") or kwargs["Rule"]
            yield action, BASE.format("events", f"rule/{rule}"), {}
            for target in kwargs.get("Targets", []):
                yield "iam:PassRole", target["RoleArn"], {
                    "iam:PassedToService": "events.amazonaws.com"}
        else:
            yield action, kwargs["stateMachineArn"], {}


def test_users_deploy_and_delete_both_kinds_of_schedule_for_the_stacks_flows_only(stack):
    """A time zone makes ``put_schedule`` create (then, deployed again, update) a Scheduler
    schedule and drop the flow's rule; UTC puts the rule and drops the schedule; ``delete``
    removes both and the machine. Every request is the users' to make, on this stack's
    names only, and the events role is handed only to EventBridge and its Scheduler."""
    from headwater.deployers import step_functions_client as api

    inventory = stack("aws-dev")
    profile, root = inventory.profile, "hw-dev"
    users = _statements(inventory, "users-")
    name = f"{profile['METAFLOW_SFN_STATE_MACHINE_PREFIX']}_TrainFlow"
    machine = BASE.format("states", f"stateMachine:{name}")
    role = profile["METAFLOW_EVENTS_SFN_ACCESS_IAM_ROLE"]
    events = Recorder("events", list_rules={"Rules": [{"Name": name}]})
    scheduler = Recorder("scheduler")
    sfn = Recorder("states", get_paginator=SimpleNamespace(paginate=lambda: [
        {"stateMachines": [{"name": name, "stateMachineArn": machine}]}]))
    api.put_schedule(events, scheduler, name, "cron(0 2 * * ? *)", "Europe/Berlin", machine,
                     role)
    scheduler.replies["create_schedule"] = scheduler.exceptions.ConflictException
    api.put_schedule(events, scheduler, name, "cron(0 3 * * ? *)", "Europe/Berlin", machine,
                     role)
    api.put_schedule(events, scheduler, name, "cron(0 2 * * ? *)", None, machine, role)
    assert api.delete(sfn, events, scheduler, name) == ["schedule", "state machine"]

    made = [r for client in (events, scheduler, sfn) for r in _requests(client)]
    assert {action for action, _, _ in made} >= {
        "scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule",
        "events:PutRule", "events:PutTargets", "events:ListRules", "events:RemoveTargets",
        "events:DeleteRule", "iam:PassRole", "states:DeleteStateMachine"}
    for action, resource, context in made:
        assert allowed(users, action, resource, context), (action, resource, context)
        if resource != "*":
            assert not allowed(users, action, _elsewhere(resource, root), context), \
                (action, resource)
    assert allowed(users, "scheduler:GetSchedule",
                   BASE.format("scheduler", f"schedule/default/{name}"))
    assert not allowed(users, "scheduler:CreateSchedule",
                       BASE.format("scheduler", f"schedule/another-group/{name}"))
    for service in ("ecs-tasks.amazonaws.com", "states.amazonaws.com", None):
        assert not allowed(users, "iam:PassRole", role,
                           {"iam:PassedToService": service} if service else {})


def test_the_events_role_is_for_rules_and_the_scheduler_and_starts_only_the_stacks_machines(
        stack):
    inventory = stack("aws-dev")
    role = inventory.named("step-functions-events-role")["inputs"]
    assert inventory.profile["METAFLOW_EVENTS_SFN_ACCESS_IAM_ROLE"].endswith(
        f":role/{role['name']}")
    trust = {tuple(s["Principal"]["Service"]): s.get("Condition")
             for s in json.loads(role["assumeRolePolicy"])["Statement"]}
    # Scheduler pinned to this account (AWS's confused-deputy advice for its roles).
    assert trust == {("events.amazonaws.com",): None, ("scheduler.amazonaws.com",): {
        "StringEquals": {"aws:SourceAccount": ACCOUNT}}}
    granted = _statements(inventory, "step-functions-events-role-")
    machine = BASE.format("states", "stateMachine:hw-dev_TrainFlow")
    assert granted == [{"Effect": "Allow", "Action": ["states:StartExecution"],
                        "Resource": [BASE.format("states", "stateMachine:hw-dev_*")]}]
    assert allowed(granted, "states:StartExecution", machine)
    assert not allowed(granted, "states:StartExecution", _elsewhere(machine, "hw-dev"))


# --- distributed Maps -----------------------------------------------------------------------

class WideFlow(FlowSpec):
    """A foreach inside a foreach: both may run as distributed Maps."""

    @step
    def start(self):
        self.shards = list(range(100))
        self.next(self.fan, foreach="shards")

    @step
    def fan(self):
        self.parts = list(range(100))
        self.next(self.work, foreach="parts")

    @step
    def work(self):
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def _distributed_maps(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in states.values():
        processor = state.get("ItemProcessor") or {}
        if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
            yield state
        for inner in [processor, *state.get("Branches", [])]:
            yield from _distributed_maps(inner.get("States", {}))


def test_distributed_maps_read_their_items_and_run_child_executions_of_the_stacks_machines(
        stack):
    """Compiled with the profile's datastore as ``step-functions create`` does, each
    distributed Map reads its items from ``<sysroot>/sfn-foreach/`` (nothing else of the
    bucket) and runs them as child executions (``<machine>/<label>:<id>``) of its own
    state machine, which the Step Functions role may start, describe and stop: no other
    stack's."""
    from headwater.datastore.s3 import parse_s3_sysroot
    from headwater.deployers.step_functions import StepFunctionsCompiler, StepFunctionsOptions
    from headwater.graph import FlowGraph

    inventory = stack("aws-dev")
    profile = inventory.profile
    bucket, prefix = parse_s3_sysroot(profile["METAFLOW_DATASTORE_SYSROOT_S3"])
    options = StepFunctionsOptions(
        name=f"{profile['METAFLOW_SFN_STATE_MACHINE_PREFIX']}_WideFlow",
        job_queue=profile["METAFLOW_BATCH_JOB_QUEUE"],
        state_table=profile["METAFLOW_SFN_DYNAMO_DB_TABLE"], environment={},
        items_bucket=bucket, items_prefix=f"{prefix}/" if prefix else "")
    definition = StepFunctionsCompiler(WideFlow, FlowGraph(WideFlow), options,
                                       command=lambda argv: argv,
                                       job_definition=lambda node: node.name).definition()
    maps = list(_distributed_maps(definition["States"]))
    assert len(maps) == 2  # the outer foreach's, and the inner one's inside it
    role = inventory.named("step-functions-sfn-role")["inputs"]["name"]
    assert profile["METAFLOW_SFN_IAM_ROLE"].endswith(f":role/{role}")
    granted = _statements(inventory, "step-functions-sfn-role-")
    machine = BASE.format("states", f"stateMachine:{options.name}")
    for state in maps:
        reader = state["ItemReader"]["Parameters"]
        template = re.match(r"States\.Format\('([^']*)'", reader["Key.$"]).group(1)
        key = template.replace("{}", "WideFlow", 1).replace("{}", "sfn-1f2e", 1) \
            .replace("{}", "/7")
        items = f"arn:aws:s3:::{reader['Bucket']}/{key}"
        assert allowed(granted, "s3:GetObject", items), items
        assert not allowed(granted, "s3:PutObject", items)
        child = BASE.format("states", f"execution:{options.name}/{state['Label']}:0f1e2d3c")
        assert allowed(granted, "states:StartExecution", machine)
        for action in ("states:DescribeExecution", "states:StopExecution"):
            assert allowed(granted, action, child), (action, child)
            assert not allowed(granted, action, _elsewhere(child, "hw-dev"))
    assert not allowed(granted, "states:StartExecution", _elsewhere(machine, "hw-dev"))
    # The artifacts beside the items stay out of reach (the tasks' role reads those).
    assert not allowed(granted, "s3:GetObject",
                       f"arn:aws:s3:::{bucket}/{prefix}/WideFlow/sfn-1f2e/start/1/0.data")
