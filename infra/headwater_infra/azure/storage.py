"""The artifact store: one storage account with the artifact and card containers.

Locked down the way the datastore uses it: HTTPS and TLS 1.2+ only, no anonymous blob
access, no shared keys (clients use Entra ID through DefaultAzureCredential / workload
identity), a firewall that admits only the cluster's subnet and the configured client IP
ranges, soft delete for blobs and containers, and a lifecycle rule that moves artifacts
nobody wrote for a while to a cheaper tier (and, if asked, deletes them).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

import pulumi
from pulumi_azure_native import storage

from ..naming import Naming, check
from ..options import WIRED

__all__ = ["Storage", "StorageArgs", "storage_ip_rule"]

_PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")


@dataclass
class StorageArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    naming: Naming
    suffix: pulumi.Input[str]
    allowed_subnet_ids: list[pulumi.Input[str]]
    allowed_ip_ranges: list[str]
    tags: dict[str, str] = field(default_factory=dict)
    protect: bool = field(default=False, metadata=WIRED)   # prod: the account cannot be deleted
    sku: Literal["Standard_LRS", "Standard_ZRS", "Standard_GRS", "Standard_GZRS"] = \
        "Standard_LRS"
    soft_delete_days: int = 30
    versioning: bool = False
    cool_after_days: int | None = 30
    delete_after_days: int | None = None
    artifact_container: str = "artifacts"
    card_container: str = "cards"

    def __post_init__(self) -> None:
        if not 1 <= self.soft_delete_days <= 365:
            raise ValueError("softDeleteDays must be between 1 and 365")
        if self.cool_after_days is not None and self.cool_after_days < 1:
            raise ValueError("coolAfterDays must be at least 1 (or null to keep the hot tier)")
        if self.delete_after_days is not None and self.delete_after_days < (
                (self.cool_after_days or 0) + 30):
            raise ValueError("deleteAfterDays must be null (keep artifacts) or at least 30 "
                             "days after coolAfterDays (the cool tier bills 30 days minimum)")
        check("blob container", self.artifact_container)
        check("blob container", self.card_container)
        for cidr in self.allowed_ip_ranges:
            storage_ip_rule(cidr)


def storage_ip_rule(cidr: str) -> str:
    """A client range as the storage firewall takes it: public IPv4 only, single addresses
    without ``/32`` (the firewall rejects /31 and /32 ranges)."""
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ValueError(f"allowedClientIpRanges: {cidr!r} is not an IP range like "
                         f"203.0.113.0/24") from None
    if net.version != 4 or net.is_loopback or net.is_link_local or any(
            net.subnet_of(ipaddress.ip_network(p)) for p in _PRIVATE):
        raise ValueError(f"allowedClientIpRanges: {cidr} must be a public IPv4 range "
                         f"(private addresses reach storage through the VNet instead)")
    return str(net.network_address) if net.prefixlen >= 31 else str(net)


class Storage(pulumi.ComponentResource):
    """Storage account, soft delete, lifecycle rule, artifact and card containers."""

    def __init__(self, name: str, args: StorageArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:azure:Storage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = storage.StorageAccount(
            f"{name}-account",
            account_name=pulumi.Output.from_input(args.suffix).apply(args.naming.storage_account),
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="StorageV2",
            sku={"name": args.sku},
            access_tier="Hot",
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            public_network_access="Enabled",  # reachable only as the firewall allows
            network_rule_set={
                "defaultAction": "Deny",
                "bypass": "AzureServices",
                "ipRules": [{"iPAddressOrRange": storage_ip_rule(c), "action": "Allow"}
                            for c in args.allowed_ip_ranges],
                "virtualNetworkRules": [{"virtualNetworkResourceId": s, "action": "Allow"}
                                        for s in args.allowed_subnet_ids],
            },
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect))
        self.blob_service = storage.BlobServiceProperties(
            f"{name}-blob-service",
            account_name=self.account.name,
            resource_group_name=args.resource_group_name,
            blob_services_name="default",
            delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
            container_delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
            is_versioning_enabled=args.versioning,
            opts=child)
        self.containers = {
            container: storage.BlobContainer(
                f"{name}-{container}",
                container_name=container,
                account_name=self.account.name,
                resource_group_name=args.resource_group_name,
                public_access="None",
                opts=child)
            for container in (args.artifact_container, args.card_container)
        }
        actions = {}
        if args.cool_after_days is not None:
            actions["tierToCool"] = {"daysAfterModificationGreaterThan": args.cool_after_days}
        if args.delete_after_days is not None:
            actions["delete"] = {"daysAfterModificationGreaterThan": args.delete_after_days}
        self.lifecycle = None
        if actions:
            self.lifecycle = storage.ManagementPolicy(
                f"{name}-lifecycle",
                account_name=self.account.name,
                resource_group_name=args.resource_group_name,
                management_policy_name="default",
                policy={"rules": [{
                    "name": "age-out-artifacts",
                    "enabled": True,
                    "type": "Lifecycle",
                    "definition": {
                        "filters": {"blobTypes": ["blockBlob"],
                                    "prefixMatch": [f"{args.artifact_container}/",
                                                    f"{args.card_container}/"]},
                        "actions": {"baseBlob": actions},
                    },
                }]},
                opts=child)

        self.account_id = self.account.id
        self.account_name = self.account.name
        self.blob_endpoint = self.account.primary_endpoints.apply(lambda e: e.blob)
        self.artifact_root = args.artifact_container
        self.card_root = args.card_container
        self.register_outputs({"account_name": self.account_name,
                               "blob_endpoint": self.blob_endpoint})
