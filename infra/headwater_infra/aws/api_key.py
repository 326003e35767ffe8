"""The metadata service's API key: generated per stack, kept in Secrets Manager.

The service gets it from the secret (ECS: the container's ``secrets``; EKS: a Kubernetes
secret in the service's namespace); clients (users, Batch and Kubernetes tasks) read it
with their own identity, found through the profile's ``METAFLOW_SERVICE_AUTH_SECRET_ID``
(this secret's ARN). The value never leaves Pulumi's secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ..naming import Naming

__all__ = ["ServiceApiKey", "ServiceApiKeyArgs"]


@dataclass
class ServiceApiKeyArgs:
    naming: Naming
    tags: dict[str, str] = field(default_factory=dict)
    recovery_days: int = 7          # 0 for sandboxes: deleted at once, name free again


class ServiceApiKey(pulumi.ComponentResource):
    """Random key + the Secrets Manager secret (``<root>/service/api-key``) holding it."""

    def __init__(self, name: str, args: ServiceApiKeyArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:aws:ServiceApiKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.key = random.RandomPassword(f"{name}-value", length=48, special=False, opts=child)
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret", name=f"{args.naming.root}/service/api-key",
            description="API key of the Headwater metadata service (clients read it; never "
                        "exported)",
            recovery_window_in_days=args.recovery_days, tags=args.tags, opts=child)
        aws.secretsmanager.SecretVersion(
            f"{name}-secret-value", secret_id=self.secret.id,
            secret_string=pulumi.Output.secret(self.key.result), opts=child)
        self.value = pulumi.Output.secret(self.key.result)
        self.secret_arn = self.secret.arn
        self.register_outputs({"secret_arn": self.secret_arn})
