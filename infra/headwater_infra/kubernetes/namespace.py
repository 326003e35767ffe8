"""Where Headwater lives in a cluster: the flows' namespace (task account, task environment
secret, what the users' group may do there) and the service's namespace (the service's
account; no user or task role reaches into it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from . import manifests
from .manifests import ClusterLayout
from .objects import create

__all__ = ["HeadwaterNamespace", "HeadwaterNamespaceArgs"]


@dataclass
class HeadwaterNamespaceArgs:
    layout: ClusterLayout
    environment: str
    # Bind each service account to its cloud identity (workload identity / IRSA).
    task_annotations: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    service_annotations: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    users_group: pulumi.Input[str] | None = None


class HeadwaterNamespace(pulumi.ComponentResource):
    """Both namespaces, task and service accounts, the (empty) task env secret, users'
    RBAC (in the flows' namespace only)."""

    def __init__(self, name: str, args: HeadwaterNamespaceArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:kubernetes:Namespace", name, None, opts)
        layout = args.layout
        self.namespace = create(f"{name}-namespace",
                                manifests.namespace(layout, args.environment),
                                pulumi.ResourceOptions(parent=self))
        inside = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        self.task_account = create(f"{name}-task-account", manifests.service_account(
            layout, layout.task_service_account, args.task_annotations),
            inside)
        self.service_namespace = create(
            f"{name}-service-namespace", manifests.service_namespace(layout, args.environment),
            pulumi.ResourceOptions(parent=self))
        self.service_account = create(f"{name}-service-account", manifests.service_account(
            layout, layout.service_service_account, args.service_annotations,
            namespace=layout.service_namespace),
            pulumi.ResourceOptions(parent=self, depends_on=[self.service_namespace]))
        # Admins add keys with kubectl; Pulumi must not wipe them on the next update.
        self.task_secret = create(f"{name}-task-env", manifests.task_env_secret(layout),
                                  pulumi.ResourceOptions.merge(inside, pulumi.ResourceOptions(
                                      ignore_changes=["data", "stringData"])))
        self.users = []
        if args.users_group is not None:
            self.users = [
                create(f"{name}-users-role", manifests.users_role(layout), inside),
                create(f"{name}-users-binding",
                       manifests.users_role_binding(layout, args.users_group), inside),
            ]
        self.name = layout.namespace
        self.register_outputs({"namespace": self.name})
