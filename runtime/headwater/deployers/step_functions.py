"""Compile a flow into an Amazon States Language state machine for AWS Step Functions.

Shape of what is generated (every state's input is ``{"path": ..., "params": {...}}``: the
task's foreach path and the run's parameters; tasks keep it with ``ResultPath: null``):

- ``Defaults`` and ``Init`` (Pass) merge the parameters' defaults with the execution
  input's ``Parameters`` (keyed by attribute name; an execution is started with
  ``{"Parameters": {...}}``, as ``trigger`` and the schedule do);
- each step is a ``batch:submitJob.sync`` Task running the deployed task entry point
  (``deployed_step.py``) with ``@batch`` settings; ``@retry`` is the state's ``Retry`` (with
  the delay; the task finds its attempt number itself), ``@timeout`` its ``TimeoutSeconds``;
- a foreach step's job writes its item indices to the DynamoDB table the stacks create
  (``METAFLOW_SFN_DYNAMO_DB_TABLE``); a ``dynamodb:getItem`` state reads them and a ``Map``
  runs the body for each, passing the foreach path down; the list never reaches the join
  (the Map's result replaces it), and the join finds its inputs from the count its split
  recorded, so nothing grows with the number of items except the Map's own item list;
- a static split is a ``Parallel`` state with one branch per target;
- a conditional's job writes the branch it took to the same table; a ``getItem`` and a
  ``Choice`` route to it, and the branches meet again at the step that joins them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..exceptions import HeadwaterException
from ..graph import StepKind
from .structure import join_of, undeployable

if TYPE_CHECKING:
    from ..graph import FlowGraph, StepNode

BATCH_SUBMIT = "arn:aws:states:::batch:submitJob.sync"
DYNAMO_GET = "arn:aws:states:::dynamodb:getItem"
RUN_ID = "States.Format('sfn-{}', $$.Execution.Name)"


class StepFunctionsCompileError(HeadwaterException):
    headline = "Cannot compile for Step Functions"


@dataclass
class StepFunctionsOptions:
    """What the command line and the profile decide about a deployment."""

    name: str  # the state machine's name
    job_queue: str
    state_table: str
    environment: dict[str, str]
    tags: list[str] = field(default_factory=list)
    max_workers: int | None = None


class StepFunctionsCompiler:
    """Turns one analysed flow into a state machine definition (a dict)."""

    def __init__(self, flow_cls: type, graph: "FlowGraph", options: StepFunctionsOptions,
                 command: Callable[[list[str]], list[str]],
                 job_definition: Callable[["StepNode"], str]):
        self.flow_cls, self.graph, self.options = flow_cls, graph, options
        self.command = command
        self.job_definition = job_definition

    def definition(self) -> dict[str, Any]:
        from ..parameters import flow_parameters

        unsupported = undeployable(self.flow_cls, self.graph)
        if unsupported:
            raise StepFunctionsCompileError(f"{unsupported}, which Step Functions deployments "
                                            "do not support yet",
                                            "run the flow with 'run' instead")

        defaults = {}  # keyed by attribute name: a valid JSONPath name, unlike e.g. "n-items"
        for attr, param in flow_parameters(self.flow_cls).items():
            if callable(param.default):
                raise StepFunctionsCompileError(
                    f"parameter {param.name!r} has a callable default, which a scheduled run "
                    f"cannot evaluate", "give it a plain default value")
            if param.default is not None:
                defaults[attr] = _parameter_text(param.default)
        states: dict[str, Any] = {
            "Defaults": {"Type": "Pass", "Result": defaults, "ResultPath": "$.defaults",
                         "Next": "Init"},
            "Init": {"Type": "Pass", "Next": "start", "Parameters": {
                "path": "", "params.$": "States.JsonMerge($.defaults, $.Parameters, false)"}}}
        self._emit("start", states, stop=set())
        return {"Comment": f"Headwater flow {self.graph.name}", "StartAt": "Defaults",
                "States": states}

    # --- walking the graph ---------------------------------------------------------------

    def _emit(self, step: str, states: dict[str, Any], stop: set[str]) -> None:
        """Add the states of ``step`` and what follows it, up to (not including) a step in
        ``stop``: the join that closes the container being filled."""
        if step in states:
            return  # branches of a conditional meeting again
        node = self.graph[step]
        task = self._task(node)
        states[step] = task
        if node.kind == StepKind.END:
            task["End"] = True
        elif node.kind == StepKind.LINEAR:
            self._goto(task, node.out[0], states, stop)
        elif node.kind == StepKind.FOREACH:
            join = self._join_of(node)
            body: dict[str, Any] = {}
            self._emit(node.out[0], body, {join})
            task["Next"] = f"{step}.items"
            states[f"{step}.items"] = self._read_state(step, {"items.$": "$.Item.foreach_items.L"},
                                                       "$.foreach", f"{step}.each")
            each: dict[str, Any] = {
                "Type": "Map", "ItemsPath": "$.foreach.items",
                "ItemSelector": {"path.$": "States.Format('{}/{}', $.path, $$.Map.Item.Value.N)",
                                 "params.$": "$.params"},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
                                  "StartAt": node.out[0], "States": body},
                "ResultSelector": {"done": True}, "ResultPath": "$.foreach"}
            if self.options.max_workers:
                each["MaxConcurrency"] = self.options.max_workers
            states[f"{step}.each"] = each
            self._goto(each, join, states, stop)
        elif node.kind == StepKind.SPLIT:
            join = self._join_of(node)
            branches = []
            for target in node.out:
                branch: dict[str, Any] = {}
                if target == join:
                    branch["pass"] = {"Type": "Pass", "End": True}
                    branches.append({"StartAt": "pass", "States": branch})
                    continue
                self._emit(target, branch, {join})
                branches.append({"StartAt": target, "States": branch})
            task["Next"] = f"{step}.branches"
            parallel = {"Type": "Parallel", "Branches": branches, "ResultPath": None}
            states[f"{step}.branches"] = parallel
            self._goto(parallel, join, states, stop)
        elif node.kind == StepKind.SWITCH:
            task["Next"] = f"{step}.branch"
            states[f"{step}.branch"] = self._read_state(step, {"next.$": "$.Item.next_step.S"},
                                                        "$.branch", f"{step}.choice")
            choices = []
            for target in node.out:
                nxt = target
                if target in stop:  # the branch ends the enclosing container right away
                    nxt = f"{step}.to.{target}"
                    states[nxt] = {"Type": "Pass", "End": True}
                choices.append({"Variable": "$.branch.next", "StringEquals": target,
                                "Next": nxt})
            states[f"{step}.choice"] = {"Type": "Choice", "Choices": choices,
                                        "Default": f"{step}.unknown-branch"}
            states[f"{step}.unknown-branch"] = {
                "Type": "Fail", "Error": "Headwater.UnknownBranch",
                "Cause": f"step {step} recorded a branch that is not one of {node.out}"}
            for target in node.out:
                if target not in stop:
                    self._emit(target, states, stop)

    def _goto(self, state: dict[str, Any], target: str, states: dict[str, Any],
              stop: set[str]) -> None:
        if target in stop:
            state["End"] = True
        else:
            state["Next"] = target
            self._emit(target, states, stop)

    def _join_of(self, split: "StepNode") -> str:
        try:
            return join_of(self.graph, split)
        except ValueError:
            raise StepFunctionsCompileError(f"step {split.name!r} opens branches that no step "
                                            f"joins", "add a join step") from None

    # --- states --------------------------------------------------------------------------

    def _key(self, step: str) -> str:
        return (f"States.Format('{{}}/{{}}/{step}{{}}', {_quote(self.graph.name)}, {RUN_ID}, "
                f"$.path)")

    def _read_state(self, step: str, selector: dict[str, str], result_path: str,
                    nxt: str) -> dict[str, Any]:
        """Read what ``step``'s job recorded for the scheduler (items, branch)."""
        return {"Type": "Task", "Resource": DYNAMO_GET,
                "Parameters": {"TableName": self.options.state_table,
                               "Key": {"pathspec": {"S.$": self._key(step)}},
                               "ConsistentRead": True},
                "ResultSelector": selector, "ResultPath": result_path, "Next": nxt,
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3,
                           "IntervalSeconds": 2, "BackoffRate": 2.0}]}

    def _task(self, node: "StepNode") -> dict[str, Any]:
        from ..parameters import flow_parameters

        args: list[str] = ["deployed-step", "--run-id", "\0" + RUN_ID, "--step", node.name,
                           "--path", "\0$.path", "--attempt", "auto",
                           "--outputs-table", self.options.state_table]
        for tag in self.options.tags:
            args += ["--tag", tag]
        if node.name == "start":
            for attr, param in flow_parameters(self.flow_cls).items():
                args += [f"--{param.option_name}", f"\0$.params.{attr}"]
        command = "States.Array(" + ", ".join(
            a[1:] if a.startswith("\0") else _quote(a) for a in self.command(args)) + ")"
        parameters: dict[str, Any] = {
            "JobName": f"{_job_name(self.options.name)}-{_job_name(node.name)}",
            "JobQueue": self.options.job_queue,
            "JobDefinition": self.job_definition(node),
            "ContainerOverrides": {
                "Command.$": command,
                "Environment": [{"Name": k, "Value": v}
                                for k, v in sorted(self.options.environment.items())]}}
        task: dict[str, Any] = {"Type": "Task", "Resource": BATCH_SUBMIT,
                                "Parameters": parameters, "ResultPath": None}
        retries = sum(d.retries() for d in node.decorators)
        if retries:
            delay = max([d.retry_delay_seconds() for d in node.decorators] + [0.0])
            task["Retry"] = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": retries,
                              "IntervalSeconds": max(1, int(delay)), "BackoffRate": 1.0}]
        limits = [t for t in (d.timeout_seconds() for d in node.decorators) if t]
        if limits:
            task["TimeoutSeconds"] = int(min(limits))
        return task


def _quote(text: str) -> str:
    """A string literal for an intrinsic function (quotes and braces escaped)."""
    escaped = (text.replace("\\", "\\\\").replace("'", "\\'").replace("{", "\\{")
               .replace("}", "\\}"))
    return f"'{escaped}'"


def _job_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:60]


def _parameter_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
