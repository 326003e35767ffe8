"""Role assignments: built-in roles by name, always scoped to one resource.

Every grant in the Azure stack goes through ``grant``, which takes a resource id as its
scope, so least privilege is visible in one place and checkable in tests: nothing is
granted on a subscription or a resource group.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization

__all__ = ["ROLES", "Grant", "grant", "role_definition_id"]

# Built-in role definition ids (the same in every Azure tenant).
ROLES: dict[str, str] = {
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
    "Azure Kubernetes Service RBAC Cluster Admin": "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b",
    "Azure Kubernetes Service Cluster User Role": "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
}


@dataclass(frozen=True)
class Grant:
    """``role`` (a name in ``ROLES``) on the resource whose id is ``scope``."""

    role: str
    scope: pulumi.Input[str]

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; known roles: {', '.join(ROLES)}")


def role_definition_id(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    return pulumi.Output.from_input(subscription_id).apply(
        lambda sub: f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
                    f"roleDefinitions/{ROLES[role]}")


def grant(name: str, principal_id: pulumi.Input[str], what: Grant,
          subscription_id: pulumi.Input[str], principal_type: str | None = "ServicePrincipal",
          parent: pulumi.Resource | None = None) -> authorization.RoleAssignment:
    """Assign ``what`` to ``principal_id``. Managed identities are service principals;
    saying so up front avoids a failure while a new identity replicates through Entra ID."""
    return authorization.RoleAssignment(
        name,
        principal_id=principal_id,
        principal_type=principal_type,
        role_definition_id=role_definition_id(subscription_id, what.role),
        scope=what.scope,
        description=f"headwater: {what.role}",
        opts=pulumi.ResourceOptions(parent=parent))
