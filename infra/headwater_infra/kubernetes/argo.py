"""Argo Workflows, the production scheduler on Kubernetes, from its official Helm chart.

The chart installs the controller (watching only the Headwater namespace) and the UI
(inside the cluster, token login). The workflow service account is the tasks' account from
``HeadwaterNamespace``; this component adds the one permission Argo's executor needs on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from . import manifests
from .manifests import ClusterLayout
from .objects import child_options, create

__all__ = ["ArgoWorkflows", "ArgoWorkflowsArgs", "ARGO_REPOSITORY"]

ARGO_REPOSITORY = "https://argoproj.github.io/argo-helm"


@dataclass
class ArgoWorkflowsArgs:
    layout: ClusterLayout
    chart_version: str = "0.46.2"      # Argo Workflows 3.7
    namespace: str = "argo"
    ui_url: str = "http://localhost:2746"  # through `kubectl -n argo port-forward`


class ArgoWorkflows(pulumi.ComponentResource):
    """The argo-workflows Helm release and the executor's Role/RoleBinding."""

    def __init__(self, name: str, args: ArgoWorkflowsArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:kubernetes:ArgoWorkflows", name, None, opts)
        child = child_options(self, opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="argo-workflows",
            chart="argo-workflows",
            version=args.chart_version,
            repository_opts={"repo": ARGO_REPOSITORY},
            namespace=args.namespace,
            create_namespace=True,
            values=manifests.argo_values(args.layout),
            atomic=True,
            cleanup_on_fail=True,
            opts=child)
        self.role = create(f"{name}-executor-role", manifests.workflow_role(args.layout), child)
        self.role_binding = create(f"{name}-executor-binding",
                                   manifests.workflow_role_binding(args.layout), child)
        self.ui_url = args.ui_url
        self.register_outputs({"ui_url": self.ui_url})
