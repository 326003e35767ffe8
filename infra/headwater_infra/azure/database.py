"""The metadata service's database: Postgres Flexible Server on the private network.

The server has no public endpoint: it lives in a subnet delegated to it and resolves
through a private DNS zone linked to the VNet, so only the cluster's network reaches it.
The admin password is generated here, stored in the service's Key Vault, and handed to the cluster as a
Pulumi secret; it is never printed or exported. TLS is required for every connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_random as random
from pulumi_azure_native import dbforpostgresql as postgres

from ..naming import Naming
from ..options import WIRED
from .keyvault import KeyVault

__all__ = ["Database", "DatabaseArgs", "PASSWORD_SECRET_NAME"]

PASSWORD_SECRET_NAME = "headwater-db-admin-password"


@dataclass
class DatabaseArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    naming: Naming
    suffix: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    private_dns_zone_id: pulumi.Input[str]
    vault: KeyVault                          # the service's vault: no user or task reads it
    dns_zone_link: pulumi.Resource           # the server resolves only once the zone is linked
    tags: dict[str, str] = field(default_factory=dict)
    protect: bool = field(default=False, metadata=WIRED)   # prod: the server cannot be deleted
    version: Literal["15", "16", "17"] = "16"
    sku: str = "Standard_B1ms"
    tier: Literal["Burstable", "GeneralPurpose", "MemoryOptimized"] = "Burstable"
    storage_gb: int = 32
    backup_retention_days: int = 7
    geo_redundant_backup: bool = False
    high_availability: bool = False
    database_name: str = "headwater"
    admin_login: str = "headwater"

    def __post_init__(self) -> None:
        if not 7 <= self.backup_retention_days <= 35:
            raise ValueError("backupRetentionDays must be between 7 and 35")
        if self.storage_gb < 32:
            raise ValueError("storageGb must be at least 32")
        if self.high_availability and self.tier == "Burstable":
            raise ValueError("highAvailability needs tier GeneralPurpose or MemoryOptimized "
                             "(Burstable servers cannot have a standby)")


class Database(pulumi.ComponentResource):
    """Postgres Flexible Server, its database, and the admin password in Key Vault."""

    def __init__(self, name: str, args: DatabaseArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:azure:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # No characters that need escaping in a connection URL.
        self.password = random.RandomPassword(
            f"{name}-admin-password", length=32, special=True,
            override_special="-_.~", min_lower=2, min_upper=2, min_numeric=2, opts=child)
        self.password_secret = args.vault.secret(
            f"{name}-admin-password-secret", PASSWORD_SECRET_NAME, self.password.result)
        self.server = postgres.Server(
            f"{name}-server",
            server_name=pulumi.Output.from_input(args.suffix).apply(args.naming.postgres_server),
            resource_group_name=args.resource_group_name,
            location=args.location,
            version=args.version,
            sku={"name": args.sku, "tier": args.tier},
            storage={"storageSizeGB": args.storage_gb, "autoGrow": "Enabled"},
            backup={"backupRetentionDays": args.backup_retention_days,
                    "geoRedundantBackup": "Enabled" if args.geo_redundant_backup else "Disabled"},
            high_availability={"mode": "ZoneRedundant" if args.high_availability
                               else "Disabled"},
            network={"delegatedSubnetResourceId": args.subnet_id,
                     "privateDnsZoneArmResourceId": args.private_dns_zone_id,
                     "publicNetworkAccess": "Disabled"},
            auth_config={"passwordAuth": "Enabled", "activeDirectoryAuth": "Disabled"},
            administrator_login=args.admin_login,
            administrator_login_password=pulumi.Output.secret(self.password.result),
            tags=args.tags,
            # Explicit: children do not inherit the component's depends_on.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.dns_zone_link],
                                        protect=args.protect))
        self.require_tls = postgres.Configuration(
            f"{name}-require-tls",
            configuration_name="require_secure_transport",
            server_name=self.server.name,
            resource_group_name=args.resource_group_name,
            value="on",
            source="user-override",
            opts=child)
        self.database = postgres.Database(
            f"{name}-database",
            database_name=args.database_name,
            server_name=self.server.name,
            resource_group_name=args.resource_group_name,
            charset="UTF8",
            collation="en_US.utf8",
            opts=child)

        self.host = self.server.fully_qualified_domain_name
        self.server_name = self.server.name
        self.database_name = args.database_name
        self.admin_login = args.admin_login
        self.password_secret_name = PASSWORD_SECRET_NAME
        # The URL the service connects with: a secret, because it carries the password.
        self.url = pulumi.Output.secret(pulumi.Output.all(
            self.host, self.password.result).apply(lambda v: (
                f"postgresql://{args.admin_login}:{v[1]}@{v[0]}:5432/"
                f"{args.database_name}?sslmode=require")))
        self.register_outputs({"host": self.host, "database": self.database_name})
