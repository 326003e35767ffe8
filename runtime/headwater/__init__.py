"""Headwater: ML and data workflows as plain Python classes.

    from headwater import FlowSpec, step, Parameter

Everything a user writes comes from here. Names are loaded on first use (PEP 562), so
``import headwater`` costs almost nothing and pulls in no cloud SDK.
"""

from __future__ import annotations

import importlib
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
    if module is None:
        raise AttributeError(f"module 'headwater' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return __all__


class _Package(types.ModuleType):
    """Keeps ``headwater.current`` the ``current`` object: importing the submodule
    ``headwater.current`` would otherwise rebind the package attribute to the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "current" and isinstance(value, types.ModuleType):
            value = value.current
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
