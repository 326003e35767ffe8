"""The metadata service on ECS Fargate behind an internal Application Load Balancer.

Tasks run in the private subnets and accept traffic only from the load balancer, which
accepts it only from inside the VPC (and from ``client_cidrs``, e.g. a VPN). The database
password reaches the container as ``PGPASSWORD`` from Secrets Manager (libpq reads it), so
the connection URL in the task definition holds none; the API keys the service requires
(``HEADWATER_SERVICE_API_KEYS``) and the UI's session secret (``HEADWATER_UI_SESSION_SECRET``)
reach it the same way. Its plain environment holds the UI's datastore settings
(``datastore_env``); the task role may only list the artifact bucket and read its objects.

The load balancer serves only HTTPS (TLS 1.2 or 1.3) on 443; there is no plain-HTTP
listener. By default its certificate comes from the stack's own CA (``kubernetes/tls.py``)
for the load balancer's DNS name, imported into ACM; the CA certificate (public) travels in
the profile (``METAFLOW_SERVICE_CA_CERT``) so clients verify it. With ``certificateArn`` and
``hostname`` (an ACM certificate for a name you point at the load balancer, e.g. a CNAME to
its DNS name) that certificate is used instead and the profile's URLs are
``https://<hostname>``. TLS ends at the load balancer: the hop to the tasks stays inside
the private subnets, where only the load balancer's security group may reach them.

Schema migrations are a separate task definition, run on purpose with ``aws ecs
run-task`` (the stack exports the exact command): the service never upgrades its schema.
Since the service reports itself unready until its schema is current, a new version goes
out in two steps: first the migration task for it (``image`` None on the very first
deployment), run by hand, then the service.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..kubernetes.manifests import SERVICE_PORT
from ..kubernetes.tls import ServiceCertificate, ServiceCertificateArgs
from ..naming import Naming
from ..options import WIRED
from .iam import assume_role, role, statement

__all__ = ["EcsMetadataService", "EcsMetadataServiceArgs"]


@dataclass
class EcsMetadataServiceArgs:
    naming: Naming
    region: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_ids: list[pulumi.Input[str]]
    image: pulumi.Input[str] | None            # None: migration task only (see below)
    migration_image: pulumi.Input[str]
    database_url: pulumi.Input[str]            # without the password
    database_secret_arn: pulumi.Input[str]     # JSON with a "password" key
    repository_arns: list[pulumi.Input[str]]
    bucket_arn: pulumi.Input[str]
    api_key_secret_arn: pulumi.Input[str]      # the key the service requires of clients
    tags: dict[str, str] = field(default_factory=dict)
    desired_count: int = 2
    cpu: int = 512
    memory: int = 1024
    client_cidrs: list[str] = field(default_factory=list)
    exec_access: bool = False
    log_retention_days: int = 30
    certificate_arn: str | None = None         # ACM certificate for `hostname`: HTTPS only
    hostname: str | None = None
    session_secret_arn: pulumi.Input[str] | None = field(default=None, metadata=WIRED)
    # What the UI reads the datastore with (the profile's keys, the region).
    datastore_env: dict[str, pulumi.Input[str]] = field(default_factory=dict, metadata=WIRED)

    def __post_init__(self) -> None:
        if self.desired_count < 1:
            raise ValueError("service.desiredCount must be at least 1")
        if bool(self.certificate_arn) != bool(self.hostname):
            raise ValueError("service.certificateArn and service.hostname go together: the "
                             "certificate must be for the name clients use")


def _container(name: str, image, command: list[str], args: EcsMetadataServiceArgs,
               log_group: str, prefix: str, port: bool) -> dict:
    container = {
        "name": name,
        "image": image,
        "command": command,
        "essential": True,
        "user": "10001:10001",
        "readonlyRootFilesystem": True,
        "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}],
        "environment": [{"name": "HEADWATER_DATABASE_URL", "value": args.database_url}],
        "secrets": [{"name": "PGPASSWORD",
                     "valueFrom": pulumi.Output.concat(args.database_secret_arn,
                                                       ":password::")},
                    {"name": "HEADWATER_SERVICE_API_KEYS",
                     "valueFrom": args.api_key_secret_arn}],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": log_group, "awslogs-region": args.region,
            "awslogs-stream-prefix": prefix}},
        "linuxParameters": {"initProcessEnabled": True},
    }
    if port:  # the serving container: the UI's settings too
        container["portMappings"] = [{"containerPort": SERVICE_PORT, "protocol": "tcp"}]
        container["environment"] += [{"name": k, "value": v}
                                     for k, v in sorted(args.datastore_env.items())]
        if args.session_secret_arn is not None:
            container["secrets"].append({"name": "HEADWATER_UI_SESSION_SECRET",
                                         "valueFrom": args.session_secret_arn})
    return container


class EcsMetadataService(pulumi.ComponentResource):
    """ECS cluster, service and migration task definitions, internal ALB, roles, logs."""

    def __init__(self, name: str, args: EcsMetadataServiceArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:aws:EcsMetadataService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        root, tags = args.naming.root, args.tags
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster", name=args.naming.aws_name("metadata"),
            settings=[{"name": "containerInsights", "value": "enabled"}], tags=tags,
            opts=child)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/headwater/{root}/metadata",
            retention_in_days=args.log_retention_days, tags=tags, opts=child)
        self.execution_role = role(
            f"{name}-execution-role", args.naming, "metadata-execution",
            assume_role(["ecs-tasks.amazonaws.com"]), {
                "pull-images": [
                    statement(["ecr:GetAuthorizationToken"], ["*"]),
                    statement(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                               "ecr:GetDownloadUrlForLayer"], args.repository_arns)],
                "logs": [statement(["logs:CreateLogStream", "logs:PutLogEvents"],
                                   [pulumi.Output.concat(self.log_group.arn, ":*")])],
                "database-password": [statement(["secretsmanager:GetSecretValue"], [
                    args.database_secret_arn, args.api_key_secret_arn,
                    *([args.session_secret_arn] if args.session_secret_arn else [])])],
            }, tags, self)
        task_policies = {"read-artifacts": [
            statement(["s3:ListBucket"], [args.bucket_arn]),
            statement(["s3:GetObject"], [pulumi.Output.concat(args.bucket_arn, "/*")])]}
        if args.exec_access:
            task_policies["ecs-exec"] = [statement(
                ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                 "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"], ["*"])]
        self.task_role = role(f"{name}-task-role", args.naming, "metadata-task",
                              assume_role(["ecs-tasks.amazonaws.com"]), task_policies, tags,
                              self)

        def task_definition(kind: str, container: dict) -> aws.ecs.TaskDefinition:
            return aws.ecs.TaskDefinition(
                f"{name}-{kind}", family=args.naming.aws_name(kind),
                requires_compatibilities=["FARGATE"], network_mode="awsvpc",
                cpu=str(args.cpu), memory=str(args.memory),
                runtime_platform={"operatingSystemFamily": "LINUX",
                                  "cpuArchitecture": "X86_64"},
                execution_role_arn=self.execution_role.arn, task_role_arn=self.task_role.arn,
                volumes=[{"name": "tmp"}],
                container_definitions=pulumi.Output.json_dumps([container]),
                tags=tags, opts=child)

        logs = f"/headwater/{root}/metadata"
        self.migration_task = task_definition("db-upgrade", _container(
            "db-upgrade", args.migration_image, ["headwater-service", "db", "upgrade"], args,
            logs, "db-upgrade", False))

        clients = [args.vpc_cidr, *args.client_cidrs]
        self.lb_security_group = aws.ec2.SecurityGroup(
            f"{name}-lb-sg", name=f"{root}-metadata-lb", vpc_id=args.vpc_id,
            description="Internal load balancer of the Headwater metadata service",
            ingress=[{"protocol": "tcp", "fromPort": 443, "toPort": 443,
                      "cidrBlocks": clients, "description": "HTTPS from the private network"}],
            egress=[{"protocol": "tcp", "fromPort": SERVICE_PORT, "toPort": SERVICE_PORT,
                     "cidrBlocks": [args.vpc_cidr], "description": "to the service tasks"}],
            tags=tags, opts=child)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", name=f"{root}-metadata", vpc_id=args.vpc_id,
            description="Headwater metadata service tasks",
            ingress=[{"protocol": "tcp", "fromPort": SERVICE_PORT, "toPort": SERVICE_PORT,
                      "securityGroups": [self.lb_security_group.id],
                      "description": "from the load balancer"}],
            egress=[{"protocol": "-1", "fromPort": 0, "toPort": 0,
                     "cidrBlocks": ["0.0.0.0/0"], "description": "database and AWS APIs"}],
            tags=tags, opts=child)
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-lb", name=args.naming.aws("metadata"), internal=True,
            load_balancer_type="application", subnets=args.subnet_ids,
            security_groups=[self.lb_security_group.id], drop_invalid_header_fields=True,
            tags=tags, opts=child)
        self.target_group = aws.lb.TargetGroup(
            f"{name}-targets", name=args.naming.aws("metadata"), port=SERVICE_PORT,
            protocol="HTTP", target_type="ip", vpc_id=args.vpc_id, deregistration_delay=30,
            health_check={"path": "/ready", "matcher": "200", "interval": 10, "timeout": 5,
                          "healthyThreshold": 2, "unhealthyThreshold": 3},
            tags=tags, opts=child)
        certificate_arn, self.ca_pem = self._certificate(name, args)
        self.listener = aws.lb.Listener(
            f"{name}-https", load_balancer_arn=self.load_balancer.arn, port=443,
            protocol="HTTPS", certificate_arn=certificate_arn,
            ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
            default_actions=[{"type": "forward", "targetGroupArn": self.target_group.arn}],
            tags=tags, opts=child)
        self.service = None
        self.url = pulumi.Output.from_input(f"https://{args.hostname}") if args.hostname \
            else self.load_balancer.dns_name.apply(lambda host: f"https://{host}")
        if args.image is not None:
            self._serve(name, args, task_definition, logs)
        self.migration_command = pulumi.Output.all(
            self.cluster.name, self.migration_task.family, self.security_group.id,
            *args.subnet_ids).apply(lambda v: (
                f"aws ecs run-task --cluster {v[0]} --task-definition {v[1]} "
                f"--launch-type FARGATE --network-configuration "
                f"'awsvpcConfiguration={{subnets=[{','.join(v[3:])}],"
                f"securityGroups=[{v[2]}],assignPublicIp=DISABLED}}'"))
        self.register_outputs({"url": self.url})

    def _certificate(self, name: str, args: EcsMetadataServiceArgs):
        """(ACM certificate ARN, CA certificate PEM or None): the given certificate, or one
        from the stack's CA for the load balancer's DNS name."""
        if args.certificate_arn:
            return args.certificate_arn, None
        own = ServiceCertificate(f"{name}-tls", ServiceCertificateArgs(
            f"{args.naming.root} metadata service", args.naming.root,
            dns_names=self.load_balancer.dns_name.apply(lambda host: [host])),
            opts=pulumi.ResourceOptions(parent=self))
        imported = aws.acm.Certificate(
            f"{name}-certificate", private_key=own.key_pem, certificate_body=own.cert_pem,
            certificate_chain=own.ca_pem, tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self))
        return imported.arn, own.ca_pem

    def _serve(self, name: str, args: EcsMetadataServiceArgs, task_definition, logs: str):
        serve = ["headwater-service", "serve", "--host", "0.0.0.0", "--port", str(SERVICE_PORT)]
        self.service_task = task_definition("metadata", _container(
            "metadata", args.image, serve, args, logs, "serve", True))
        self.service = aws.ecs.Service(
            f"{name}-service", name="metadata", cluster=self.cluster.arn,
            task_definition=self.service_task.arn, desired_count=args.desired_count,
            launch_type="FARGATE", platform_version="LATEST",
            network_configuration={"subnets": args.subnet_ids,
                                   "securityGroups": [self.security_group.id],
                                   "assignPublicIp": False},
            load_balancers=[{"targetGroupArn": self.target_group.arn,
                             "containerName": "metadata", "containerPort": SERVICE_PORT}],
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=100, deployment_maximum_percent=200,
            health_check_grace_period_seconds=30, enable_execute_command=args.exec_access,
            propagate_tags="SERVICE", wait_for_steady_state=True, tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.listener]))
