"""Compile a flow into Argo Workflows objects: a WorkflowTemplate (and a CronWorkflow for a
``@schedule``).

Shape of what is generated:

- one container template per step, running the deployed task entry point
  (``deployed_step.py``) with the step's name and its foreach path, in the container and pod
  settings ``@kubernetes`` and the profile give it (the same as ``--with kubernetes``);
- one DAG template for the top level (``main``) and one per foreach (``each-<step>``): the
  foreach step's pod writes its item indices, and a task of the outer DAG fans out over them
  with ``withParam`` into the body's DAG, passing the foreach path down. Nothing in a template
  depends on the number of items;
- static branches are tasks with the same dependency; a conditional's branches carry a
  ``when`` on the branch the switch step wrote, and its join depends on whichever branch
  ran (``depends`` names every result explicitly, never the bare form, which also counts
  Skipped as done);
- ``@retry`` becomes a retry strategy (``{{retries}}`` is the attempt), ``@timeout`` the
  template's active deadline; ``@catch`` works inside the task as it does locally.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..exceptions import HeadwaterException
from ..graph import SplitKind, StepKind
from .deployed_step import FOREACH_ITEMS_FILE, NEXT_STEP_FILE
from .structure import branch_groups, is_switch_merge, undeployable

if TYPE_CHECKING:
    from ..graph import FlowGraph, StepNode

API_VERSION = "argoproj.io/v1alpha1"
OUTPUTS_DIR = "/tmp/headwater-outputs"
MAIN = "main"
LABEL_PREFIX = "headwater.dev"


class ArgoCompileError(HeadwaterException):
    headline = "Cannot compile for Argo Workflows"


def k8s_name(text: str, limit: int = 63) -> str:
    """A lowercase DNS-1123 label made from ``text`` (step and flow names)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:limit].rstrip("-") or "x"


@dataclass
class ArgoOptions:
    """What the command line and the profile decide about a deployment."""

    namespace: str
    name: str  # the WorkflowTemplate's name
    tags: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)  # the metaflow/* keys
    service_account: str | None = None
    max_workers: int | None = None
    workflow_timeout: int | None = None
    schedule: str | None = None
    timezone: str | None = None


# Builds the container command for a step: (flow arguments) -> argv inside the image.
CommandBuilder = Callable[[list[str]], list[str]]
# A step's container and pod-level fields (service account, node selector, tolerations,
# volumes) for its command: what @kubernetes and the profile say (compute/kubernetes.py).
PodBuilder = Callable[["StepNode", list[str]], "tuple[dict[str, Any], dict[str, Any]]"]


