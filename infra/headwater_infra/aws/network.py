"""The VPC: private subnets for everything Headwater runs, public ones only for NAT.

The database, the metadata service, Batch jobs and cluster nodes live in private subnets
(no public IPs). They reach AWS APIs and package indexes through one NAT gateway, and S3
through a gateway endpoint (free, and artifact traffic never crosses the NAT).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..naming import Naming

__all__ = ["Network", "NetworkArgs"]


@dataclass
class NetworkArgs:
    naming: Naming
    region: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)
    cidr: str = "10.70.0.0/16"
    az_count: int = 2

    def __post_init__(self) -> None:
        try:
            net = ipaddress.ip_network(self.cidr)
        except ValueError:
            raise ValueError(f"network.cidr {self.cidr!r} is not a CIDR range like "
                             f"10.70.0.0/16") from None
        if net.version != 4 or not 16 <= net.prefixlen <= 20:
            raise ValueError(f"network.cidr {self.cidr} must be an IPv4 range from /16 to /20")
        if not 2 <= self.az_count <= 3:
            raise ValueError("network.azCount must be 2 or 3 (RDS and load balancers need "
                             "two availability zones)")

    def subnets(self) -> tuple[list[str], list[str]]:
        """(private, public) ranges: private subnets get a quarter of the range each."""
        net = ipaddress.ip_network(self.cidr)
        quarters = list(net.subnets(new_prefix=net.prefixlen + 2))
        small = list(quarters[3].subnets(new_prefix=net.prefixlen + 6))
        return ([str(q) for q in quarters[: self.az_count]],
                [str(s) for s in small[: self.az_count]])


class Network(pulumi.ComponentResource):
    """VPC, private and public subnets across AZs, NAT gateway, S3 gateway endpoint."""

    def __init__(self, name: str, args: NetworkArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = lambda kind: {**args.tags, "Name": f"{args.naming.root}-{kind}"}  # noqa: E731
        zones = aws.get_availability_zones_output(state="available").names
        self.vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.cidr, enable_dns_support=True,
                               enable_dns_hostnames=True, tags=tags("vpc"), opts=child)
        private_ranges, public_ranges = args.subnets()
        self.private_subnets, self.public_subnets = [], []
        for index, (private, public) in enumerate(zip(private_ranges, public_ranges)):
            zone = zones[index]
            self.private_subnets.append(aws.ec2.Subnet(
                f"{name}-private-{index}", vpc_id=self.vpc.id, cidr_block=private,
                availability_zone=zone, map_public_ip_on_launch=False,
                tags={**tags(f"private-{index}"), "kubernetes.io/role/internal-elb": "1"},
                opts=child))
            self.public_subnets.append(aws.ec2.Subnet(
                f"{name}-public-{index}", vpc_id=self.vpc.id, cidr_block=public,
                availability_zone=zone, map_public_ip_on_launch=False,
                tags=tags(f"public-{index}"), opts=child))

        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=tags("igw"),
                                          opts=child)
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-routes", vpc_id=self.vpc.id, tags=tags("public"),
            routes=[{"cidrBlock": "0.0.0.0/0", "gatewayId": gateway.id}], opts=child)
        for index, subnet in enumerate(self.public_subnets):
            aws.ec2.RouteTableAssociation(f"{name}-public-{index}", subnet_id=subnet.id,
                                          route_table_id=public_routes.id, opts=child)
        address = aws.ec2.Eip(f"{name}-nat-ip", domain="vpc", tags=tags("nat"), opts=child)
        self.nat = aws.ec2.NatGateway(f"{name}-nat", allocation_id=address.id,
                                      subnet_id=self.public_subnets[0].id, tags=tags("nat"),
                                      opts=pulumi.ResourceOptions(parent=self,
                                                                  depends_on=[gateway]))
        private_routes = aws.ec2.RouteTable(
            f"{name}-private-routes", vpc_id=self.vpc.id, tags=tags("private"),
            routes=[{"cidrBlock": "0.0.0.0/0", "natGatewayId": self.nat.id}], opts=child)
        for index, subnet in enumerate(self.private_subnets):
            aws.ec2.RouteTableAssociation(f"{name}-private-{index}", subnet_id=subnet.id,
                                          route_table_id=private_routes.id, opts=child)
        self.s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3", vpc_id=self.vpc.id, vpc_endpoint_type="Gateway",
            service_name=pulumi.Output.concat("com.amazonaws.", args.region, ".s3"),
            route_table_ids=[private_routes.id], tags=tags("s3"), opts=child)

        self.vpc_id = self.vpc.id
        self.cidr = args.cidr
        self.private_subnet_ids = [s.id for s in self.private_subnets]
        self.register_outputs({"vpc_id": self.vpc_id})
