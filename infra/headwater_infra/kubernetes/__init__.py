"""In-cluster components (pulumi-kubernetes), shared by the AKS and EKS stacks.

``manifests`` builds the objects as plain dicts (validated offline in the tests, no Pulumi
needed); the components hand them to ``pulumi_kubernetes``. Names load on first use, so
importing ``manifests`` does not import Pulumi.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ArgoWorkflows": "argo", "ArgoWorkflowsArgs": "argo",
    "ClusterLayout": "manifests", "Resources": "manifests",
    "MetadataService": "metadata_service", "MetadataServiceArgs": "metadata_service",
    "HeadwaterNamespace": "namespace", "HeadwaterNamespaceArgs": "namespace",
    "NvidiaDevicePlugin": "gpu", "NvidiaDevicePluginArgs": "gpu",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
