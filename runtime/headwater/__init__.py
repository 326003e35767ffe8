"""Headwater: ML and data workflows as plain Python classes.

    from headwater import FlowSpec, step, Parameter

Everything a user writes comes from here. Names are loaded on first use (PEP 562), so
``import headwater`` costs almost nothing and pulls in no cloud SDK.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # writing flows
    "FlowSpec": "headwater.flowspec",
    "step": "headwater.flowspec",
    "Parameter": "headwater.parameters",
    "JSONType": "headwater.parameters",
    "IncludeFile": "headwater.include_file",
    "Config": "headwater.config",
    "config_expr": "headwater.config",
    "current": "headwater.current",
    # step decorators
    "retry": "headwater.decorators.api",
    "catch": "headwater.decorators.api",
    "timeout": "headwater.decorators.api",
    "resources": "headwater.decorators.api",
    "environment": "headwater.decorators.api",
    "secrets": "headwater.decorators.api",
    "card": "headwater.decorators.api",
    "track_resources": "headwater.decorators.api",
    "kubernetes": "headwater.decorators.api",
    "batch": "headwater.decorators.api",
    "parallel": "headwater.decorators.api",
    "pypi": "headwater.decorators.api",
    "conda": "headwater.decorators.api",
    # flow decorators
    "project": "headwater.decorators.api",
    "schedule": "headwater.decorators.api",
    "pypi_base": "headwater.decorators.api",
    "conda_base": "headwater.decorators.api",
    # running flows from Python
    "Runner": "headwater.runner",
    "NBRunner": "headwater.runner",
    "Deployer": "headwater.deploy_api",
    "NBDeployer": "headwater.deploy_api",
    "DeployedFlow": "headwater.deploy_api",
    "TriggeredRun": "headwater.deploy_api",
    # Client API
    "Metaflow": "headwater.client",
    "Flow": "headwater.client",
    "Run": "headwater.client",
    "Step": "headwater.client",
    "Task": "headwater.client",
    "DataArtifact": "headwater.client",
    "namespace": "headwater.client",
    "get_namespace": "headwater.client",
    "default_namespace": "headwater.client",
    "get_metadata": "headwater.client",
    # cloud helpers
    "create_azure_credential": "headwater.azure_credential",
    # errors
    "HeadwaterException": "headwater.exceptions",
    "MetaflowException": "headwater.exceptions",
    "MetaflowNotFound": "headwater.exceptions",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None and _is_installed_decorator(name):
        module = "headwater.decorators.api"
    if module is None:
        raise AttributeError(f"module 'headwater' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # next lookup is a plain attribute
    return value


def _is_submodule(name: str) -> bool:
    # ``from headwater import attempt`` asks for the attribute before importing the module:
    # answer that without reading entry points.
    here = os.path.dirname(__file__)
    return os.path.exists(os.path.join(here, name + ".py")) or os.path.isdir(
        os.path.join(here, name))


def _is_installed_decorator(name: str) -> bool:
    """Whether an installed package declares a decorator ``name`` (an entry point of
    ``headwater.step_decorators`` or ``headwater.flow_decorators``)."""
    if name.startswith("_") or _is_submodule(name):
        return False
    extensions = importlib.import_module("headwater.extensions")
    return any(name in extensions.installed(group) for group in (
        extensions.ExtensionGroup.STEP_DECORATORS, extensions.ExtensionGroup.FLOW_DECORATORS))


def __dir__() -> list[str]:
    return __all__


class _Package(types.ModuleType):
    """Keeps ``headwater.current`` the ``current`` object and ``headwater.secrets`` the
    decorator: importing the submodule of the same name would otherwise rebind the package
    attribute to the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "current" and isinstance(value, types.ModuleType):
            value = value.current
        elif (isinstance(value, types.ModuleType) and name in _EXPORTS
              and _EXPORTS[name] != value.__name__):
            return  # the subpackage headwater.secrets must not hide the @secrets decorator
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
