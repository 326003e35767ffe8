"""The virtual network everything private lives in.

One address space split into: the cluster's node subnet (with service endpoints so Blob
Storage and Key Vault can admit it through their firewalls), a subnet for internal load
balancers (the metadata service gets a fixed private IP there), and a subnet delegated to
Postgres Flexible Server, which has no public endpoint and resolves through a private DNS
zone linked to the network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import network, privatedns

from ..naming import Naming

__all__ = ["Network", "NetworkArgs", "POD_CIDR", "SERVICE_CIDR", "DNS_SERVICE_IP"]

# The cluster's overlay ranges: never routed in the VNet, but they must not overlap it.
POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.0.0.0/16"
DNS_SERVICE_IP = "10.0.0.10"


@dataclass
class NetworkArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    naming: Naming
    tags: dict[str, str] = field(default_factory=dict)
    address_space: str = "10.40.0.0/16"

    def __post_init__(self) -> None:
        try:
            net = ipaddress.ip_network(self.address_space)
        except ValueError:
            raise ValueError(f"addressSpace {self.address_space!r} is not a CIDR range like "
                             f"10.40.0.0/16") from None
        if not 8 <= net.prefixlen <= 20 or net.version != 4:
            raise ValueError(f"addressSpace {self.address_space} must be an IPv4 range "
                             f"between /8 and /20")
        for name, other in (("pods", POD_CIDR), ("services", SERVICE_CIDR)):
            if net.overlaps(ipaddress.ip_network(other)):
                raise ValueError(f"addressSpace {self.address_space} overlaps the cluster's "
                                 f"{name} range {other}; pick another, e.g. 10.40.0.0/16")

    @property
    def layout(self) -> dict[str, str]:
        """Subnet ranges: nodes get the first sixteenth, the small subnets come after it."""
        net = ipaddress.ip_network(self.address_space)
        small = list(net.subnets(new_prefix=net.prefixlen + 8))
        return {
            "nodes": str(next(net.subnets(new_prefix=net.prefixlen + 4))),
            "load-balancers": str(small[16]),
            "postgres": str(small[17]),
        }

    @property
    def service_ip(self) -> str:
        """The metadata service's private IP: fixed, so the profile can name it up front
        (Azure reserves the first four addresses of a subnet)."""
        return str(ipaddress.ip_network(self.layout["load-balancers"]).network_address + 10)


class Network(pulumi.ComponentResource):
    """VNet, subnets, and the private DNS zone Postgres resolves in."""

    def __init__(self, name: str, args: NetworkArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:azure:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        layout = args.layout
        self.vnet = network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=args.naming.resource("vnet"),
            resource_group_name=args.resource_group_name,
            location=args.location,
            address_space={"addressPrefixes": [args.address_space]},
            tags=args.tags,
            opts=child)

        def subnet(kind: str, depends_on: list, **extra) -> network.Subnet:
            # Subnets of one VNet are created one after another: Azure rejects concurrent
            # changes to a VNet ("AnotherOperationInProgress").
            return network.Subnet(
                f"{name}-{kind}",
                subnet_name=kind,
                resource_group_name=args.resource_group_name,
                virtual_network_name=self.vnet.name,
                address_prefix=layout[kind],
                default_outbound_access=False,
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
                **extra)

        self.node_subnet = subnet("nodes", [], service_endpoints=[
            {"service": "Microsoft.Storage"}, {"service": "Microsoft.KeyVault"}])
        self.lb_subnet = subnet("load-balancers", [self.node_subnet])
        self.postgres_subnet = subnet("postgres", [self.lb_subnet], delegations=[{
            "name": "postgres-flexible-server",
            "serviceName": "Microsoft.DBforPostgreSQL/flexibleServers"}])

        self.postgres_zone = privatedns.PrivateZone(
            f"{name}-postgres-zone",
            private_zone_name=f"{args.naming.root}.private.postgres.database.azure.com",
            resource_group_name=args.resource_group_name,
            location="global",
            tags=args.tags,
            opts=child)
        self.postgres_zone_link = privatedns.VirtualNetworkLink(
            f"{name}-postgres-zone-link",
            virtual_network_link_name=args.naming.resource("vnet-link"),
            private_zone_name=self.postgres_zone.name,
            resource_group_name=args.resource_group_name,
            location="global",
            registration_enabled=False,
            virtual_network={"id": self.vnet.id},
            tags=args.tags,
            opts=child)

        self.address_space = args.address_space
        self.lb_subnet_name = "load-balancers"
        self.service_ip = args.service_ip
        self.register_outputs({"vnet_id": self.vnet.id, "node_subnet_id": self.node_subnet.id,
                               "postgres_subnet_id": self.postgres_subnet.id})
