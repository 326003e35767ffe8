"""What a data scientist's own AWS identity needs to use the stack from a laptop.

A customer-managed policy, attached to the role users sign in with (an SSO permission
set's role, say) when ``usersRoleArn`` is set, or attached by an admin later: read and
write artifacts, read flow secrets, submit and follow Batch jobs with the stack's roles,
and deploy flows as state machines under the stack's prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..naming import Naming
from .iam import policy_json, statement

__all__ = ["UsersPolicy", "UsersPolicyArgs"]


@dataclass
class UsersPolicyArgs:
    naming: Naming
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    secrets_prefix: str                      # e.g. hw-dev/flows/
    job_queue_arn: pulumi.Input[str]
    pass_roles: list[pulumi.Input[str]]      # roles jobs and state machines run as
    state_machine_prefix: str
    dynamo_table_arn: pulumi.Input[str]
    role_arn: str | None = None              # attach to this role, if given
    tags: dict[str, str] = field(default_factory=dict)


class UsersPolicy(pulumi.ComponentResource):
    """The users' managed policy (and its attachment to their role)."""

    def __init__(self, name: str, args: UsersPolicyArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:aws:UsersPolicy", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        where = pulumi.Output.all(args.region, args.account_id)
        arn = lambda service, resource: where.apply(  # noqa: E731
            lambda v: f"arn:aws:{service}:{v[0]}:{v[1]}:{resource}")
        prefix = args.state_machine_prefix
        statements = [
            statement(["s3:ListBucket"], [args.bucket_arn]),
            statement(["s3:GetObject", "s3:PutObject"],
                      [pulumi.Output.concat(args.bucket_arn, "/*")]),
            statement(["secretsmanager:GetSecretValue"],
                      [arn("secretsmanager", f"secret:{args.secrets_prefix}*")]),
            statement(["batch:SubmitJob"], [args.job_queue_arn, arn("batch", "job-definition/*")]),
            statement(["batch:TerminateJob", "batch:CancelJob"], [arn("batch", "job/*")]),
            statement(["batch:DeregisterJobDefinition"], [arn("batch", "job-definition/*")]),
            statement(["batch:DescribeJobDefinitions", "batch:DescribeJobQueues",
                       "batch:DescribeJobs", "batch:ListJobs", "batch:RegisterJobDefinition"],
                      ["*"]),
            statement(["logs:GetLogEvents"], [arn("logs", "log-group:/aws/batch/job:*")]),
            statement(["iam:PassRole"], args.pass_roles),
            statement(["states:CreateStateMachine", "states:UpdateStateMachine",
                       "states:DeleteStateMachine", "states:DescribeStateMachine",
                       "states:StartExecution", "states:ListExecutions",
                       "states:TagResource"], [arn("states", f"stateMachine:{prefix}*")]),
            statement(["states:DescribeExecution", "states:StopExecution",
                       "states:GetExecutionHistory"], [arn("states", f"execution:{prefix}*")]),
            statement(["states:ListStateMachines"], ["*"]),
            statement(["events:PutRule", "events:PutTargets", "events:DeleteRule",
                       "events:RemoveTargets", "events:DescribeRule"],
                      [arn("events", f"rule/{prefix}*")]),
            statement(["dynamodb:GetItem"], [args.dynamo_table_arn]),
        ]
        self.policy = aws.iam.Policy(
            f"{name}-policy", name=args.naming.iam_role("users"),
            description="Use the Headwater stack from a workstation", policy=policy_json(
                statements), tags=args.tags, opts=child)
        if args.role_arn:
            aws.iam.RolePolicyAttachment(
                f"{name}-attachment", role=args.role_arn.rsplit("/", 1)[-1],
                policy_arn=self.policy.arn, opts=child)
        self.policy_arn = self.policy.arn
        self.register_outputs({"policy_arn": self.policy_arn})
