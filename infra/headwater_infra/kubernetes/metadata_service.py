"""The metadata service on Kubernetes, in the service's namespace: connection and UI session
secrets, migration Job, Deployment, Service, disruption budget and network policy.

The service requires an API key: the stack generates one per environment and keeps it in
the cloud's secret store, where clients and the service itself (its workload identity /
IRSA role, ``HEADWATER_SERVICE_API_KEYS_SECRET_ID``) read it; no Kubernetes secret holds
it. The UI's session secret reaches the pods from a Kubernetes secret. The pods get the
UI's datastore settings (``datastore_env``: the profile's keys) and read it with the
service's read-only identity. It serves HTTPS only, with a certificate from the stack's own
CA (``tls.py``) for its cluster names and its load balancer's address.

Order matters on an upgrade: the Job for the new version runs ``headwater-service db
upgrade`` to completion first, and only then does the Deployment roll to the new image.
The service itself never changes the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from . import manifests
from .manifests import ClusterLayout, Resources
from .objects import child_options, create
from .tls import ServiceCertificate, ServiceCertificateArgs, cluster_names

__all__ = ["MetadataService", "MetadataServiceArgs"]


@dataclass
class MetadataServiceArgs:
    layout: ClusterLayout
    image: pulumi.Input[str]
    version: str                               # names the migration Job
    database_url: pulumi.Input[str]            # a Pulumi secret
    api_keys_secret_id: pulumi.Input[str]      # where the API key is (not the key)
    session_secret: pulumi.Input[str]          # signs UI sessions; a Pulumi secret
    organization: str                          # names the CA (the stack root)
    client_cidrs: list[str]                    # who may reach the pods (the private network)
    service_annotations: dict[str, str] = field(default_factory=dict)
    pod_labels: dict[str, str] = field(default_factory=dict)
    datastore_env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    # The load balancer's fixed address, when there is one (AKS); a hostname the load
    # balancer reports (EKS) is added by itself.
    tls_ip_addresses: list[pulumi.Input[str]] = field(default_factory=list)
    replicas: int = 2
    resources: Resources = field(default_factory=Resources)

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError("service.replicas must be at least 1 (2 keeps it up during "
                             "node upgrades)")


class MetadataService(pulumi.ComponentResource):
    """Everything the metadata service needs inside the cluster."""

    def __init__(self, name: str, args: MetadataServiceArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:kubernetes:MetadataService", name, None, opts)
        layout = args.layout
        child = child_options(self, opts)
        self.secret = create(f"{name}-database",
                             manifests.database_secret(layout,
                                                       pulumi.Output.secret(args.database_url)),
                             child)
        self.auth_secret = create(
            f"{name}-auth", manifests.service_auth_secret(
                layout, pulumi.Output.secret(args.session_secret)), child)
        after_secret = child_options(self, opts, [self.secret])
        self.migration = create(
            f"{name}-db-upgrade-{manifests.migration_job_name(args.version)}",
            manifests.migration_job(layout, args.image, args.version,
                                    pod_labels=args.pod_labels),
            after_secret)
        self.service = create(f"{name}-service",
                              manifests.metadata_service(layout, args.service_annotations),
                              child)
        reported = self.service.status.apply(lambda status: [
            i.hostname for i in ((status.load_balancer.ingress or [])
                                 if status and status.load_balancer else []) if i.hostname])
        self.tls = ServiceCertificate(f"{name}-tls", ServiceCertificateArgs(
            layout.service_host(), args.organization, cluster_names(layout),
            ip_addresses=list(args.tls_ip_addresses),
            dns_names=reported), opts=pulumi.ResourceOptions(parent=self))
        self.tls_secret = create(
            f"{name}-tls-secret",
            manifests.service_tls_secret(layout, self.tls.cert_pem, self.tls.key_pem), child)
        self.deployment = create(
            f"{name}-deployment",
            manifests.metadata_deployment(
                layout, args.image, args.replicas, args.resources, args.pod_labels,
                {**args.datastore_env,
                 "HEADWATER_SERVICE_API_KEYS_SECRET_ID": args.api_keys_secret_id}),
            child_options(self, opts, [self.secret, self.auth_secret, self.tls_secret,
                                       self.migration]))
        self.disruption_budget = create(f"{name}-pdb",
                                        manifests.metadata_disruption_budget(layout), child)
        self.network_policy = create(
            f"{name}-network-policy",
            manifests.metadata_network_policy(layout, args.client_cidrs), child)
        self.internal_url = f"https://{layout.service_host()}"
        self.ca_pem = self.tls.ca_pem
        self.register_outputs({"internal_url": self.internal_url})
