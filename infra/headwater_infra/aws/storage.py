"""The artifact store: one S3 bucket, prefixes ``artifacts/`` and ``cards/``.

Private in every way S3 allows: all four public-access blocks, ACLs disabled (bucket owner
enforced), a policy that refuses plain HTTP and TLS below 1.2, default encryption with
S3 bucket keys, optional versioning, and lifecycle rules that move artifacts nobody wrote
for a while to Infrequent Access (and, if asked, expire them), clean up old versions and
abandoned multipart uploads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ..naming import Naming
from ..options import WIRED
from .iam import policy_json

__all__ = ["ArtifactBucket", "ArtifactBucketArgs", "PREFIXES"]

PREFIXES = ("artifacts/", "cards/")


@dataclass
class ArtifactBucketArgs:
    naming: Naming
    suffix: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)
    protect: bool = field(default=False, metadata=WIRED)   # prod: the bucket cannot be deleted
    versioning: bool = False
    infrequent_access_after_days: int | None = 30
    expire_after_days: int | None = None
    noncurrent_version_days: int = 30
    force_destroy: bool = False

    def __post_init__(self) -> None:
        if self.infrequent_access_after_days is not None and \
                self.infrequent_access_after_days < 30:
            raise ValueError("infrequentAccessAfterDays must be at least 30 (S3's minimum "
                             "for STANDARD_IA) or null")
        if self.expire_after_days is not None and self.expire_after_days <= (
                self.infrequent_access_after_days or 0):
            raise ValueError("expireAfterDays must be null (keep artifacts) or later than "
                             "infrequentAccessAfterDays")


class ArtifactBucket(pulumi.ComponentResource):
    """Bucket + public access block + ownership + encryption + versioning + lifecycle +
    TLS-only policy."""

    def __init__(self, name: str, args: ArtifactBucketArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:aws:ArtifactBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=pulumi.Output.from_input(args.suffix).apply(args.naming.s3_bucket),
            force_destroy=args.force_destroy,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect))
        self.public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block", bucket=self.bucket.id, block_public_acls=True,
            block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
            opts=child)
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=self.bucket.id,
            rule={"objectOwnership": "BucketOwnerEnforced"}, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=self.bucket.id,
            rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"},
                    "bucketKeyEnabled": True}],
            opts=child)
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled" if args.versioning else "Suspended"},
            opts=child)
        rules = [{"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {},
                  "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}]
        if args.versioning:
            rules.append({"id": "expire-old-versions", "status": "Enabled", "filter": {},
                          "noncurrentVersionExpiration": {
                              "noncurrentDays": args.noncurrent_version_days}})
        for prefix in PREFIXES:
            rule = {"id": f"age-out-{prefix.rstrip('/')}", "status": "Enabled",
                    "filter": {"prefix": prefix}}
            if args.infrequent_access_after_days is not None:
                rule["transitions"] = [{"days": args.infrequent_access_after_days,
                                        "storageClass": "STANDARD_IA"}]
            if args.expire_after_days is not None:
                rule["expiration"] = {"days": args.expire_after_days}
            if len(rule) > 3:
                rules.append(rule)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id, rules=rules,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]))
        aws.s3.BucketPolicy(
            f"{name}-tls-only", bucket=self.bucket.id,
            policy=policy_json([
                {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                 "Action": "s3:*", "Resource": [self.bucket.arn,
                                                pulumi.Output.concat(self.bucket.arn, "/*")],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                {"Sid": "DenyOldTls", "Effect": "Deny", "Principal": "*",
                 "Action": "s3:*", "Resource": [self.bucket.arn,
                                                pulumi.Output.concat(self.bucket.arn, "/*")],
                 "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}}]),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.public_access]))

        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.register_outputs({"bucket": self.bucket_name})
