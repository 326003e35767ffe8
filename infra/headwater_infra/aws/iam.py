"""IAM policy documents as data, and roles built from them.

Policies are plain dicts (resources may be Pulumi outputs), rendered to JSON once every
ARN is known. Each role gets inline policies naming exactly the resources it touches; the
tests read these documents back and check that no statement grants ``*`` actions, and that
``*`` resources appear only for the few APIs that have no resource-level permissions.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from ..naming import Naming

__all__ = ["assume_role", "passed_to", "policy_json", "role", "statement", "STACK_TAG",
           "stack_tagged"]

# The tag Batch jobs of a stack carry (the profile's METAFLOW_BATCH_DEFAULT_TAGS): job ids
# are random, so "this stack's jobs" can only be told by it.
STACK_TAG = "headwater:stack"

# APIs that accept only Resource "*" (AWS offers no resource-level permission for them).
UNSCOPED_ACTIONS = frozenset({
    "ecr:GetAuthorizationToken",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
    "batch:DescribeJobs", "batch:DescribeJobDefinitions", "batch:DescribeJobQueues",
    "batch:DescribeComputeEnvironments", "batch:ListJobs", "batch:RegisterJobDefinition",
    "states:ListStateMachines", "events:ListRules",
    # The cluster autoscaler's reads (its writes are limited by tag).
    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
})


def statement(actions: list[str], resources: list[Any], **condition: Any) -> dict[str, Any]:
    """An Allow statement; ``condition`` becomes its Condition block."""
    block: dict[str, Any] = {"Effect": "Allow", "Action": sorted(actions),
                             "Resource": resources}
    if condition:
        block["Condition"] = condition
    return block


def stack_tagged(root: str, request: bool = False) -> dict[str, Any]:
    """Condition: the resource carries (``request``: is being given) ``STACK_TAG=root``."""
    which = "aws:RequestTag" if request else "aws:ResourceTag"
    return {"StringEquals": {f"{which}/{STACK_TAG}": root}}


def passed_to(services: list[str]) -> dict[str, Any]:
    """Condition for ``iam:PassRole``: only to these AWS services."""
    return {"StringEquals": {"iam:PassedToService": sorted(services)}}


def policy_json(statements: list[dict[str, Any]]) -> pulumi.Output[str]:
    """The policy document, once every ARN in it is known."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements})


def assume_role(services: list[str] | None = None,
                web_identity: list[tuple[Any, Any, str]] | None = None,
                conditional_services: dict[str, dict[str, Any]] | None = None,
                ) -> pulumi.Output[str]:
    """Trust policy for AWS ``services``, for ``conditional_services`` (service -> the
    Condition its assuming must meet, e.g. ``aws:SourceAccount``) and, for IRSA,
    ``(provider_arn, issuer_host, subject)`` web identities (a Kubernetes service account
    on EKS)."""
    statements: list[Any] = []
    if services:
        statements.append({"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"Service": sorted(services)}})
    for service, condition in sorted((conditional_services or {}).items()):
        statements.append({"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"Service": [service]}, "Condition": condition})
    for provider_arn, issuer_host, subject in web_identity or []:
        statements.append(pulumi.Output.all(provider_arn, issuer_host).apply(lambda v: {
            "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": v[0]},
            "Condition": {"StringEquals": {f"{v[1]}:sub": subject,
                                           f"{v[1]}:aud": "sts.amazonaws.com"}}}))
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements})


def role(name: str, naming: Naming, kind: str, trust: pulumi.Input[str],
         policies: dict[str, list[dict[str, Any]]], tags: dict[str, str],
         parent: pulumi.Resource, managed: list[str] | None = None) -> aws.iam.Role:
    """A role with one inline policy per entry of ``policies`` (name -> statements) and the
    AWS-managed policies in ``managed`` attached."""
    created = aws.iam.Role(
        name,
        name=naming.iam_role(kind),
        assume_role_policy=trust,
        max_session_duration=3600,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent))
    child = pulumi.ResourceOptions(parent=created)
    for policy_name, statements in policies.items():
        aws.iam.RolePolicy(f"{name}-{policy_name}", name=policy_name, role=created.id,
                           policy=policy_json(statements), opts=child)
    for arn in managed or []:
        aws.iam.RolePolicyAttachment(f"{name}-{arn.rsplit('/', 1)[-1]}", role=created.name,
                                     policy_arn=arn, opts=child)
    return created
