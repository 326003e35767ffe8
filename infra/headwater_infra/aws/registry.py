"""Container repositories (ECR) for the service and task images.

Images are scanned on push, encrypted, and old untagged layers expire; tags are immutable
so a version always names the same image (a migration Job for 0.2.0 runs 0.2.0's code).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..naming import Naming

__all__ = ["Repositories", "RepositoriesArgs", "IMAGES"]

IMAGES = ("headwater-service", "headwater-task")


@dataclass
class RepositoriesArgs:
    naming: Naming
    tags: dict[str, str] = field(default_factory=dict)
    keep_images: int = 30
    force_delete: bool = False   # let `pulumi destroy` delete repositories holding images


class Repositories(pulumi.ComponentResource):
    """One ECR repository per image, named ``<root>/<image>``."""

    def __init__(self, name: str, args: RepositoriesArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:aws:Repositories", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.repositories = {}
        lifecycle = json.dumps({"rules": [{
            "rulePriority": 1, "description": f"keep the newest {args.keep_images} images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                          "countNumber": args.keep_images},
            "action": {"type": "expire"}}]})
        for image in IMAGES:
            repository = aws.ecr.Repository(
                f"{name}-{image}", name=f"{args.naming.root}/{image}",
                image_tag_mutability="IMMUTABLE", force_delete=args.force_delete,
                image_scanning_configuration={"scanOnPush": True},
                encryption_configurations=[{"encryptionType": "AES256"}],
                tags=args.tags, opts=child)
            aws.ecr.LifecyclePolicy(f"{name}-{image}-lifecycle", repository=repository.name,
                                    policy=lifecycle, opts=child)
            self.repositories[image] = repository
        self.arns = [r.arn for r in self.repositories.values()]
        # <account>.dkr.ecr.<region>.amazonaws.com, what `docker login` needs.
        self.registry = self.repositories[IMAGES[0]].repository_url.apply(
            lambda url: url.split("/", 1)[0])
        self.register_outputs({"registry": self.registry})

    def image(self, image: str, tag: str) -> pulumi.Output[str]:
        return self.repositories[image].repository_url.apply(lambda url: f"{url}:{tag}")
