"""Workload identities: a user-assigned managed identity per kind of pod.

Pods never see a key: a Kubernetes service account federated with the identity (AKS's OIDC
issuer vouches for the pod's token) lets DefaultAzureCredential in the pod act as the
identity, which holds only the role assignments listed for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import managedidentity

from ..naming import Naming
from .roles import Grant, grant

__all__ = ["WorkloadIdentity", "WorkloadIdentityArgs", "TOKEN_AUDIENCE"]

TOKEN_AUDIENCE = "api://AzureADTokenExchange"


@dataclass
class WorkloadIdentityArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    naming: Naming
    kind: str                               # "tasks", "service": part of the name
    subscription_id: pulumi.Input[str]
    issuer_url: pulumi.Input[str]           # the cluster's OIDC issuer
    subjects: list[str]                     # system:serviceaccount:<namespace>:<name>
    grants: list[Grant]
    tags: dict[str, str] = field(default_factory=dict)


class WorkloadIdentity(pulumi.ComponentResource):
    """Managed identity + federated credentials for service accounts + its grants."""

    def __init__(self, name: str, args: WorkloadIdentityArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:azure:WorkloadIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_name_=args.naming.resource(f"{args.kind}-id"),
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=args.tags,
            opts=child)
        self.federations = []
        for index, subject in enumerate(args.subjects):
            # Credentials of one identity must be created one at a time (Azure rejects
            # concurrent writes), hence the chain.
            previous = self.federations[-1:]
            self.federations.append(managedidentity.FederatedIdentityCredential(
                f"{name}-federation-{index}",
                federated_identity_credential_resource_name=subject.split(":")[-1],
                resource_name_=self.identity.name,
                resource_group_name=args.resource_group_name,
                issuer=args.issuer_url,
                subject=subject,
                audiences=[TOKEN_AUDIENCE],
                opts=pulumi.ResourceOptions(parent=self, depends_on=previous)))
        self.assignments = []
        seen: dict[str, int] = {}
        for what in args.grants:
            role = what.role.lower().replace(" ", "-")
            # The same role on a second resource: a second name (the first keeps its own).
            count = seen[role] = seen.get(role, 0) + 1
            self.assignments.append(grant(
                f"{name}-{role}" + (f"-{count}" if count > 1 else ""),
                self.identity.principal_id, what, args.subscription_id, parent=self))
        self.client_id = self.identity.client_id
        self.principal_id = self.identity.principal_id
        self.register_outputs({"client_id": self.client_id})
