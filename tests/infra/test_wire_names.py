"""Every property the stacks set exists in the provider's schema.

Components pass nested settings as camelCase dicts, which the SDK sends to the provider
unchecked; a typo (``vnetSubnetId`` for ``vnetSubnetID``) would only fail at ``pulumi up``.
This walks each declared resource's inputs against the provider SDK's own input types
(``...Args`` classes and their Pulumi property names). Kubernetes objects are checked
against the Kubernetes schema in test_manifests.py instead.
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings

import pytest
from pulumi._types import _py_properties

from headwater_infra.options import camel

from .conftest import FULL

SECRET_SIG = "4dabf18193072939515e22adb298388d"
_ARGS = re.compile(r"'(\w+Args)'")


def _resource_class(type_token: str):
    package, module, name = type_token.split(":")
    root = {"azure-native": "pulumi_azure_native", "aws": "pulumi_aws"}[package]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        mod = importlib.import_module(f"{root}.{module.split('/')[0]}")
    return mod, getattr(mod, name)


def _args_class(mod, annotation) -> type | None:
    found = _ARGS.findall(str(annotation))
    if not found:
        return None
    inputs = importlib.import_module(f"{mod.__name__}._inputs")
    return getattr(inputs, found[0])


def _check(mod, args_class, value, where: str, problems: list[str]) -> None:
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(mod, args_class, item, f"{where}[{index}]", problems)
        return
    if not isinstance(value, dict) or SECRET_SIG in value:
        return
    fields = {pulumi_name: prop for _, pulumi_name, prop in _py_properties(args_class)}
    for key, item in value.items():
        if key not in fields:
            problems.append(f"{where}.{key} is not a property of {args_class.__name__} "
                            f"({', '.join(sorted(fields))})")
            continue
        nested = _args_class(mod, fields[key].fget.__annotations__.get("return"))
        if nested is not None:
            _check(mod, nested, item, f"{where}.{key}", problems)


def wire_problems(resource: dict) -> list[str]:
    mod, cls = _resource_class(resource["type"])
    parameters = inspect.signature(cls._internal_init).parameters
    by_wire_name = {camel(p.rstrip("_")): p for p in parameters}
    by_wire_name.update({pulumi_name: python_name
                         for python_name, pulumi_name, _ in _py_properties(cls)})
    problems: list[str] = []
    where = f"{resource['type']} {resource['name']}"
    for key, value in resource["inputs"].items():
        python_name = by_wire_name.get(key)
        if python_name is None:
            problems.append(f"{where}: no input {key!r}")
            continue
        annotation = parameters[python_name].annotation if python_name in parameters else ""
        nested = _args_class(mod, annotation)
        if nested is not None:
            _check(mod, nested, value, f"{where}: {key}", problems)
    return problems


@pytest.mark.parametrize("label", FULL)
def test_every_input_is_a_provider_property(stack, label):
    problems = []
    checked = 0
    for resource in stack(label).custom():
        if resource["type"].split(":")[0] in ("azure-native", "aws"):
            problems += wire_problems(resource)
            checked += 1
    assert checked > 25
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_misspelt_nested_property():
    resource = {"type": "azure-native:containerservice:ManagedCluster", "name": "aks",
                "inputs": {"agentPoolProfiles": [{"name": "system", "vnetSubnetId": "x"}],
                           "networkProfile": {"networkPlugin": "azure"}}}
    problems = wire_problems(resource)
    assert len(problems) == 1 and "agentPoolProfiles[0].vnetSubnetId" in problems[0]
    resource = {"type": "aws:s3/bucket:Bucket", "name": "b", "inputs": {"bukket": "x"}}
    assert wire_problems(resource) == ["aws:s3/bucket:Bucket b: no input 'bukket'"]
