"""A stand-in for Step Functions that runs a compiled state machine's tasks for real.

What it proves: with each ``batch:submitJob.sync`` task's container command run here as a
process (exactly its ``ContainerOverrides`` command and environment, plus the pod identity),
and each ``dynamodb:getItem`` sent to moto's DynamoDB, the states the compiler wrote carry a
run through every step with the right foreach paths and parameters, in the order States
Language semantics dictate. It implements only what the compiler emits (Pass, Task, Map,
Parallel, Choice with StringEquals, Fail, Retry, ResultPath/ResultSelector/ItemSelector, a
distributed Map's S3 ``ItemReader`` (run here like an inline Map: each item in turn), the
intrinsics States.Format/Array/JsonMerge, dotted JSONPaths) and refuses anything else.
Control flow in AWS's own interpreter is proven separately on moto's (test_step_functions).
What it does not prove: Batch itself, IAM, payload limits, concurrency.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any


class AslRunError(AssertionError):
    pass


class TaskFailed(Exception):
    pass


@dataclass
class AslLocalRunner:
    definition: dict[str, Any]
    execution_name: str
    cwd: str
    base_env: dict[str, str]
    dynamodb: Any  # a boto3 DynamoDB client (moto)
    s3: Any = None  # a boto3 S3 client (moto), for distributed Maps' ItemReader
    jobs: list[tuple[list[str], int]] = field(default_factory=list)
    maps: list[str] = field(default_factory=list)  # the Map states that ran, in order

    def run(self, execution_input: dict[str, Any]) -> str:
        try:
            self._machine(self.definition, execution_input, {})
        except TaskFailed:
            return "FAILED"
        return "SUCCEEDED"

    # --- machines and states -------------------------------------------------------------

    def _machine(self, machine: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        states, name = machine["States"], machine["StartAt"]
        while True:
            state = states[name]
            if state["Type"] == "Map":
                self.maps.append(name)
            data = self._state(state, data, context)
            if state.get("End") or state["Type"] in ("Succeed",):
                return data
            name = data.pop("__next__") if isinstance(data, dict) and "__next__" in data \
                else state["Next"]

    def _state(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        kind = state["Type"]
        if kind == "Pass":
            result = (self._parameters(state["Parameters"], data, context)
                      if "Parameters" in state else state.get("Result", data))
            return self._apply_result(state, data, result)
        if kind == "Choice":
            for choice in state["Choices"]:
                if set(choice) != {"Variable", "StringEquals", "Next"}:
                    raise AslRunError(f"unsupported choice {choice}")
                if self._path(choice["Variable"], data, context) == choice["StringEquals"]:
                    return dict(data, __next__=choice["Next"])
            return dict(data, __next__=state["Default"])
        if kind == "Fail":
            raise TaskFailed(state.get("Cause", "Fail state"))
        if kind == "Task":
            return self._task(state, data, context)
        if kind == "Map":
            items = self._items(state, data, context)
            results = []
            for index, item in enumerate(items):
                item_context = dict(context, Map={"Item": {"Value": item, "Index": index}})
                item_input = self._parameters(state["ItemSelector"], data, item_context)
                results.append(self._machine(state["ItemProcessor"], item_input, context))
            return self._apply_result(state, data, results)
        if kind == "Parallel":
            results = [self._machine(b, copy.deepcopy(data), context) for b in state["Branches"]]
            return self._apply_result(state, data, results)
        raise AslRunError(f"unsupported state type {kind}")

    def _items(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> list[Any]:
        reader = state.get("ItemReader")
        if reader is None:
            return self._path(state["ItemsPath"], data, context)
        if reader["Resource"] != "arn:aws:states:::s3:getObject" or \
                reader.get("ReaderConfig") != {"InputType": "JSON"}:
            raise AslRunError(f"unsupported ItemReader {reader}")
        params = self._parameters(reader["Parameters"], data, context)
        return json.loads(self.s3.get_object(**params)["Body"].read())

    def _task(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        attempts = 1 + sum(r.get("MaxAttempts", 3) for r in state.get("Retry", []))
        params = self._parameters(state["Parameters"], data, context)
        for _ in range(attempts):
            try:
                if state["Resource"].endswith("batch:submitJob.sync"):
                    result = self._batch(params)
                elif state["Resource"].endswith("dynamodb:getItem"):
                    result = self.dynamodb.get_item(**params)
                else:
                    raise AslRunError(f"unsupported resource {state['Resource']}")
                return self._apply_result(state, data, result)
            except TaskFailed:
                continue
        raise TaskFailed(f"task failed after {attempts} attempts")

    def _batch(self, params: dict[str, Any]) -> dict[str, Any]:
        overrides = params["ContainerOverrides"]
        env = dict(self.base_env)
        env.update({e["Name"]: e["Value"] for e in overrides.get("Environment", [])})
        proc = subprocess.run(overrides["Command"], cwd=self.cwd, env=env, capture_output=True,
                              text=True, timeout=300)
        self.jobs.append((overrides["Command"], proc.returncode))
        if proc.returncode != 0:
            self.last_stderr = proc.stderr
            raise TaskFailed(proc.stderr[-500:])
        return {"Status": "SUCCEEDED"}

    def _apply_result(self, state: dict[str, Any], data: Any, result: Any) -> Any:
        if "ResultSelector" in state:
            result = self._parameters(state["ResultSelector"], result, {})
        path = state.get("ResultPath", "$")
        if path is None:
            return data
        if path == "$":
            return result
        if not re.fullmatch(r"\$\.[A-Za-z_]+", path):
            raise AslRunError(f"unsupported ResultPath {path}")
        return dict(data, **{path[2:]: result})

    # --- paths and intrinsics ------------------------------------------------------------

    def _parameters(self, template: Any, data: Any, context: dict[str, Any]) -> Any:
        if isinstance(template, dict):
            out = {}
            for key, value in template.items():
                if key.endswith(".$"):
                    out[key[:-2]] = self._expression(value, data, context)
                else:
                    out[key] = self._parameters(value, data, context)
            return out
        if isinstance(template, list):
            return [self._parameters(v, data, context) for v in template]
        return template

    def _path(self, path: str, data: Any, context: dict[str, Any]) -> Any:
        if path.startswith("$$."):
            value: Any = {"Execution": {"Name": self.execution_name}, **context}
            parts = path[3:].split(".")
        elif path == "$":
            return data
        elif path.startswith("$."):
            value, parts = data, path[2:].split(".")
        else:
            raise AslRunError(f"unsupported path {path}")
        for part in parts:
            if not isinstance(value, dict) or part not in value:
                raise AslRunError(f"path {path} does not resolve")
            value = value[part]
        return value

    def _expression(self, text: str, data: Any, context: dict[str, Any]) -> Any:
        value, rest = self._parse(text.strip(), data, context)
        if rest.strip():
            raise AslRunError(f"trailing text in {text!r}")
        return value

    def _parse(self, text: str, data: Any, context: dict[str, Any]) -> tuple[Any, str]:
        text = text.lstrip()
        if text.startswith("'"):
            i, out = 1, []
            while text[i] != "'":
                if text[i] == "\\":
                    i += 1
                out.append(text[i])
                i += 1
            return "".join(out), text[i + 1:]
        match = re.match(r"States\.(\w+)\(", text)
        if match:
            name, rest, args = match.group(1), text[match.end():], []
            while True:
                rest = rest.lstrip()
                if rest.startswith(")"):
                    rest = rest[1:]
                    break
                value, rest = self._parse(rest, data, context)
                args.append(value)
                rest = rest.lstrip()
                if rest.startswith(","):
                    rest = rest[1:]
            return self._intrinsic(name, args), rest
        match = re.match(r"(\$\$?[A-Za-z0-9_.]*)", text)
        if match and text.startswith("$"):
            return self._path(match.group(1), data, context), text[match.end():]
        if text.startswith(("true", "false")):
            word = "true" if text.startswith("true") else "false"
            return word == "true", text[len(word):]
        raise AslRunError(f"cannot parse {text!r}")

    @staticmethod
    def _intrinsic(name: str, args: list[Any]) -> Any:
        if name == "Format":
            template, values = args[0], iter(args[1:])
            return re.sub(r"\{\}", lambda m: str(next(values)), template)
        if name == "Array":
            return list(args)
        if name == "JsonMerge":
            return {**args[0], **args[1]}
        raise AslRunError(f"unsupported intrinsic States.{name}")
