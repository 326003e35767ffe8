"""The stacks deploy as declared (issue 12, items 7-10): provider versions that have the
APIs the code uses, Postgres created after its DNS zone is linked, users from IAM Identity
Center, sandboxes that can be re-created at once.

Stack builds run under Pulumi's mocks (tests/infra/harness.py); the provider bounds are
checked against pyproject.toml and the installed SDKs.
"""

from __future__ import annotations

import importlib.metadata
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from headwater_infra.aws.users import POLICY_PATH, is_identity_center_role

from .conftest import SSO_INSTANCE, SSO_PERMISSION_SET, SSO_ROLE

ROOT = Path(__file__).resolve().parents[2]
AZ = "azure-native:"
# The first major of each provider with what the code uses: azure-native 3 added the
# privatedns module and Postgres 16; aws 7 has the s3.Bucket* resources as used and
# Batch's argument names.
NEEDED_MAJORS = {"pulumi-azure-native": 3, "pulumi-aws": 7}


def _infra_extra() -> dict[str, str]:
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["infra"]
    requirements = {}
    for line in extra:
        name, _, spec = line.partition(">=")
        requirements[name.strip()] = ">=" + spec
    return requirements


def test_provider_lower_bounds_are_the_majors_the_code_needs():
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    extra = _infra_extra()
    for name, major in NEEDED_MAJORS.items():
        spec = SpecifierSet(extra[name])
        assert Version(f"{major - 1}.999") not in spec, f"{name}: {spec} admits {major - 1}.x"
        assert Version(f"{major}.0") in spec, f"{name}: {spec} refuses {major}.0"
        installed = Version(importlib.metadata.version(name))
        assert installed in spec, f"installed {name} {installed} is outside {spec}"


def test_every_component_module_imports():
    """Each module of headwater_infra imports on its own with the installed providers (a
    fresh interpreter, so one module's imports cannot hide another's missing name)."""
    import headwater_infra

    modules = [m.name for m in pkgutil.walk_packages(headwater_infra.__path__,
                                                      "headwater_infra.")]
    assert {"headwater_infra.azure.network", "headwater_infra.aws.storage",
            "headwater_infra.aws.autoscaler", "headwater_infra.kubernetes.gpu"} <= set(modules)
    script = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    done = subprocess.run([sys.executable, "-c", script, *modules], capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("env", ["dev", "prod", "sandbox"])
def test_postgres_server_waits_for_the_dns_zone_link(stack, env):
    inventory = stack(f"azure-{env}")
    link = inventory.one(AZ + "privatedns:VirtualNetworkLink")
    server = inventory.one(AZ + "dbforpostgresql:Server")
    assert link["name"] in server["dependsOn"]


def test_identity_center_roles_get_the_policy_through_their_permission_set(stack):
    assert is_identity_center_role(SSO_ROLE)
    assert not is_identity_center_role("arn:aws:iam::123456789012:role/HeadwaterUsers")
    inventory = stack("aws-sso")
    policy = inventory.one("aws:iam/policy:Policy")["inputs"]
    assert policy["path"] == POLICY_PATH
    # Such a role cannot have a policy attached: no attachment is declared for it.
    attachments = [r for r in inventory.of_type(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r["inputs"]["role"] == SSO_ROLE.rsplit("/", 1)[-1]]
    assert attachments == []
    reference = inventory.one(
        "aws:ssoadmin/customerManagedPolicyAttachment:CustomerManagedPolicyAttachment")
    assert reference["inputs"]["instanceArn"] == SSO_INSTANCE
    assert reference["inputs"]["permissionSetArn"] == SSO_PERMISSION_SET
    assert reference["inputs"]["customerManagedPolicyReference"] == {
        "name": policy["name"], "path": POLICY_PATH}
    assert inventory.outputs["usersPolicyName"] == policy["name"]


def test_a_plain_users_role_still_gets_the_policy_attached(stack):
    inventory = stack("aws-prod")  # usersRoleArn: role/HeadwaterUsers
    attached = {r["inputs"]["role"] for r in inventory.of_type(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert "HeadwaterUsers" in attached
    assert not inventory.of_type(
        "aws:ssoadmin/customerManagedPolicyAttachment:CustomerManagedPolicyAttachment")


@pytest.mark.parametrize("env", ["dev", "prod", "sandbox"])
def test_sandbox_secrets_free_their_names_at_once(stack, env):
    secrets = stack(f"aws-{env}").of_type("aws:secretsmanager/secret:Secret")
    # The database credential, the service's API key and its UI session secret.
    assert len(secrets) == 3
    for secret in secrets:
        # A name in its recovery window cannot be reused: a sandbox destroyed and created
        # again within days would fail. 0 deletes at once.
        assert secret["inputs"]["recoveryWindowInDays"] == (0 if env == "sandbox" else 7)


def test_settings_refuse_half_an_identity_center_setup():
    from headwater_infra.aws.users import UsersPolicyArgs
    from headwater_infra.naming import Naming

    with pytest.raises(ValueError, match="ssoInstanceArn and usersPermissionSetArn go"):
        UsersPolicyArgs(Naming("hw", "dev"), "eu-west-1", "1", "b", "p/", "q", "q_", [], "s",
                        "e", "hw-dev", "t", "l", [], role_arn=SSO_ROLE,
                        sso_instance_arn=SSO_INSTANCE)
