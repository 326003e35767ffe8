"""TLS inside the network for the metadata service: a private CA of the stack's own and the
service's certificate, made by Pulumi (pulumi-tls). Kubernetes pods serve it themselves; on
ECS the internal load balancer serves it (imported into ACM).

The CA certificate is public: it travels in the profile (``METAFLOW_SERVICE_CA_CERT``), so
clients (laptops and tasks alike) verify the service without any file to install; its key
and the service's key are Pulumi secrets that end up only in the service's namespace (the
``kubernetes.io/tls`` secret the pods mount). On Kubernetes the certificate names the
service's cluster DNS names, the load balancer's address, and localhost (so that a
``kubectl port-forward`` verifies too); Pulumi renews it ``early_renewal_hours`` before
it expires, on the next ``pulumi up``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_tls as tls

from .manifests import ClusterLayout

__all__ = ["ServiceCertificate", "ServiceCertificateArgs", "cluster_names"]

_SERVER_USES = ["digital_signature", "key_encipherment", "server_auth"]


def cluster_names(layout: ClusterLayout) -> list[str]:
    """The names the service has inside the cluster, and localhost."""
    host = layout.service_host()
    return [host, host.removesuffix(".cluster.local"),
            host.removesuffix(".svc.cluster.local"), "localhost"]


@dataclass
class ServiceCertificateArgs:
    common_name: str
    organization: str                                     # the stack root, e.g. hw-dev
    names: list[str] = field(default_factory=list)        # known now
    ip_addresses: list[pulumi.Input[str]] = field(default_factory=list)
    dns_names: pulumi.Input[list[str]] = field(default_factory=list)
    validity_days: int = 365
    ca_validity_days: int = 3650


class ServiceCertificate(pulumi.ComponentResource):
    """CA key and certificate, the service's key and CA-signed certificate."""

    def __init__(self, name: str, args: ServiceCertificateArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:kubernetes:ServiceCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ca_key = tls.PrivateKey(f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P256",
                                opts=child)
        self.ca = tls.SelfSignedCert(
            f"{name}-ca", private_key_pem=ca_key.private_key_pem, is_ca_certificate=True,
            subject={"common_name": f"{args.organization} metadata service CA",
                     "organization": args.organization},
            allowed_uses=["cert_signing", "crl_signing"],
            validity_period_hours=24 * args.ca_validity_days, opts=child)
        key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        names = list(args.names)
        request = tls.CertRequest(
            f"{name}-request", private_key_pem=key.private_key_pem,
            dns_names=pulumi.Output.from_input(args.dns_names).apply(
                lambda extra: names + list(extra or [])),
            ip_addresses=[*args.ip_addresses, "127.0.0.1"],
            subject={"common_name": args.common_name, "organization": args.organization},
            opts=child)
        self.certificate = tls.LocallySignedCert(
            f"{name}-certificate", cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem, ca_cert_pem=self.ca.cert_pem,
            allowed_uses=_SERVER_USES, validity_period_hours=24 * args.validity_days,
            early_renewal_hours=24 * 30, opts=child)
        self.ca_pem = self.ca.cert_pem
        self.cert_pem = self.certificate.cert_pem
        self.key_pem = pulumi.Output.secret(key.private_key_pem)
        self.register_outputs({"ca_pem": self.ca_pem})
