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
- a foreach wider than ``inline_map_limit`` (default 40, the most iterations an inline Map
  runs at once; its iterations also count against the execution's 25,000 history events)
  runs as a *distributed* Map instead: the job writes the indices to a JSON object in the S3
  datastore rather than the table, a ``Choice`` sends the run to the distributed Map, which
  reads them with an ``ItemReader`` and runs each item as a child execution. Its body is a
  second copy of the inline body (state names suffixed ``@<foreach step>``, as names are
  unique machine-wide) ending in a Pass that returns ``{}``, so the Map's collected output
  stays a few bytes per item. The run id travels in the state (``$.run``) because a child
  execution has its own ``$$.Execution.Name``. A foreach inside an inline Map stays inline;
  with a non-S3 datastore every Map is inline;
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
from .deployed_step import ITEMS_IN_S3, WIDE_ITEMS_DIR
from .structure import join_of, undeployable

if TYPE_CHECKING:
    from ..graph import FlowGraph, StepNode

BATCH_SUBMIT = "arn:aws:states:::batch:submitJob.sync"
DYNAMO_GET = "arn:aws:states:::dynamodb:getItem"
S3_GET = "arn:aws:states:::s3:getObject"
# The run id: set once from the top-level execution's name, then carried in the state.
RUN_ID = "$.run"
# The most iterations an inline Map runs at once; wider foreaches go distributed.
DEFAULT_INLINE_MAP_LIMIT = 40


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
    # Where the jobs of wide foreaches write their items (the S3 datastore: bucket, key
    # prefix); None: no distributed Maps.
    items_bucket: str | None = None
    items_prefix: str = ""
    inline_map_limit: int = DEFAULT_INLINE_MAP_LIMIT


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
                "path": "", "run.$": "States.Format('sfn-{}', $$.Execution.Name)",
                "params.$": "States.JsonMerge($.defaults, $.Parameters, false)"}}}
        self._emit("start", states, stop=set(), scope=Scope())
        return {"Comment": f"Headwater flow {self.graph.name}", "StartAt": "Defaults",
                "States": states}

    # --- walking the graph ---------------------------------------------------------------

    def _emit(self, step: str, states: dict[str, Any], stop: set[str], scope: "Scope") -> None:
        """Add the states of ``step`` and what follows it, up to (not including) a step in
        ``stop``: the join that closes the container being filled."""
        name = scope.name(step)
        if name in states:
            return  # branches of a conditional meeting again
        node = self.graph[step]
        task = self._task(node)
        states[name] = task
        if node.kind == StepKind.END:
            task["End"] = True
        elif node.kind == StepKind.LINEAR:
            self._goto(task, node.out[0], states, stop, scope)
        elif node.kind == StepKind.FOREACH:
            self._foreach(node, task, states, stop, scope)
        elif node.kind == StepKind.SPLIT:
            join = self._join_of(node)
            branches = []
            for target in node.out:
                branch: dict[str, Any] = {}
                if target == join:
                    branch[scope.name(f"{step}.to.{join}")] = {"Type": "Pass", "End": True}
                    branches.append({"StartAt": scope.name(f"{step}.to.{join}"),
                                     "States": branch})
                    continue
                self._emit(target, branch, {join}, scope)
                branches.append({"StartAt": scope.name(target), "States": branch})
            task["Next"] = scope.name(f"{step}.branches")
            parallel = {"Type": "Parallel", "Branches": branches, "ResultPath": None}
            states[scope.name(f"{step}.branches")] = parallel
            self._goto(parallel, join, states, stop, scope)
        elif node.kind == StepKind.SWITCH:
            task["Next"] = scope.name(f"{step}.branch")
            states[scope.name(f"{step}.branch")] = self._read_state(
                step, {"next.$": "$.Item.next_step.S"}, "$.branch",
                scope.name(f"{step}.choice"))
            choices = []
            for target in node.out:
                nxt = scope.name(target)
                if target in stop:  # the branch ends the enclosing container right away
                    nxt = scope.name(f"{step}.to.{target}")
                    states[nxt] = {"Type": "Pass", "End": True}
                choices.append({"Variable": "$.branch.next", "StringEquals": target,
                                "Next": nxt})
            states[scope.name(f"{step}.choice")] = {
                "Type": "Choice", "Choices": choices,
                "Default": scope.name(f"{step}.unknown-branch")}
            states[scope.name(f"{step}.unknown-branch")] = {
                "Type": "Fail", "Error": "Headwater.UnknownBranch",
                "Cause": f"step {step} recorded a branch that is not one of {node.out}"}
            for target in node.out:
                if target not in stop:
                    self._emit(target, states, stop, scope)

    def _foreach(self, node: "StepNode", task: dict[str, Any], states: dict[str, Any],
                 stop: set[str], scope: "Scope") -> None:
        """The states after a foreach step: read its items, run the body for each (an inline
        Map; and a distributed one for wide foreaches, chosen by what the job recorded)."""
        step, join = node.name, self._join_of(node)
        wide = self.options.items_bucket is not None and not scope.inside_inline
        task["Next"] = scope.name(f"{step}.items")
        selector = {"items.$": "$.Item.foreach_items.L"}
        if wide:
            selector["items_in.$"] = "$.Item.items_in.S"
        after_read = scope.name(f"{step}.mode" if wide else f"{step}.each")
        states[scope.name(f"{step}.items")] = self._read_state(step, selector, "$.foreach",
                                                               after_read)
        item = {"run.$": "$.run", "params.$": "$.params"}
        inline_scope = scope.inner(inline=True)
        body: dict[str, Any] = {}
        self._emit(node.out[0], body, {join}, inline_scope)
        each: dict[str, Any] = {
            "Type": "Map", "ItemsPath": "$.foreach.items",
            "ItemSelector": {"path.$": "States.Format('{}/{}', $.path, $$.Map.Item.Value.N)",
                             **item},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
                              "StartAt": inline_scope.name(node.out[0]), "States": body},
            "ResultSelector": {"done": True}, "ResultPath": "$.foreach"}
        if self.options.max_workers:
            each["MaxConcurrency"] = self.options.max_workers
        states[scope.name(f"{step}.each")] = each
        self._goto(each, join, states, stop, scope)
        if not wide:
            return
        wide_scope = scope.inner(inline=False, suffix=f"@{step}")
        wide_body: dict[str, Any] = {}
        self._emit(node.out[0], wide_body, {join}, wide_scope)
        done = wide_scope.name(f"{step}.item-done")
        for state in wide_body.values():  # every item's output: {} instead of its state
            if state.pop("End", False):
                state["Next"] = done
        wide_body[done] = {"Type": "Pass", "Result": {}, "End": True}
        # the job's object: <prefix>/<WIDE_ITEMS_DIR>/<flow>/<run>/<step><path>.json
        key = (f"States.Format('{_quote(self.options.items_prefix)[1:-1]}{WIDE_ITEMS_DIR}/"
               f"{{}}/{{}}/{step}{{}}.json', {_quote(self.graph.name)}, $.run, $.path)")
        distributed: dict[str, Any] = {
            "Type": "Map",
            "ItemReader": {"Resource": S3_GET, "ReaderConfig": {"InputType": "JSON"},
                           "Parameters": {"Bucket": self.options.items_bucket, "Key.$": key}},
            "ItemSelector": {"path.$": "States.Format('{}/{}', $.path, $$.Map.Item.Value)",
                             **item},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                                  "ExecutionType": "STANDARD"},
                              "StartAt": wide_scope.name(node.out[0]), "States": wide_body},
            "Label": _job_name(f"{step}{wide_scope.suffix}")[:40],
            "ResultSelector": {"done": True}, "ResultPath": "$.foreach"}
        if self.options.max_workers:
            distributed["MaxConcurrency"] = self.options.max_workers
        states[scope.name(f"{step}.each-wide")] = distributed
        self._goto(distributed, join, states, stop, scope)
        states[scope.name(f"{step}.mode")] = {
            "Type": "Choice",
            "Choices": [{"Variable": "$.foreach.items_in", "StringEquals": ITEMS_IN_S3,
                         "Next": scope.name(f"{step}.each-wide")}],
            "Default": scope.name(f"{step}.each")}

    def _goto(self, state: dict[str, Any], target: str, states: dict[str, Any],
              stop: set[str], scope: "Scope") -> None:
        if target in stop:
            state["End"] = True
        else:
            state["Next"] = scope.name(target)
            self._emit(target, states, stop, scope)

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
        if node.kind == StepKind.FOREACH and self.options.items_bucket is not None:
            args += ["--inline-map-limit", str(self.options.inline_map_limit)]
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


@dataclass(frozen=True)
class Scope:
    """Where states are being emitted: the suffix their names get (one per distributed
    copy of a foreach body they are in) and whether an inline Map encloses them."""

    suffix: str = ""
    inside_inline: bool = False

    def name(self, state: str) -> str:
        return f"{state}{self.suffix}"

    def inner(self, inline: bool, suffix: str = "") -> "Scope":
        return Scope(self.suffix + suffix, self.inside_inline or inline)


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
