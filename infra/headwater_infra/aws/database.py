"""The metadata service's database: RDS for PostgreSQL in the private subnets.

Not publicly accessible, reachable on 5432 only from the security groups that need it (the
service, the migration task, the EKS nodes), encrypted at rest, TLS forced by parameter.
The master password is generated here and kept in Secrets Manager under the stack's
``metadata/`` prefix, which task roles cannot read (they get ``flows/`` only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ..naming import Naming
from ..options import WIRED

__all__ = ["Database", "DatabaseArgs"]


@dataclass
class DatabaseArgs:
    naming: Naming
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    tags: dict[str, str] = field(default_factory=dict)
    protect: bool = field(default=False, metadata=WIRED)   # prod: the instance cannot be deleted
    # 0 deletes the secret at once (sandboxes: re-created under the same name within days).
    secret_recovery_days: int = field(default=7, metadata=WIRED)
    engine_version: str = "16"
    instance_class: str = "db.t4g.micro"
    allocated_storage_gb: int = 20
    max_allocated_storage_gb: int = 100
    multi_az: bool = False
    backup_retention_days: int = 7
    deletion_protection: bool = True
    database_name: str = "headwater"
    username: str = "headwater"

    def __post_init__(self) -> None:
        if not 1 <= self.backup_retention_days <= 35:
            raise ValueError("backupRetentionDays must be between 1 and 35")
        if self.max_allocated_storage_gb < self.allocated_storage_gb:
            raise ValueError("maxAllocatedStorageGb must be at least allocatedStorageGb")


class Database(pulumi.ComponentResource):
    """RDS PostgreSQL + subnet group + TLS-forcing parameter group + security group +
    the password in Secrets Manager."""

    def __init__(self, name: str, args: DatabaseArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:aws:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        root = args.naming.root
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", name=f"{root}-database", vpc_id=args.vpc_id,
            description="Postgres for the Headwater metadata service: no rules but the "
                        "ones added for its clients",
            tags=args.tags, opts=child)
        subnets = aws.rds.SubnetGroup(f"{name}-subnets", name=f"{root}-database",
                                      subnet_ids=args.subnet_ids, tags=args.tags, opts=child)
        major = args.engine_version.split(".")[0]
        parameters = aws.rds.ParameterGroup(
            f"{name}-parameters", name=f"{root}-postgres{major}", family=f"postgres{major}",
            parameters=[{"name": "rds.force_ssl", "value": "1"}], tags=args.tags, opts=child)
        # Only characters that need no escaping in a URL and that RDS accepts.
        self.password = random.RandomPassword(
            f"{name}-password", length=32, special=True, override_special="-_.~",
            min_lower=2, min_upper=2, min_numeric=2, opts=child)
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=args.naming.rds_instance(),
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=args.database_name,
            username=args.username,
            password=pulumi.Output.secret(self.password.result),
            db_subnet_group_name=subnets.name,
            parameter_group_name=parameters.name,
            vpc_security_group_ids=[self.security_group.id],
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.deletion_protection,
            final_snapshot_identifier=f"{root}-final" if args.deletion_protection else None,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            iam_database_authentication_enabled=False,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect))
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret", name=f"{root}/metadata/database",
            description="Headwater metadata database credentials (the service reads "
                        "'password'; never exported)",
            recovery_window_in_days=args.secret_recovery_days, tags=args.tags, opts=child)
        aws.secretsmanager.SecretVersion(
            f"{name}-secret-value", secret_id=self.secret.id,
            secret_string=pulumi.Output.secret(pulumi.Output.json_dumps({
                "username": args.username, "password": self.password.result,
                "host": self.instance.address, "port": 5432,
                "dbname": args.database_name})),
            opts=child)

        self.address = self.instance.address
        self.secret_arn = self.secret.arn
        self.security_group_id = self.security_group.id
        self.database_name = args.database_name
        self.username = args.username
        # Without the password: the service adds it from PGPASSWORD (libpq).
        self.url_without_password = self.address.apply(
            lambda host: f"postgresql://{args.username}@{host}:5432/{args.database_name}"
                         f"?sslmode=require")
        self.url = pulumi.Output.secret(pulumi.Output.all(
            self.address, self.password.result).apply(lambda v: (
                f"postgresql://{args.username}:{v[1]}@{v[0]}:5432/{args.database_name}"
                f"?sslmode=require")))
        self.register_outputs({"address": self.address})

    def allow_from(self, name: str, security_group_id: pulumi.Input[str]) -> None:
        """Let members of ``security_group_id`` connect on 5432."""
        aws.vpc.SecurityGroupIngressRule(
            name, security_group_id=self.security_group.id, ip_protocol="tcp",
            from_port=5432, to_port=5432, referenced_security_group_id=security_group_id,
            description="Postgres from a Headwater client",
            opts=pulumi.ResourceOptions(parent=self))
