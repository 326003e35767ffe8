"""The compute cluster: AKS with workload identity, Entra ID sign-in and no local accounts.

A system pool runs the cluster's own add-ons (and, when there is no user pool, everything);
an optional autoscaling user pool runs flows' tasks, and an optional GPU pool scales from
zero and is tainted so only pods that ask for GPUs land on it. The OIDC issuer and workload
identity let pods act as managed identities without keys; Entra ID + Azure RBAC decide who
may use the API server, which also accepts only the configured client IP ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi
from pulumi_azure_native import containerservice

from ..naming import Naming
from .kubeconfig import use_azure_cli_login
from .network import DNS_SERVICE_IP, POD_CIDR, SERVICE_CIDR

__all__ = ["AksCluster", "AksClusterArgs", "NodePool", "GPU_TAINT"]

GPU_TAINT = "nvidia.com/gpu=present:NoSchedule"
_SYSTEM_TAINT = "CriticalAddonsOnly=true:NoSchedule"


@dataclass(frozen=True)
class NodePool:
    """An autoscaling pool: ``vmSize`` nodes, between ``minCount`` and ``maxCount``."""

    vm_size: str
    min_count: int = 1
    max_count: int = 3
    os_disk_gb: int = 128

    def __post_init__(self) -> None:
        if not 0 <= self.min_count <= self.max_count or self.max_count < 1:
            raise ValueError(f"node pool counts must satisfy 0 <= minCount <= maxCount and "
                             f"maxCount >= 1 (got {self.min_count}..{self.max_count})")


@dataclass
class AksClusterArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    naming: Naming
    tenant_id: pulumi.Input[str]
    node_subnet_id: pulumi.Input[str]
    allowed_ip_ranges: list[str]
    tags: dict[str, str] = field(default_factory=dict)
    kubernetes_version: str | None = None
    tier: Literal["Free", "Standard"] = "Free"
    system_vm_size: str = "Standard_D2s_v5"
    system_count: int = 1
    user_pool: NodePool | None = None
    gpu_pool: NodePool | None = None

    def __post_init__(self) -> None:
        if self.system_count < 1:
            raise ValueError("systemCount must be at least 1")
        if self.gpu_pool and self.gpu_pool.min_count > 0:
            pulumi.log.warn("gpuPool.minCount > 0 keeps GPU nodes (and their cost) running "
                            "while idle; 0 lets the pool scale to zero")


class AksCluster(pulumi.ComponentResource):
    """AKS cluster, its optional user and GPU pools, and a kubeconfig for Pulumi."""

    def __init__(self, name: str, args: AksClusterArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:azure:AksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        api_access = {"authorizedIPRanges": list(args.allowed_ip_ranges)} \
            if args.allowed_ip_ranges else None
        self.cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_name_=args.naming.resource("aks"),
            resource_group_name=args.resource_group_name,
            location=args.location,
            dns_prefix=args.naming.root,
            kubernetes_version=args.kubernetes_version,
            node_resource_group=args.naming.resource("aks-nodes"),
            sku={"name": "Base", "tier": args.tier},
            identity={"type": "SystemAssigned"},
            agent_pool_profiles=[{
                "name": "system",
                "mode": "System",
                "vmSize": args.system_vm_size,
                "count": args.system_count,
                "osType": "Linux",
                "osSKU": "AzureLinux",
                "vnetSubnetID": args.node_subnet_id,
                # With a user pool, keep tasks off the system nodes.
                "nodeTaints": [_SYSTEM_TAINT] if args.user_pool else [],
            }],
            network_profile={
                "networkPlugin": "azure",
                "networkPluginMode": "overlay",
                "networkDataplane": "cilium",
                "networkPolicy": "cilium",
                "podCidr": POD_CIDR,
                "serviceCidr": SERVICE_CIDR,
                "dnsServiceIP": DNS_SERVICE_IP,
                "loadBalancerSku": "standard",
                "outboundType": "loadBalancer",
            },
            oidc_issuer_profile={"enabled": True},
            security_profile={"workloadIdentity": {"enabled": True}},
            aad_profile={"managed": True, "enableAzureRBAC": True, "tenantID": args.tenant_id},
            disable_local_accounts=True,
            enable_rbac=True,
            api_server_access_profile=api_access,
            auto_upgrade_profile={"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"},
            tags=args.tags,
            opts=child)

        self.pools = {}
        for pool_name, pool, extra in (
                ("user", args.user_pool, {}),
                ("gpu", args.gpu_pool, {"node_taints": [GPU_TAINT]})):
            if pool is None:
                continue
            self.pools[pool_name] = containerservice.AgentPool(
                f"{name}-{pool_name}-pool",
                agent_pool_name=pool_name,
                resource_name_=self.cluster.name,
                resource_group_name=args.resource_group_name,
                mode="User",
                vm_size=pool.vm_size,
                os_type="Linux",
                os_sku="AzureLinux" if pool_name == "user" else "Ubuntu",
                os_disk_size_gb=pool.os_disk_gb,
                enable_auto_scaling=True,
                count=pool.min_count,
                min_count=pool.min_count,
                max_count=pool.max_count,
                vnet_subnet_id=args.node_subnet_id,
                node_labels={"headwater.dev/pool": pool_name},
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
                **extra)

        self.cluster_id = self.cluster.id
        self.cluster_name = self.cluster.name
        self.oidc_issuer_url = self.cluster.oidc_issuer_profile.apply(
            lambda p: p.issuer_url if p else None)
        self.principal_id = self.cluster.identity.apply(lambda i: i.principal_id)
        self.kubelet_object_id = self.cluster.identity_profile.apply(
            lambda p: p["kubeletidentity"].object_id)
        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=args.resource_group_name,
            resource_name=self.cluster.name,
            format="exec")
        self.kubeconfig = pulumi.Output.secret(credentials.kubeconfigs.apply(
            lambda configs: use_azure_cli_login(configs[0].value)))
        self.register_outputs({"cluster_name": self.cluster_name,
                               "oidc_issuer_url": self.oidc_issuer_url})
