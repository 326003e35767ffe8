"""Remote compute on AWS Batch: a managed compute environment, its job queue, and the two
roles every ``@batch`` task runs with.

The task role (``METAFLOW_ECS_S3_ACCESS_IAM_ROLE``) may read and write the artifact bucket,
read secrets under the stack's ``flows/`` prefix, and (granted by ``StepFunctions``) keep
foreach state in its DynamoDB table, nothing else. The execution role lets ECS pull the task
image and write to the stack's own job log group (``METAFLOW_BATCH_LOG_GROUP``, which every
job definition the runtime registers names), not to Batch's shared ``/aws/batch/job``. Jobs
run in the private subnets with no inbound rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from ..naming import Naming
from ..options import WIRED
from .iam import assume_role, role, statement

__all__ = ["Batch", "BatchArgs"]

@dataclass
class BatchArgs:
    naming: Naming
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    bucket_arn: pulumi.Input[str]
    repository_arns: list[pulumi.Input[str]]
    # On EKS, task pods assume the same role through IRSA: (provider arn, issuer host, subject).
    web_identities: list[tuple] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    # Secrets every task may read besides flows/ (the service's API key).
    client_secret_arns: list[pulumi.Input[str]] = field(default_factory=list, metadata=WIRED)
    log_retention_days: int = 30
    compute: Literal["FARGATE", "FARGATE_SPOT", "EC2", "SPOT"] = "FARGATE"
    max_vcpus: int = 64
    instance_types: list[str] = field(default_factory=lambda: ["optimal"])

    def __post_init__(self) -> None:
        if self.max_vcpus < 1:
            raise ValueError("batch.maxVcpus must be at least 1")


class Batch(pulumi.ComponentResource):
    """Security group, compute environment, job queue, task and execution roles."""

    def __init__(self, name: str, args: BatchArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:aws:Batch", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        root, tags = args.naming.root, args.tags
        arn = pulumi.Output.all(args.region, args.account_id)
        secrets_prefix = arn.apply(lambda v: f"arn:aws:secretsmanager:{v[0]}:{v[1]}:secret:"
                                             f"{root}/flows/*")
        self.secrets_prefix = f"{root}/flows/"
        # The stack's own job log group (METAFLOW_BATCH_LOG_GROUP): users may read it, and
        # only it, so no stack's users read another's job logs.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/headwater/{root}/batch",
            retention_in_days=args.log_retention_days, tags=tags, opts=child)
        secret_statements = [statement(["secretsmanager:GetSecretValue"], [secrets_prefix])]
        if args.client_secret_arns:
            secret_statements.append(statement(["secretsmanager:GetSecretValue"],
                                               list(args.client_secret_arns)))
        self.task_role = role(
            f"{name}-task-role", args.naming, "batch-task",
            assume_role(["ecs-tasks.amazonaws.com"], args.web_identities), {
                "artifacts": [
                    statement(["s3:ListBucket"], [args.bucket_arn]),
                    statement(["s3:GetObject", "s3:PutObject"],
                              [pulumi.Output.concat(args.bucket_arn, "/*")])],
                "secrets": secret_statements,
            }, tags, self)
        self.execution_role = role(
            f"{name}-execution-role", args.naming, "batch-execution",
            assume_role(["ecs-tasks.amazonaws.com"]), {
                "pull-images": [
                    statement(["ecr:GetAuthorizationToken"], ["*"]),
                    statement(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                               "ecr:GetDownloadUrlForLayer"], args.repository_arns)],
                "logs": [statement(["logs:CreateLogStream", "logs:PutLogEvents"], [
                    pulumi.Output.concat(self.log_group.arn, ":*")])],
            }, tags, self)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", name=f"{root}-batch", vpc_id=args.vpc_id,
            description="Headwater Batch jobs: no inbound traffic",
            egress=[{"protocol": "-1", "fromPort": 0, "toPort": 0,
                     "cidrBlocks": ["0.0.0.0/0"], "description": "AWS APIs and packages"}],
            tags=tags, opts=child)
        resources = {"type": args.compute, "maxVcpus": args.max_vcpus,
                     "subnets": args.subnet_ids, "securityGroupIds": [self.security_group.id]}
        if args.compute in ("EC2", "SPOT"):
            instance_role = role(
                f"{name}-instance-role", args.naming, "batch-instance",
                assume_role(["ec2.amazonaws.com"]), {}, tags, self,
                managed=["arn:aws:iam::aws:policy/service-role/"
                         "AmazonEC2ContainerServiceforEC2Role"])
            profile = aws.iam.InstanceProfile(f"{name}-instance-profile",
                                              name=f"{root}-batch-instance",
                                              role=instance_role.name, opts=child)
            resources.update(minVcpus=0, instanceTypes=args.instance_types,
                             instanceRole=profile.arn,
                             allocationStrategy="BEST_FIT_PROGRESSIVE"
                             if args.compute == "EC2" else "SPOT_PRICE_CAPACITY_OPTIMIZED")
        # No service_role: Batch uses its service-linked role (AWSServiceRoleForBatch).
        self.compute_environment = aws.batch.ComputeEnvironment(
            f"{name}-compute", name=args.naming.aws_name("batch"), type="MANAGED",
            state="ENABLED", compute_resources=resources, tags=tags, opts=child)
        self.job_queue_name = args.naming.aws_name("queue")
        # What the runtime starts its job definitions' names with (users may submit those).
        self.job_definition_prefix = f"{self.job_queue_name}_"
        self.job_queue = aws.batch.JobQueue(
            f"{name}-queue", name=self.job_queue_name, state="ENABLED",
            priority=1, compute_environment_orders=[{
                "order": 1, "computeEnvironment": self.compute_environment.arn}],
            tags=tags, opts=child)

        self.job_queue_arn = self.job_queue.arn
        self.task_role_arn = self.task_role.arn
        self.task_role_name = self.task_role.name
        self.execution_role_arn = self.execution_role.arn
        self.log_group_name = self.log_group.name
        self.log_group_arn = self.log_group.arn
        self.register_outputs({"job_queue": self.job_queue_arn})
