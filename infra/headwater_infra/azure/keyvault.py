"""Key Vaults that grant access through Azure RBAC only.

A stack has two: the flows' vault (the secrets backend flows read with
``@secrets(sources=["az-key-vault"])``; users and the tasks' identity are its readers) and
the service's vault (the database credential; no user or task principal holds any role on
it), so a flow can never read the metadata database's password.

RBAC authorization (no access policies) means every reader is a role assignment that can
be scoped and audited; soft delete is always on, purge protection is on unless a stack
turns it off (dev and sandbox do, so their vault names can be reused at once), and the
firewall admits only the cluster's subnet and the configured client ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import keyvault

from ..naming import Naming
from ..options import WIRED

__all__ = ["KeyVault", "KeyVaultArgs", "API_KEY_SECRET_NAME", "UI_SESSION_SECRET_NAME"]

# The metadata service's API key, in the flows' vault: every client of the service reads it
# (the service too, through a role assignment on this one secret).
API_KEY_SECRET_NAME = "headwater-service-api-key"
# What signs the service's UI sessions, in the service's vault: no user or task reads it.
UI_SESSION_SECRET_NAME = "headwater-ui-session-secret"


@dataclass
class KeyVaultArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    naming: Naming
    suffix: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    allowed_subnet_ids: list[pulumi.Input[str]]
    allowed_ip_ranges: list[str]
    tags: dict[str, str] = field(default_factory=dict)
    kind: str | None = field(default=None, metadata=WIRED)  # names a second vault ("svc")
    protect: bool = field(default=False, metadata=WIRED)    # prod: cannot be deleted
    purge_protection: bool = True
    soft_delete_days: int = 90

    def __post_init__(self) -> None:
        if not 7 <= self.soft_delete_days <= 90:
            raise ValueError("softDeleteDays must be between 7 and 90 (Key Vault's limits)")


class KeyVault(pulumi.ComponentResource):
    """Key Vault (standard SKU, RBAC, soft delete, optional purge protection, firewall)."""

    def __init__(self, name: str, args: KeyVaultArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:azure:KeyVault", name, None, opts)
        properties = {
            "tenantId": args.tenant_id,
            "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": True,
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": args.soft_delete_days,
            "publicNetworkAccess": "Enabled",  # reachable only as the firewall allows
            "networkAcls": {
                "defaultAction": "Deny",
                "bypass": "AzureServices",
                "ipRules": [{"value": cidr} for cidr in args.allowed_ip_ranges],
                "virtualNetworkRules": [{"id": subnet} for subnet in args.allowed_subnet_ids],
            },
        }
        if args.purge_protection:
            # Azure accepts only "true" here: once on, purge protection cannot be turned off.
            properties["enablePurgeProtection"] = True
        self.vault = keyvault.Vault(
            f"{name}-vault",
            vault_name=pulumi.Output.from_input(args.suffix).apply(
                lambda suffix: args.naming.key_vault(suffix, args.kind)),
            resource_group_name=args.resource_group_name,
            location=args.location,
            properties=properties,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect))
        self.vault_id = self.vault.id
        self.vault_name = self.vault.name
        self.vault_uri = self.vault.properties.apply(lambda p: p.vault_uri)
        self.resource_group_name = args.resource_group_name
        self.register_outputs({"vault_uri": self.vault_uri})

    def secret_uri(self, secret_name: str) -> pulumi.Output[str]:
        """The secret's identifier without a version (always the current value)."""
        return self.vault_uri.apply(lambda uri: f"{uri.rstrip('/')}/secrets/{secret_name}")

    def secret(self, name: str, secret_name: str, value: pulumi.Input[str],
               content_type: str = "text/plain") -> keyvault.Secret:
        """Store ``value`` as a secret through the management plane (no data-plane access
        or firewall opening needed for the deployer). The value stays a Pulumi secret."""
        return keyvault.Secret(
            name,
            secret_name=secret_name,
            vault_name=self.vault.name,
            resource_group_name=self.resource_group_name,
            properties={"value": pulumi.Output.secret(value), "contentType": content_type},
            opts=pulumi.ResourceOptions(parent=self))
