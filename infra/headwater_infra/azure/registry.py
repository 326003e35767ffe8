"""The container registry the cluster pulls the service and task images from.

No admin user and no anonymous pulls: the cluster's kubelet identity gets ``AcrPull`` on
this registry only, and people push with their Entra ID (``az acr build`` / ``az acr
login``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi
from pulumi_azure_native import containerregistry

from ..naming import Naming
from .roles import Grant, grant

__all__ = ["Registry", "RegistryArgs"]


@dataclass
class RegistryArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    naming: Naming
    suffix: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    pull_principal_id: pulumi.Input[str]     # the cluster's kubelet identity
    tags: dict[str, str] = field(default_factory=dict)
    sku: Literal["Basic", "Standard", "Premium"] = "Basic"


class Registry(pulumi.ComponentResource):
    """Azure Container Registry + AcrPull for the cluster."""

    def __init__(self, name: str, args: RegistryArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:azure:Registry", name, None, opts)
        self.registry = containerregistry.Registry(
            f"{name}-acr",
            registry_name=pulumi.Output.from_input(args.suffix).apply(
                args.naming.container_registry),
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku={"name": args.sku},
            admin_user_enabled=False,
            # Anonymous pull is a Standard/Premium feature; Basic never allows it.
            anonymous_pull_enabled=False if args.sku != "Basic" else None,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self))
        self.pull = grant(f"{name}-acrpull", args.pull_principal_id,
                          Grant("AcrPull", self.registry.id), args.subscription_id,
                          parent=self)
        self.login_server = self.registry.login_server
        self.registry_id = self.registry.id
        self.register_outputs({"login_server": self.login_server})
