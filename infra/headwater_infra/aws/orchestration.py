"""The production scheduler on AWS: what `step-functions create` needs.

A role Step Functions assumes to run Batch jobs (and the managed EventBridge rule
``.sync`` jobs rely on), a role EventBridge assumes to start the flows' state machines on a
schedule, the DynamoDB table that carries foreach cardinalities between states, and the
log group executions write to. State machines are named ``<prefix>_<flow>`` (Metaflow's
convention) and every grant is limited to that prefix and its delimiter, so ``hw-dev``'s
grants do not reach ``hw-dev2``'s machines; Batch jobs are stopped only when they carry the
stack's tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..naming import Naming
from .iam import UNSCOPED_ACTIONS, assume_role, policy_json, role, stack_tagged, statement

__all__ = ["StepFunctions", "StepFunctionsArgs"]


@dataclass
class StepFunctionsArgs:
    naming: Naming
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    job_queue_arn: pulumi.Input[str]
    task_role_name: pulumi.Input[str]     # tasks record foreach state in the table
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
            }, tags, self)
        aws.iam.RolePolicy(
            f"{name}-task-foreach-state", name="foreach-state", role=args.task_role_name,
            policy=policy_json([statement(["dynamodb:GetItem", "dynamodb:PutItem",
                                           "dynamodb:UpdateItem"], [self.table.arn])]),
            opts=child)
        state_machines = where.apply(
            lambda v: f"arn:aws:states:{v[0]}:{v[1]}:stateMachine:{root}_*")
        self.events_role = role(
            f"{name}-events-role", args.naming, "eventbridge",
            assume_role(["events.amazonaws.com"]),
            {"start-flows": [statement(["states:StartExecution"], [state_machines])]},
            tags, self)

        self.table_name = self.table.name
        self.table_arn = self.table.arn
        # Step Functions wants the log group's ARN with its ":*" (all streams) suffix.
        self.log_group_arn = pulumi.Output.concat(self.log_group.arn, ":*")
        self.sfn_role_arn = self.sfn_role.arn
        self.events_role_arn = self.events_role.arn
        self.register_outputs({"sfn_role": self.sfn_role_arn})
