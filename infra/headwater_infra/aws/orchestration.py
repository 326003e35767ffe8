"""The production scheduler on AWS: what `step-functions create` needs.

A role Step Functions assumes to run Batch jobs (and the managed EventBridge rule
``.sync`` jobs rely on) and, for a wide foreach's distributed Map, to read the items the
foreach's job left under ``<datastore sysroot>/sfn-foreach/`` and run each as a child
execution of its own state machine; a role EventBridge rules (UTC schedules) and
EventBridge Scheduler (schedules with a time zone) assume to start the flows' state
machines; the DynamoDB table that carries foreach cardinalities between states, and the
log group executions write to. State machines are named ``<prefix>_<flow>`` (Metaflow's
convention) and every grant is limited to that prefix and its delimiter, so ``hw-dev``'s
grants do not reach ``hw-dev2``'s machines; Batch jobs are stopped only when they carry the
stack's tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from headwater.datastore.s3 import parse_s3_sysroot
from headwater.deployers.deployed_step import WIDE_ITEMS_DIR

from ..naming import Naming
from ..profile import s3_datastore
from .iam import UNSCOPED_ACTIONS, assume_role, policy_json, role, stack_tagged, statement

__all__ = ["StepFunctions", "StepFunctionsArgs", "wide_items_arn"]


def wide_items_arn(bucket: str) -> str:
    """The objects distributed Maps read: ``<sysroot>/sfn-foreach/*`` of the S3 datastore
    the profile names for ``bucket`` (where the foreach jobs write them)."""
    name, prefix = parse_s3_sysroot(s3_datastore(bucket=bucket)["METAFLOW_DATASTORE_SYSROOT_S3"])
    return f"arn:aws:s3:::{name}/{prefix + '/' if prefix else ''}{WIDE_ITEMS_DIR}/*"


@dataclass
class StepFunctionsArgs:
    naming: Naming
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    job_queue_arn: pulumi.Input[str]
    task_role_name: pulumi.Input[str]     # tasks record foreach state in the table
    bucket_name: pulumi.Input[str]        # the S3 datastore (wide foreaches' items)
    tags: dict[str, str] = field(default_factory=dict)
    log_retention_days: int = 30
    state_ttl_days: int = 30   # foreach state is only needed while an execution runs


class StepFunctions(pulumi.ComponentResource):
    """Step Functions role, EventBridge role, DynamoDB state table, execution log group."""

    def __init__(self, name: str, args: StepFunctionsArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:aws:StepFunctions", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        root, tags = args.naming.root, args.tags
        self.state_machine_prefix = root
        where = pulumi.Output.all(args.region, args.account_id)
        self.table = aws.dynamodb.Table(
            f"{name}-state", name=args.naming.aws_name("sfn-state"),
            billing_mode="PAY_PER_REQUEST", hash_key="pathspec",
            attributes=[{"name": "pathspec", "type": "S"}],
            ttl={"attributeName": "ttl", "enabled": True},
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True}, tags=tags, opts=child)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/vendedlogs/states/{root}",
            retention_in_days=args.log_retention_days, tags=tags, opts=child)
        # `headwater step-functions create` names definitions <state machine>-<step>-<sha>.
        job_definitions = where.apply(
            lambda v: f"arn:aws:batch:{v[0]}:{v[1]}:job-definition/{root}_*")
        batch_rule = where.apply(
            lambda v: f"arn:aws:events:{v[0]}:{v[1]}:rule/StepFunctionsGetEventsForBatchJobsRule")
        log_delivery = sorted(a for a in UNSCOPED_ACTIONS if a.startswith("logs:"))
        state_machines = where.apply(
            lambda v: f"arn:aws:states:{v[0]}:{v[1]}:stateMachine:{root}_*")
        # A distributed Map's child executions are <machine>/<label>:<id>, the parent's
        # <machine>:<id>: both are covered, other stacks' machines are not.
        executions = where.apply(
            lambda v: f"arn:aws:states:{v[0]}:{v[1]}:execution:{root}_*:*")
        self.sfn_role = role(
            f"{name}-sfn-role", args.naming, "step-functions",
            assume_role(["states.amazonaws.com"]), {
                "run-batch-jobs": [
                    statement(["batch:SubmitJob"], [args.job_queue_arn, job_definitions]),
                    statement(["batch:TerminateJob"], [where.apply(
                        lambda v: f"arn:aws:batch:{v[0]}:{v[1]}:job/*")],
                        **stack_tagged(root)),
                    statement(["batch:TagResource"], [where.apply(
                        lambda v: f"arn:aws:batch:{v[0]}:{v[1]}:job/*")],
                        **stack_tagged(root, request=True)),
                    statement(["batch:DescribeJobs"], ["*"]),
                    statement(["events:DescribeRule", "events:PutRule", "events:PutTargets"],
                              [batch_rule])],
                "foreach-state": [statement(["dynamodb:GetItem", "dynamodb:PutItem",
                                             "dynamodb:UpdateItem"], [self.table.arn])],
                "execution-logs": [statement(log_delivery, ["*"])],
                "distributed-maps": [
                    statement(["s3:GetObject"], [pulumi.Output.from_input(
                        args.bucket_name).apply(wide_items_arn)]),
                    statement(["states:StartExecution"], [state_machines]),
                    statement(["states:DescribeExecution", "states:StopExecution"],
                              [executions])],
            }, tags, self)
        aws.iam.RolePolicy(
            f"{name}-task-foreach-state", name="foreach-state", role=args.task_role_name,
            policy=policy_json([statement(["dynamodb:GetItem", "dynamodb:PutItem",
                                           "dynamodb:UpdateItem"], [self.table.arn])]),
            opts=child)
        # Scheduler recommends pinning its trust to the account (confused deputy).
        self.events_role = role(
            f"{name}-events-role", args.naming, "eventbridge",
            assume_role(["events.amazonaws.com"], conditional_services={
                "scheduler.amazonaws.com": {
                    "StringEquals": {"aws:SourceAccount": args.account_id}}}),
            {"start-flows": [statement(["states:StartExecution"], [state_machines])]},
            tags, self)

        self.table_name = self.table.name
        self.table_arn = self.table.arn
        # Step Functions wants the log group's ARN with its ":*" (all streams) suffix.
        self.log_group_arn = pulumi.Output.concat(self.log_group.arn, ":*")
        self.sfn_role_arn = self.sfn_role.arn
        self.events_role_arn = self.events_role.arn
        self.register_outputs({"sfn_role": self.sfn_role_arn})