class ArgoCompiler:
    """Turns one analysed flow into Argo objects (plain dicts, ready for the API)."""

    def __init__(self, flow_cls: type, graph: "FlowGraph", options: ArgoOptions,
                 command: CommandBuilder, pod: PodBuilder):
        self.flow_cls, self.graph, self.options = flow_cls, graph, options
        self.command = command
        self.pod = pod
        self.task_names = self._unique_names()

    # --- names ---------------------------------------------------------------------------

    def _unique_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        used: set[str] = {MAIN}
        for node in self.graph:
            base = k8s_name(node.name, 40)
            name, n = base, 1
            while name in used or f"each-{name}" in used:
                n += 1
                name = f"{base}-{n}"
            used.add(name)
            names[node.name] = name
        return names

    def _scope(self, node: "StepNode") -> str | None:
        """The foreach whose body ``node`` is in (innermost), or None at top level."""
        for split, kind in reversed(node.split_stack):
            if kind == SplitKind.FOREACH:
                return split
        return None

    # --- objects -------------------------------------------------------------------------

    def workflow_template(self) -> dict[str, Any]:
        self._check()
        opts = self.options
        spec: dict[str, Any] = {
            "entrypoint": MAIN,
            "arguments": {"parameters": self._workflow_parameters()},
            "templates": [self._dag_template(None)]
            + [self._dag_template(n.name) for n in self.graph if n.kind == StepKind.FOREACH]
            + [self._container_template(n) for n in self.graph],
            "podGC": {"strategy": "OnPodCompletion"},
        }
        if opts.service_account:
            spec["serviceAccountName"] = opts.service_account
        if opts.max_workers:
            spec["parallelism"] = opts.max_workers
        if opts.workflow_timeout:
            spec["activeDeadlineSeconds"] = opts.workflow_timeout
        spec["workflowMetadata"] = {"labels": self._labels(),
                                    "annotations": dict(opts.annotations)}
        return {"apiVersion": API_VERSION, "kind": "WorkflowTemplate",
                "metadata": {"name": opts.name, "namespace": opts.namespace,
                             "labels": self._labels(),
                             "annotations": {**opts.annotations,
                                             f"{LABEL_PREFIX}/flow-name": self.graph.name,
                                             f"{LABEL_PREFIX}/tags": json.dumps(opts.tags)}},
                "spec": spec}

    def cron_workflow(self) -> dict[str, Any] | None:
        opts = self.options
        if not opts.schedule:
            return None
        spec: dict[str, Any] = {"schedules": [opts.schedule],
                                "concurrencyPolicy": "Allow",
                                "workflowSpec": {"workflowTemplateRef": {"name": opts.name}}}
        if opts.timezone:
            spec["timezone"] = opts.timezone
        return {"apiVersion": API_VERSION, "kind": "CronWorkflow",
                "metadata": {"name": opts.name, "namespace": opts.namespace,
                             "labels": self._labels(), "annotations": dict(opts.annotations)},
                "spec": spec}

    def _labels(self) -> dict[str, str]:
        labels = {f"{LABEL_PREFIX}/flow": k8s_name(self.graph.name)}
        labels.update(self.options.labels)
        return labels

    def _check(self) -> None:
        unsupported = undeployable(self.flow_cls, self.graph)
        if unsupported:
            raise ArgoCompileError(f"{unsupported}, which Argo Workflows deployments do not "
                                   "support yet", "run the flow with 'run' instead")
        for node in self.graph:
            if node.kind == StepKind.FOREACH and self.graph[node.out[0]].is_join \
                    and self.graph[node.out[0]].join_kind == SplitKind.FOREACH:
                raise ArgoCompileError(
                    f"the foreach in step {node.name!r} goes straight to its join",
                    "add a step between the foreach and its join")

    def _workflow_parameters(self) -> list[dict[str, Any]]:
        from ..parameters import flow_parameters

        out = []
        for attr, param in flow_parameters(self.flow_cls).items():
            entry: dict[str, Any] = {"name": param.name}
            default = param.default
            if param.required and default is None:
                pass  # Argo then requires a value on submit
            elif callable(default):
                raise ArgoCompileError(
                    f"parameter {param.name!r} has a callable default, which a scheduled "
                    f"run cannot evaluate", "give it a plain default value")
            elif default is not None:
                entry["value"] = _parameter_text(default)
            if param.help:
                entry["description"] = param.help
            out.append(entry)
        return out

    # --- DAGs ----------------------------------------------------------------------------

    def _dag_template(self, foreach: str | None) -> dict[str, Any]:
        tasks = []
        for node in self.graph:
            if self._scope(node) != foreach:
                continue
            tasks.append(self._dag_task(node, foreach))
            if node.kind == StepKind.FOREACH:
                tasks.append(self._fanout_task(node, foreach))
        template: dict[str, Any] = {"name": MAIN if foreach is None else self._each(foreach),
                                    "dag": {"tasks": tasks}}
        if foreach is not None:
            template["inputs"] = {"parameters": [{"name": "path"}]}
        return template

    def _each(self, foreach: str) -> str:
        return f"each-{self.task_names[foreach]}"

    def _path_value(self, foreach: str | None) -> str:
        return "" if foreach is None else "{{inputs.parameters.path}}"

    def _fanout_task(self, node: "StepNode", scope: str | None) -> dict[str, Any]:
        name = self.task_names[node.name]
        return {"name": f"{name}-each", "template": self._each(node.name),
                "depends": f"{name}.Succeeded",
                "withParam": f"{{{{tasks.{name}.outputs.parameters.{FOREACH_ITEMS_FILE}}}}}",
                "arguments": {"parameters": [
                    {"name": "path", "value": self._path_value(scope) + "/{{item}}"}]}}

    def _dag_task(self, node: "StepNode", scope: str | None) -> dict[str, Any]:
        task: dict[str, Any] = {"name": self.task_names[node.name],
                                "template": f"step-{self.task_names[node.name]}",
                                "arguments": {"parameters": [
                                    {"name": "path", "value": self._path_value(scope)}]}}
        depends = self._depends(node, scope)
        if depends:
            task["depends"] = depends
        when = self._when(node)
        if when:
            task["when"] = when
        return task

    def _ref(self, parent: str, scope: str | None) -> str | None:
        """How a task in ``scope`` refers to the finished ``parent``: the parent's task, the
        fan-out task of a foreach whose body it ends, or None (the body's first step)."""
        pnode = self.graph[parent]
        if pnode.kind == StepKind.FOREACH and scope == parent:
            return None
        parent_scope = self._scope(pnode)
        if parent_scope == scope:
            return self.task_names[parent]
        return f"{self.task_names[parent_scope]}-each"  # type: ignore[index]

    def _depends(self, node: "StepNode", scope: str | None) -> str:
        parents = list(dict.fromkeys(node.in_funcs))
        if not parents:
            return ""
        if is_switch_merge(node):  # whichever branch ran
            return " || ".join(self._taken_term(p, node, scope) for p in parents)
        if node.is_join and node.join_kind == SplitKind.STATIC:
            terms = []
            for group in branch_groups(self.graph, node):
                alternatives = [self._taken_term(p, node, scope) for p in group]
                terms.append(alternatives[0] if len(alternatives) == 1
                             else "(" + " || ".join(alternatives) + ")")
            return " && ".join(terms)
        refs = [r for r in (self._ref(p, scope) for p in parents) if r]
        return " && ".join(f"{r}.Succeeded" for r in dict.fromkeys(refs))

    def _taken_term(self, parent: str, node: "StepNode", scope: str | None) -> str:
        """``parent`` finished *and* led to ``node``: a switch leading straight here did so
        when every other branch of it was skipped."""
        ref = self._ref(parent, scope)
        pnode = self.graph[parent]
        if pnode.kind == StepKind.SWITCH and node.name in pnode.out:
            others = [f"{self.task_names[o]}.Skipped" for o in pnode.out if o != node.name]
            return "(" + " && ".join([f"{ref}.Succeeded"] + others) + ")"
        return f"{ref}.Succeeded"

    def _when(self, node: "StepNode") -> str | None:
        if node.is_join or is_switch_merge(node) or not node.in_funcs:
            return None
        parent = node.in_funcs[0]
        if self.graph[parent].kind != StepKind.SWITCH:
            return None
        ref = self.task_names[parent]
        return f"'{{{{tasks.{ref}.outputs.parameters.{NEXT_STEP_FILE}}}}}' == '{node.name}'"

    # --- containers ----------------------------------------------------------------------

    def _container_template(self, node: "StepNode") -> dict[str, Any]:
        retries = sum(d.retries() for d in node.decorators)
        delay = max([d.retry_delay_seconds() for d in node.decorators] + [0.0])
        limits = [t for t in (d.timeout_seconds() for d in node.decorators) if t]
        args = ["deployed-step", "--run-id", "argo-{{workflow.name}}", "--step", node.name,
                "--path", "{{inputs.parameters.path}}",
                "--attempt", "{{retries}}" if retries else "0",
                "--outputs-dir", OUTPUTS_DIR]
        for tag in self.options.tags:
            args += ["--tag", tag]
        if node.name == "start":
            from ..parameters import flow_parameters

            for param in flow_parameters(self.flow_cls).values():
                args += [f"--{param.option_name}", f"{{{{workflow.parameters.{param.name}}}}}"]
        container, pod_fields = self.pod(node, self.command(args))
        template: dict[str, Any] = {
            "name": f"step-{self.task_names[node.name]}",
            "inputs": {"parameters": [{"name": "path"}]},
            "outputs": {"parameters": [
                {"name": FOREACH_ITEMS_FILE,
                 "valueFrom": {"path": f"{OUTPUTS_DIR}/{FOREACH_ITEMS_FILE}", "default": "[]"}},
                {"name": NEXT_STEP_FILE,
                 "valueFrom": {"path": f"{OUTPUTS_DIR}/{NEXT_STEP_FILE}", "default": ""}}]},
            "metadata": {"labels": {**self._labels(),
                                    f"{LABEL_PREFIX}/step": self.task_names[node.name]},
                         "annotations": dict(self.options.annotations)},
            "container": container,
            **pod_fields,
        }
        if retries:
            strategy: dict[str, Any] = {"limit": str(retries), "retryPolicy": "Always"}
            if delay:
                strategy["backoff"] = {"duration": f"{int(delay)}s"}
            template["retryStrategy"] = strategy
        if limits:
            template["activeDeadlineSeconds"] = int(min(limits))
        return template


def _parameter_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
