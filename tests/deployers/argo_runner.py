"""A stand-in for the Argo Workflows controller: executes a WorkflowTemplate's DAGs here.

What it proves: the control flow the compiler wrote (``depends`` with explicit results,
``when`` on the branch a switch wrote, ``withParam`` fan-out over a pod's output, DAG
templates called with arguments, retry strategies with ``{{retries}}``, input/output
parameters and the variables Argo substitutes) takes the path the flow means, when each pod's
container command runs as a local process with exactly the container's environment.
What it does not: scheduling on a cluster, parallel pods, deadlines, pod GC, volumes, the
image itself. Each pod gets its own outputs folder (in Argo it has its own file system).
Every ``{{...}}`` left after substitution is an error, and so is a ``depends`` or ``when``
that is not in the grammar used here (a subset of Argo's).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any

VARIABLE = re.compile(r"\{\{\s*([^}]+?)\s*\}\}")
WHEN = re.compile(r"^'([^']*)' == '([^']*)'$")
OPERAND = re.compile(r"([A-Za-z0-9-]+)\.(Succeeded|Failed|Skipped|Omitted|Errored)")
RESULTS = ("Succeeded", "Failed", "Skipped", "Omitted", "Errored")


class ArgoRunError(AssertionError):
    pass


@dataclass
class Pod:
    template: str
    args: list[str]
    phase: str
    retries: int
    stdout: str = ""
    stderr: str = ""


@dataclass
class ArgoLocalRunner:
    template: dict[str, Any]
    workflow_name: str
    cwd: str
    base_env: dict[str, str]  # the pod's identity (credentials a workload identity gives)
    pods: list[Pod] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.templates = {t["name"]: t for t in self.template["spec"]["templates"]}
        self.outputs_root = tempfile.mkdtemp(prefix="argo-pods-")

    # --- public --------------------------------------------------------------------------

    def run(self, parameters: dict[str, str] | None = None) -> str:
        """Run the workflow; returns its phase (Succeeded or Failed)."""
        given = dict(parameters or {})
        self.workflow_parameters = {}
        for p in self.template["spec"].get("arguments", {}).get("parameters", []):
            if p["name"] in given:
                self.workflow_parameters[p["name"]] = given.pop(p["name"])
            elif "value" in p:
                self.workflow_parameters[p["name"]] = p["value"]
            else:
                raise ArgoRunError(f"workflow parameter {p['name']} needs a value")
        if given:
            raise ArgoRunError(f"unknown workflow parameters {sorted(given)}")
        entry = self.template["spec"]["entrypoint"]
        ok, _ = self._run_template(entry, {})
        return "Succeeded" if ok else "Failed"

    # --- templates -----------------------------------------------------------------------

    def _run_template(self, name: str, inputs: dict[str, str]) -> tuple[bool, dict[str, str]]:
        template = self.templates[name]
        declared = {p["name"] for p in template.get("inputs", {}).get("parameters", [])}
        if set(inputs) != declared:
            raise ArgoRunError(f"template {name} takes {sorted(declared)}, got {sorted(inputs)}")
        if "dag" in template:
            return self._run_dag(template, inputs), {}
        return self._run_container(template, inputs)

    def _run_dag(self, template: dict[str, Any], inputs: dict[str, str]) -> bool:
        tasks = {t["name"]: t for t in template["dag"]["tasks"]}
        results: dict[str, str] = {}
        outputs: dict[str, dict[str, str]] = {}
        failed = False
        while len(results) < len(tasks):
            progressed = False
            for name, task in tasks.items():
                if name in results:
                    continue
                deps = set(OPERAND.findall(task.get("depends", "")))
                if {d for d, _ in deps} - set(tasks):
                    raise ArgoRunError(f"task {name} depends on an unknown task")
                if any(d not in results for d, _ in deps):
                    continue
                progressed = True
                if failed or not self._depends(task.get("depends", ""), results):
                    results[name] = "Omitted"
                    continue
                scope = {"inputs": inputs, "tasks": outputs, "item": None}
                when = task.get("when")
                if when and not self._when(self._substitute(when, scope)):
                    results[name] = "Skipped"
                    continue
                ok, out = self._run_task(task, scope)
                results[name] = "Succeeded" if ok else "Failed"
                outputs[name] = out
                failed = failed or not ok
            if not progressed:
                raise ArgoRunError(f"DAG {template['name']} cannot make progress: {results}")
        self.last_results = results
        return not failed

    def _run_task(self, task: dict[str, Any], scope: dict[str, Any]) -> tuple[bool, dict]:
        target = task["template"]
        if target not in self.templates:
            raise ArgoRunError(f"task {task['name']} calls unknown template {target}")
        items: list[Any] = [None]
        if "withParam" in task:
            items = json.loads(self._substitute(task["withParam"], scope))
            if not isinstance(items, list):
                raise ArgoRunError(f"withParam of {task['name']} is not a JSON list")
        ok, out = True, {}
        for item in items:
            item_scope = dict(scope, item=item)
            args = {p["name"]: self._substitute(p["value"], item_scope)
                    for p in task.get("arguments", {}).get("parameters", [])}
            one_ok, out = self._run_template(target, args)
            ok = ok and one_ok
            if not ok:
                break
        return ok, out

    def _run_container(self, template: dict[str, Any], inputs: dict[str, str]
                       ) -> tuple[bool, dict[str, str]]:
        strategy = template.get("retryStrategy")
        limit = int(strategy["limit"]) if strategy else 0
        for retries in range(limit + 1):
            outdir = tempfile.mkdtemp(dir=self.outputs_root)
            scope = {"inputs": inputs, "retries": retries if strategy else None}
            container = template["container"]
            argv = [self._substitute(a, scope) for a in container["command"]
                    + container.get("args", [])]
            argv = [a.replace("/tmp/headwater-outputs", outdir) for a in argv]
            env = dict(self.base_env)
            pod_name = f"{self.workflow_name}-{template['name']}-{len(self.pods)}"
            for e in container.get("env", []):
                if "value" in e:
                    env[e["name"]] = self._substitute(e["value"], scope)
                elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == \
                        "metadata.name":  # the downward API: the pod's own name
                    env[e["name"]] = pod_name
                else:
                    raise ArgoRunError(f"unsupported env entry {e}")
            proc = subprocess.run(argv, cwd=self.cwd, env=env, capture_output=True, text=True,
                                  timeout=300)
            phase = "Succeeded" if proc.returncode == 0 else "Failed"
            self.pods.append(Pod(template["name"], argv, phase, retries, proc.stdout,
                                 proc.stderr))
            if proc.returncode == 0:
                break
        outputs = {}
        for p in template.get("outputs", {}).get("parameters", []):
            path = p["valueFrom"]["path"].replace("/tmp/headwater-outputs", outdir)
            if os.path.exists(path):
                with open(path) as f:
                    outputs[p["name"]] = f.read()
            elif "default" in p["valueFrom"]:
                outputs[p["name"]] = p["valueFrom"]["default"]
            else:
                raise ArgoRunError(f"pod of {template['name']} wrote no {p['name']}")
        return phase == "Succeeded", outputs

    # --- expressions ---------------------------------------------------------------------

    def _substitute(self, text: str, scope: dict[str, Any]) -> str:
        def value(match: re.Match) -> str:
            var = match.group(1)
            parts = var.split(".")
            if var == "workflow.name":
                return self.workflow_name
            if parts[:2] == ["workflow", "parameters"] and parts[2] in self.workflow_parameters:
                return self.workflow_parameters[parts[2]]
            if parts[:2] == ["inputs", "parameters"] and parts[2] in scope.get("inputs", {}):
                return scope["inputs"][parts[2]]
            if var == "item" and scope.get("item") is not None:
                return str(scope["item"])
            if var == "retries" and scope.get("retries") is not None:
                return str(scope["retries"])
            if parts[0] == "tasks" and len(parts) == 5 and parts[2:4] == ["outputs",
                                                                          "parameters"]:
                out = scope.get("tasks", {}).get(parts[1])
                if out is not None and parts[4] in out:
                    return out[parts[4]]
            raise ArgoRunError(f"unresolved Argo variable {{{{{var}}}}} in {text!r}")

        return VARIABLE.sub(value, text)

    @staticmethod
    def _when(expr: str) -> bool:
        match = WHEN.match(expr)
        if not match:
            raise ArgoRunError(f"when expression {expr!r} is not of the form 'a' == 'b'")
        return match.group(1) == match.group(2)

    @staticmethod
    def _depends(expr: str, results: dict[str, str]) -> bool:
        if not expr:
            return True
        python = OPERAND.sub(lambda m: str(results[m.group(1)] == m.group(2)), expr)
        python = python.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
        if not re.fullmatch(r"[\sTrueFalsandotr()]*", python):
            raise ArgoRunError(f"depends expression {expr!r} is not in Argo's grammar")
        return bool(eval(python, {"__builtins__": {}}))  # only True/False/and/or/not remain
