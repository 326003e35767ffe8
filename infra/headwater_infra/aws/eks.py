"""EKS, for stacks with ``platform: eks``: the metadata service and Argo Workflows then run
on Kubernetes, as on Azure, and ``@kubernetes`` tasks get the same task role through IRSA.

The API server is private plus, only if client ranges are configured, public to those
ranges; access is by EKS access entries (the deployer is admin; the users' role gets the
``headwater-users`` Kubernetes group, which the namespace's RoleBinding empowers); Kubernetes
secrets are encrypted with a customer-managed KMS key; nodes run in the private subnets.
The VPC CNI add-on enforces NetworkPolicy (off by default on EKS), so the policies the stack
declares hold, as Cilium makes them hold on AKS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..naming import Naming
from .iam import assume_role, role

__all__ = ["EksCluster", "EksClusterArgs", "NodeGroup", "USERS_GROUP"]

USERS_GROUP = "headwater-users"
_WORKER_POLICIES = [f"arn:aws:iam::aws:policy/{p}" for p in (
    "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")]


@dataclass(frozen=True)
class NodeGroup:
    """A managed node group: ``instanceTypes`` between ``minSize`` and ``maxSize`` nodes."""

    instance_types: list[str]
    min_size: int = 1
    max_size: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.min_size <= self.max_size or self.max_size < 1:
            raise ValueError("node group sizes must satisfy 0 <= minSize <= maxSize, "
                             "maxSize >= 1")


@dataclass
class EksClusterArgs:
    naming: Naming
    region: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    allowed_ip_ranges: list[str]
    users_role_arn: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    version: str | None = None
    nodes: NodeGroup = field(default_factory=lambda: NodeGroup(["m6i.large"], 2, 6))
    gpu_nodes: NodeGroup | None = None


class EksCluster(pulumi.ComponentResource):
    """EKS control plane, node groups, OIDC provider for IRSA, access entries."""

    def __init__(self, name: str, args: EksClusterArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:aws:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags
        cluster_role = role(f"{name}-cluster-role", args.naming, "eks-cluster",
                            assume_role(["eks.amazonaws.com"]), {}, tags, self,
                            managed=["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"])
        key = aws.kms.Key(f"{name}-secrets-key", description="EKS secrets encryption",
                          enable_key_rotation=True, deletion_window_in_days=30, tags=tags,
                          opts=child)
        self.cluster = aws.eks.Cluster(
            f"{name}-cluster", name=args.naming.aws_name("eks"), role_arn=cluster_role.arn,
            version=args.version,
            vpc_config={"subnetIds": args.subnet_ids, "endpointPrivateAccess": True,
                        "endpointPublicAccess": bool(args.allowed_ip_ranges),
                        "publicAccessCidrs": args.allowed_ip_ranges or None},
            access_config={"authenticationMode": "API",
                           "bootstrapClusterCreatorAdminPermissions": True},
            encryption_config={"provider": {"keyArn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=["api", "audit", "authenticator"],
            tags=tags, opts=child)
        # EKS installs the VPC CNI unmanaged, with network policy off; adopt it as an add-on
        # with its policy agent on.
        self.vpc_cni = aws.eks.Addon(
            f"{name}-vpc-cni", cluster_name=self.cluster.name, addon_name="vpc-cni",
            configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            tags=tags, opts=child)
        node_role = role(f"{name}-node-role", args.naming, "eks-node",
                         assume_role(["ec2.amazonaws.com"]), {}, tags, self,
                         managed=_WORKER_POLICIES)
        self.node_groups = {}
        for kind, group, extra in (
                ("general", args.nodes, {}),
                ("gpu", args.gpu_nodes, {"ami_type": "AL2023_x86_64_NVIDIA", "taints": [{
                    "key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]})):
            if group is None:
                continue
            self.node_groups[kind] = aws.eks.NodeGroup(
                f"{name}-{kind}-nodes", cluster_name=self.cluster.name,
                node_group_name=kind, node_role_arn=node_role.arn,
                subnet_ids=args.subnet_ids, instance_types=group.instance_types,
                scaling_config={"minSize": group.min_size, "maxSize": group.max_size,
                                "desiredSize": max(group.min_size, 1 if kind == "general"
                                                   else 0)},
                labels={"headwater.dev/pool": kind}, tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.vpc_cni],
                                            ignore_changes=["scalingConfig.desiredSize"]),
                **extra)
        issuer = self.cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"], tags=tags,
            opts=child)
        self.issuer_host = issuer.apply(lambda url: url.removeprefix("https://"))
        if args.users_role_arn:
            aws.eks.AccessEntry(f"{name}-users", cluster_name=self.cluster.name,
                                principal_arn=args.users_role_arn, type="STANDARD",
                                kubernetes_groups=[USERS_GROUP], tags=tags, opts=child)

        self.cluster_name = self.cluster.name
        self.name = args.naming.aws_name("eks")   # known before the cluster exists
        self.security_group_id = self.cluster.vpc_config.apply(
            lambda c: c.cluster_security_group_id)
        self.kubeconfig = pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint,
            self.cluster.certificate_authority.apply(lambda ca: ca.data),
            args.region).apply(lambda v: json.dumps({
                "apiVersion": "v1", "kind": "Config", "current-context": v[0],
                "clusters": [{"name": v[0], "cluster": {
                    "server": v[1], "certificate-authority-data": v[2]}}],
                "contexts": [{"name": v[0], "context": {"cluster": v[0], "user": v[0]}}],
                "users": [{"name": v[0], "user": {"exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
                    "args": ["eks", "get-token", "--cluster-name", v[0], "--region", v[3]]}}}],
            }))
        self.register_outputs({"cluster_name": self.cluster_name})

    def web_identity(self, subject: str) -> tuple:
        """IRSA trust for the service account ``subject`` (see ``iam.assume_role``)."""
        return (self.oidc_provider.arn, self.issuer_host, subject)

    def service_account_role(self, name: str, naming: Naming, kind: str, subject: str,
                             policies: dict, tags: dict[str, str]) -> aws.iam.Role:
        """A role only the pods of one service account can assume (IRSA)."""
        return role(name, naming, kind, assume_role(web_identity=[self.web_identity(subject)]),
                    policies, tags, self)
