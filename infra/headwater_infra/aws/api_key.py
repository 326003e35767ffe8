"""The metadata service's generated secrets, kept in Secrets Manager: its API key and the
key that signs its UI sessions (``purpose``).

The service gets the API key from the secret (ECS: the container's ``secrets``; EKS: its
IRSA role reads it at start, ``HEADWATER_SERVICE_API_KEYS_SECRET_ID``); clients (users,
Batch and Kubernetes tasks) read it with their own identity, found through the profile's
``METAFLOW_SERVICE_AUTH_SECRET_ID`` (this secret's ARN). The UI session secret is for the
service only. The values never leave Pulumi's secrets.
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
    purpose: str = "api-key"        # names the secret: <root>/service/<purpose>
    description: str = "API key of the Headwater metadata service (clients read it; never " \
                       "exported)"


class ServiceApiKey(pulumi.ComponentResource):
    """Random key + the Secrets Manager secret (``<root>/service/<purpose>``) holding it."""

    def __init__(self, name: str, args: ServiceApiKeyArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:aws:ServiceApiKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.key = random.RandomPassword(f"{name}-value", length=48, special=False, opts=child)
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret", name=f"{args.naming.root}/service/{args.purpose}",
            description=args.description,
            recovery_window_in_days=args.recovery_days, tags=args.tags, opts=child)
        aws.secretsmanager.SecretVersion(
            f"{name}-secret-value", secret_id=self.secret.id,
            secret_string=pulumi.Output.secret(self.key.result), opts=child)
        self.value = pulumi.Output.secret(self.key.result)
        self.secret_arn = self.secret.arn
        self.register_outputs({"secret_arn": self.secret_arn})
