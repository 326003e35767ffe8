"""What a data scientist's own AWS identity needs to use the stack from a laptop.

A customer-managed policy (path ``/headwater/``, name ``<root>-users``): read and write
artifacts, read flow secrets and the service's API key, submit and follow Batch jobs with
the stack's roles (stop only jobs tagged with the stack), read the stack's own job logs,
and deploy flows as state machines named ``<prefix>_<flow>`` with their schedules
(EventBridge rules ``<prefix>_<flow>``; with a time zone, EventBridge Scheduler schedules of
that name in the ``default`` group), passing the Step Functions and EventBridge roles only
to the services that assume them.

How it reaches users:
- an IAM role (``usersRoleArn``): the policy is attached to it;
- an IAM Identity Center role (``AWSReservedSSO_*``): such roles belong to their permission
  set and cannot have policies attached, so the permission set references the policy by
  name and path instead (a customer managed policy reference). With ``ssoInstanceArn`` and
  ``usersPermissionSetArn`` set, the stack adds that reference itself (only where the
  stack's account administers Identity Center); otherwise an admin adds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..naming import Naming
from .iam import passed_to, policy_json, stack_tagged, statement

__all__ = ["UsersPolicy", "UsersPolicyArgs", "POLICY_PATH", "SCHEDULE_GROUP",
           "is_identity_center_role"]

POLICY_PATH = "/headwater/"
# `step-functions create` names no schedule group, so its schedules are in the default one.
SCHEDULE_GROUP = "default"


def is_identity_center_role(role_arn: str) -> bool:
    """Roles IAM Identity Center creates for a permission set (no policy can be attached)."""
    name = role_arn.rsplit("/", 1)[-1]
    return name.startswith("AWSReservedSSO_") or "/aws-reserved/sso.amazonaws.com/" in role_arn


@dataclass
class UsersPolicyArgs:
    naming: Naming
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    secrets_prefix: str                      # e.g. hw-dev/flows/
    job_queue_arn: pulumi.Input[str]
    job_definition_prefix: str               # @batch definitions: <queue name>_
    pass_roles: list[pulumi.Input[str]]      # roles Batch jobs run as
    sfn_role_arn: pulumi.Input[str]          # state machines run as (Step Functions)
    events_role_arn: pulumi.Input[str]       # schedules start them as (EventBridge)
    state_machine_prefix: str
    dynamo_table_arn: pulumi.Input[str]
    log_group_arn: pulumi.Input[str]         # the stack's Batch job logs
    client_secret_arns: list[pulumi.Input[str]]  # the service's API key
    role_arn: str | None = None              # attach to this role, if given
    sso_instance_arn: str | None = None      # Identity Center: reference the policy from
    permission_set_arn: str | None = None    # this permission set
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if bool(self.sso_instance_arn) != bool(self.permission_set_arn):
            raise ValueError("ssoInstanceArn and usersPermissionSetArn go together: set both "
                             "(the stack references its policy from the permission set) or "
                             "neither")


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
        root = args.naming.root
        definitions = arn("batch", f"job-definition/{args.job_definition_prefix}*")
        statements = [
            statement(["s3:ListBucket"], [args.bucket_arn]),
            statement(["s3:GetObject", "s3:PutObject"],
                      [pulumi.Output.concat(args.bucket_arn, "/*")]),
            statement(["secretsmanager:GetSecretValue"],
                      [arn("secretsmanager", f"secret:{args.secrets_prefix}*"),
                       *args.client_secret_arns]),
            # The runtime names a job definition after its queue (headwater.compute.batch).
            statement(["batch:SubmitJob"], [args.job_queue_arn, definitions]),
            # Job ids are random: only the stack's tag tells its jobs from others'.
            statement(["batch:TagResource"], [arn("batch", "job/*"), definitions],
                      **stack_tagged(root, request=True)),
            statement(["batch:TerminateJob", "batch:CancelJob"], [arn("batch", "job/*")],
                      **stack_tagged(root)),
            statement(["batch:DeregisterJobDefinition"], [arn("batch", "job-definition/*")],
                      **stack_tagged(root)),
            statement(["batch:DescribeJobDefinitions", "batch:DescribeJobQueues",
                       "batch:DescribeJobs", "batch:ListJobs", "batch:RegisterJobDefinition"],
                      ["*"]),
            statement(["logs:GetLogEvents"],
                      [pulumi.Output.concat(args.log_group_arn, ":log-stream:*")]),
            statement(["iam:PassRole"], args.pass_roles),
            statement(["iam:PassRole"], [args.sfn_role_arn],
                      **passed_to(["states.amazonaws.com"])),
            # A rule's target (UTC) or a Scheduler schedule's (with a time zone).
            statement(["iam:PassRole"], [args.events_role_arn],
                      **passed_to(["events.amazonaws.com", "scheduler.amazonaws.com"])),
            statement(["states:CreateStateMachine", "states:UpdateStateMachine",
                       "states:DeleteStateMachine", "states:DescribeStateMachine",
                       "states:StartExecution", "states:ListExecutions",
                       "states:TagResource"], [arn("states", f"stateMachine:{prefix}_*")]),
            statement(["states:DescribeExecution", "states:StopExecution",
                       "states:GetExecutionHistory"], [arn("states", f"execution:{prefix}_*")]),
            # Finding a flow's machine and its rule (neither API takes a resource).
            statement(["events:ListRules", "states:ListStateMachines"], ["*"]),
            statement(["events:PutRule", "events:PutTargets", "events:DeleteRule",
                       "events:RemoveTargets", "events:DescribeRule"],
                      [arn("events", f"rule/{prefix}_*")]),
            statement(["scheduler:CreateSchedule", "scheduler:UpdateSchedule",
                       "scheduler:DeleteSchedule", "scheduler:GetSchedule"],
                      [arn("scheduler", f"schedule/{SCHEDULE_GROUP}/{prefix}_*")]),
            statement(["dynamodb:GetItem"], [args.dynamo_table_arn]),
        ]
        self.policy = aws.iam.Policy(
            f"{name}-policy", name=args.naming.iam_role("users"), path=POLICY_PATH,
            description="Use the Headwater stack from a workstation", policy=policy_json(
                statements), tags=args.tags, opts=child)
        if args.permission_set_arn:
            aws.ssoadmin.CustomerManagedPolicyAttachment(
                f"{name}-permission-set", instance_arn=args.sso_instance_arn,
                permission_set_arn=args.permission_set_arn,
                customer_managed_policy_reference={"name": self.policy.name,
                                                   "path": POLICY_PATH},
                opts=child)
        if args.role_arn and not is_identity_center_role(args.role_arn):
            aws.iam.RolePolicyAttachment(
                f"{name}-attachment", role=args.role_arn.rsplit("/", 1)[-1],
                policy_arn=self.policy.arn, opts=child)
        elif args.role_arn and not args.permission_set_arn:
            pulumi.log.warn(
                f"usersRoleArn is an IAM Identity Center role, which cannot have a policy "
                f"attached: add the customer managed policy {args.naming.iam_role('users')} "
                f"(path {POLICY_PATH}) to its permission set, or set ssoInstanceArn and "
                f"usersPermissionSetArn so the stack does")
        self.policy_name = self.policy.name
        self.policy_arn = self.policy.arn
        self.register_outputs({"policy_arn": self.policy_arn})
