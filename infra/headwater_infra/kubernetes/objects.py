"""Turn a manifest dict from ``manifests`` into the matching ``pulumi_kubernetes`` resource.

The dict is the single source of truth: the resource gets exactly its fields (camelCase,
as Kubernetes spells them), and values may be Pulumi outputs (an identity's client id, an
image name with the registry's login server, a secret connection string).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..options import snake

__all__ = ["child_options", "create"]

_CLASSES = {
    ("v1", "Namespace"): lambda: k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): lambda: k8s.core.v1.ServiceAccount,
    ("v1", "Secret"): lambda: k8s.core.v1.Secret,
    ("v1", "Service"): lambda: k8s.core.v1.Service,
    ("apps/v1", "Deployment"): lambda: k8s.apps.v1.Deployment,
    ("batch/v1", "Job"): lambda: k8s.batch.v1.Job,
    ("policy/v1", "PodDisruptionBudget"): lambda: k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): lambda: k8s.networking.v1.NetworkPolicy,
    ("rbac.authorization.k8s.io/v1", "Role"): lambda: k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): lambda: k8s.rbac.v1.RoleBinding,
}


def create(name: str, manifest: dict[str, Any],
           opts: pulumi.ResourceOptions | None = None) -> pulumi.CustomResource:
    """Create the resource for ``manifest`` under the logical name ``name``."""
    key = (manifest["apiVersion"], manifest["kind"])
    if key not in _CLASSES:
        raise ValueError(f"no resource class for {key[1]} ({key[0]})")
    fields = {snake(k): v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    return _CLASSES[key]()(name, opts=opts, **fields)


def child_options(parent: pulumi.Resource, opts: pulumi.ResourceOptions | None,
                  depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
    """Options for a component's child: parented, and waiting for whatever the component
    itself was told to wait for (children do not inherit ``depends_on``)."""
    inherited = list((opts.depends_on if opts else None) or [])
    return pulumi.ResourceOptions(parent=parent, depends_on=inherited + list(depends_on or []))
