"""Node groups that grow: the Kubernetes cluster autoscaler on EKS (official Helm chart,
pinned), with the IRSA role it needs.

EKS managed node groups tag their Auto Scaling groups for the autoscaler's auto-discovery
(``k8s.io/cluster-autoscaler/<cluster>=owned``); the role may change the size of those
groups only, and reads the node groups' labels and taints from the EKS API, which is how
a GPU group that starts at 0 nodes grows when a GPU pod is Pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..naming import Naming
from .eks import EksCluster
from .iam import statement

__all__ = ["ClusterAutoscaler", "ClusterAutoscalerArgs", "AUTOSCALER_REPOSITORY",
           "SERVICE_ACCOUNT", "autoscaler_values"]

AUTOSCALER_REPOSITORY = "https://kubernetes.github.io/autoscaler"
SERVICE_ACCOUNT = "cluster-autoscaler"
_NAMESPACE = "kube-system"
_DESCRIBE = ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
             "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
             "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
             "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements"]


@dataclass
class ClusterAutoscalerArgs:
    cluster: EksCluster
    naming: Naming
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)
    chart_version: str = "9.43.2"     # cluster-autoscaler 1.31


def autoscaler_values(cluster_name: str, region: str, role_arn: str) -> dict[str, Any]:
    """Helm values: auto-discover the cluster's node groups, run as the IRSA role."""
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "rbac": {"serviceAccount": {"create": True, "name": SERVICE_ACCOUNT,
                                    "annotations": {"eks.amazonaws.com/role-arn": role_arn}}},
        "extraArgs": {"balance-similar-node-groups": True,
                      "skip-nodes-with-system-pods": False},
    }


class ClusterAutoscaler(pulumi.ComponentResource):
    """IRSA role (scoped to this cluster's groups) and the cluster-autoscaler release;
    ``opts`` must name the cluster's Kubernetes provider."""

    def __init__(self, name: str, args: ClusterAutoscalerArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:aws:ClusterAutoscaler", name, None, opts)
        cluster_name = args.cluster.name
        where = pulumi.Output.all(args.region, args.account_id)
        self.role = args.cluster.service_account_role(
            f"{name}-role", args.naming, "cluster-autoscaler",
            f"system:serviceaccount:{_NAMESPACE}:{SERVICE_ACCOUNT}", {"scale-node-groups": [
                statement(_DESCRIBE, ["*"]),
                statement(["eks:DescribeNodegroup"], [where.apply(
                    lambda v: f"arn:aws:eks:{v[0]}:{v[1]}:nodegroup/{cluster_name}/*")]),
                statement(["autoscaling:SetDesiredCapacity",
                           "autoscaling:TerminateInstanceInAutoScalingGroup"],
                          [where.apply(lambda v: f"arn:aws:autoscaling:{v[0]}:{v[1]}:"
                                                 f"autoScalingGroup:*:autoScalingGroupName/*")],
                          StringEquals={f"aws:ResourceTag/k8s.io/cluster-autoscaler/"
                                        f"{cluster_name}": "owned"}),
            ]}, args.tags)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="cluster-autoscaler",
            chart="cluster-autoscaler",
            version=args.chart_version,
            repository_opts={"repo": AUTOSCALER_REPOSITORY},
            namespace=_NAMESPACE,
            values=pulumi.Output.all(args.region, self.role.arn).apply(
                lambda v: autoscaler_values(cluster_name, v[0], v[1])),
            atomic=True,
            cleanup_on_fail=True,
            opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"role_arn": self.role.arn})
