"""Stack builds shared by the infra tests: every stack x environment is built once per
session, in parallel subprocesses, under Pulumi's mocks (``harness.py``)."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from .harness import build_many

CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
SSO_ROLE = ("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
            "AWSReservedSSO_HeadwaterUsers_0123456789abcdef")
SSO_INSTANCE = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
SSO_PERMISSION_SET = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef"

# label -> (cloud, stack, config overrides)
BUILDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    **{f"{cloud}-{env}": (cloud, env, {}) for cloud in ("azure", "aws")
       for env in ("dev", "prod", "sandbox")},
    # The very first `pulumi up`: no serviceVersion yet, so no service and no profile.
    "azure-bootstrap": ("azure", "dev", {"serviceVersion": None}),
    "aws-bootstrap": ("aws", "dev", {"serviceVersion": None}),
    # ECS: the migration task of a version exists (and is run by hand) before the service.
    "aws-migrate-first": ("aws", "dev", {"serviceVersion": None, "migrationVersion": "0.1.0"}),
    # The ECS service behind HTTPS with an ACM certificate for a name of the team's.
    "aws-tls": ("aws", "dev", {"service": {"certificateArn": CERTIFICATE,
                                           "hostname": "metadata.hw-dev.example.com"}}),
    # Users sign in through IAM Identity Center: the policy is referenced by a permission set.
    "aws-sso": ("aws", "dev", {"usersRoleArn": SSO_ROLE, "ssoInstanceArn": SSO_INSTANCE,
                               "usersPermissionSetArn": SSO_PERMISSION_SET}),
}
FULL = [f"{cloud}-{env}" for cloud in ("azure", "aws") for env in ("dev", "prod", "sandbox")]


class Inventory:
    """What one stack program declared (resources and their inputs) and exported."""

    def __init__(self, label: str, report: dict[str, Any]):
        self.label = label
        self.resources = report["resources"]
        self.outputs = {k: v["value"] for k, v in report["outputs"].items()}
        self.secret_outputs = {k for k, v in report["outputs"].items() if v["secret"]}
        self.passwords = report["passwords"]
        self.password_of = report["passwordOf"]     # RandomPassword name -> value

    def __repr__(self) -> str:
        return f"Inventory({self.label})"

    def of_type(self, type_token: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_token]

    def one(self, type_token: str) -> dict[str, Any]:
        found = self.of_type(type_token)
        assert len(found) == 1, f"{self.label}: expected one {type_token}, found {len(found)}"
        return found[0]

    def named(self, name: str) -> dict[str, Any]:
        found = [r for r in self.resources if r["name"] == name]
        assert len(found) == 1, f"{self.label}: no single resource named {name}"
        return found[0]

    def in_namespace(self, namespace: str) -> list[dict[str, Any]]:
        """The namespaced Kubernetes objects declared in ``namespace``."""
        return [r for r in self.resources if r["type"].startswith("kubernetes:")
                and (r["inputs"].get("metadata") or {}).get("namespace") == namespace]

    def types(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for resource in self.resources:
            counts[resource["type"]] = counts.get(resource["type"], 0) + 1
        return counts

    def custom(self) -> Iterator[dict[str, Any]]:
        return (r for r in self.resources if r["custom"])

    @property
    def profile(self) -> dict[str, str]:
        return self.outputs["profile"]

    def outputs_text(self) -> str:
        return json.dumps(self.outputs, sort_keys=True)


@pytest.fixture(scope="session")
def built() -> dict[str, Any]:
    """All builds, run once in parallel (a failed build is kept as its exception)."""
    return build_many(BUILDS)


@pytest.fixture(scope="session")
def stack(built):
    """``stack("azure-dev")`` -> that build's ``Inventory`` (fails the test if it broke)."""
    def get(label: str) -> Inventory:
        report = built[label]
        if isinstance(report, Exception):
            pytest.fail(str(report), pytrace=False)
        return Inventory(label, report)
    return get
