"""Security properties of what the stacks declare: private by default, TLS, RBAC, least
privilege, and no secret in any output or in the profile."""

from __future__ import annotations

import json

import pytest

from headwater.cli.configure import profile_problems, secret_in_value
from headwater.settings import SECRET_KEYS
from headwater_infra.azure.roles import ROLES

from .conftest import FULL

AZ = "azure-native:"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker on a secret value
ALLOWED = ["203.0.113.0/24"]  # allowedClientIpRanges in every Pulumi.<env>.yaml


# --- secrets --------------------------------------------------------------------------------

def _strings(value, secret=False):
    """Every string inside ``value``, with whether it sits under a secret marker."""
    if isinstance(value, dict):
        inside = secret or SECRET_SIG in value
        for item in value.values():
            yield from _strings(item, inside)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, secret)
    elif isinstance(value, str):
        yield value, secret


@pytest.mark.parametrize("label", FULL)
def test_no_secret_in_outputs_or_profile(stack, label):
    inventory = stack(label)
    assert inventory.passwords, "the stack generates its database password"
    text = inventory.outputs_text()
    for password in inventory.passwords:
        assert password not in text
    assert not inventory.secret_outputs, "outputs must be readable by `configure from-stack`"
    assert inventory.outputs, "the stack exports its outputs"
    for value, _ in _strings(inventory.outputs):
        assert secret_in_value(value) is None, value
    assert profile_problems(inventory.profile) == []
    assert not SECRET_KEYS & set(inventory.profile)


@pytest.mark.parametrize("label", FULL)
def test_password_travels_only_as_a_pulumi_secret(stack, label):
    inventory = stack(label)
    password = inventory.password_of[
        "database-admin-password" if label.startswith("azure") else "database-password"]
    holders = []
    assert inventory.resources
    for resource in inventory.resources:
        for value, secret in _strings(resource["inputs"]):
            if password in value:
                assert secret, f"{resource['type']} {resource['name']} gets the password " \
                               f"without the secret marker"
                holders.append(resource["type"])
    expected = {"azure": {AZ + "keyvault:Secret", AZ + "dbforpostgresql:Server",
                          "kubernetes:core/v1:Secret"},
                "aws": {"aws:rds/instance:Instance",
                        "aws:secretsmanager/secretVersion:SecretVersion"}}[label.split("-")[0]]
    if label == "aws-prod":  # on EKS the service reads it from a Kubernetes secret
        expected = expected | {"kubernetes:core/v1:Secret"}
    assert set(holders) == expected


# --- Azure ----------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ["dev", "prod", "sandbox"])
def test_azure_storage_is_private_and_tls_only(stack, env):
    inventory = stack(f"azure-{env}")
    account = inventory.one(AZ + "storage:StorageAccount")["inputs"]
    assert account["enableHttpsTrafficOnly"] is True
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    rules = account["networkRuleSet"]
    assert rules["defaultAction"] == "Deny"
    assert [r["iPAddressOrRange"] for r in rules["ipRules"]] == ALLOWED
    node_subnet = [r for r in inventory.of_type(AZ + "network:Subnet")
                   if r["inputs"]["subnetName"] == "nodes"][0]
    assert [r["virtualNetworkResourceId"] for r in rules["virtualNetworkRules"]] == \
        [node_subnet["id"]]
    containers = inventory.of_type(AZ + "storage:BlobContainer")
    assert containers
    for container in containers:
        assert container["inputs"]["publicAccess"] == "None"
    soft_delete = inventory.one(AZ + "storage:BlobServiceProperties")["inputs"]
    days = {"dev": 7, "prod": 30, "sandbox": 1}[env]
    assert soft_delete["deleteRetentionPolicy"] == {"enabled": True, "days": days}
    actions = inventory.one(AZ + "storage:ManagementPolicy")["inputs"]["policy"]["rules"][0][
        "definition"]["actions"]["baseBlob"]
    assert actions == {
        "dev": {"tierToCool": {"daysAfterModificationGreaterThan": 30}},
        "prod": {"tierToCool": {"daysAfterModificationGreaterThan": 90}},
        "sandbox": {"delete": {"daysAfterModificationGreaterThan": 60}}}[env]


@pytest.mark.parametrize("env", ["dev", "prod", "sandbox"])
def test_azure_key_vault_uses_rbac_and_a_firewall(stack, env):
    vaults = stack(f"azure-{env}").of_type(AZ + "keyvault:Vault")
    assert len(vaults) == 2  # the flows' and the service's
    for vault in vaults:
        properties = vault["inputs"]["properties"]
        assert properties["enableRbacAuthorization"] is True
        assert "accessPolicies" not in properties
        assert properties["networkAcls"]["defaultAction"] == "Deny"
        # Purge protection cannot be undone, so only prod has it.
        assert properties.get("enablePurgeProtection") is (True if env == "prod" else None)


@pytest.mark.parametrize("env", ["dev", "prod", "sandbox"])
def test_azure_database_is_reachable_only_from_the_vnet(stack, env):
    inventory = stack(f"azure-{env}")
    server = inventory.one(AZ + "dbforpostgresql:Server")["inputs"]
    postgres_subnet = [r for r in inventory.of_type(AZ + "network:Subnet")
                       if r["inputs"]["subnetName"] == "postgres"][0]
    assert server["network"]["publicNetworkAccess"] == "Disabled"
    assert server["network"]["delegatedSubnetResourceId"] == postgres_subnet["id"]
    assert server["network"]["privateDnsZoneArmResourceId"] == \
        inventory.one(AZ + "privatedns:PrivateZone")["id"]
    assert postgres_subnet["inputs"]["delegations"][0]["serviceName"] == \
        "Microsoft.DBforPostgreSQL/flexibleServers"
    tls = inventory.one(AZ + "dbforpostgresql:Configuration")["inputs"]
    assert (tls["configurationName"], tls["value"]) == ("require_secure_transport", "on")


ROLE_SCOPES = {  # role -> the only kind of resource it may be granted on
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "storage:StorageAccount",   # Blob Data Contributor
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "storage:BlobContainer",    # Blob Data Reader
    "4633458b-17de-408a-b874-0445c86b69e6": "keyvault:Vault",           # KV Secrets User
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "containerregistry:Registry",  # AcrPull
    "4d97b98b-1d4f-4787-a291-c67834d212e7": "network:VirtualNetwork",   # Network Contributor
    "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b": "containerservice:ManagedCluster",  # AKS admin
    "4abbcc35-e782-43d8-92c5-2d3f1bd2253f": "containerservice:ManagedCluster",  # AKS user
}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_azure_role_assignments_are_scoped_to_one_resource(stack, env):
    inventory = stack(f"azure-{env}")
    assignments = inventory.of_type(AZ + "authorization:RoleAssignment")
    assert assignments
    for assignment in assignments:
        inputs = assignment["inputs"]
        role = inputs["roleDefinitionId"].rsplit("/", 1)[-1]
        assert role in ROLE_SCOPES, f"{assignment['name']} grants an unexpected role {role}"
        targets = [r["id"] for r in inventory.of_type(AZ + ROLE_SCOPES[role])]
        if role == ROLES["Key Vault Secrets User"]:
            # The flows' vault, or (the service) the API key's secret inside it.
            targets = [inventory.named("vault-vault")["id"],
                       inventory.named("service-api-key-secret")["id"]]
        # One resource per assignment (the containers: the service reads two of them).
        assert inputs["scope"] in targets, assignment["name"]


def test_azure_identities_hold_exactly_their_grants(stack):
    inventory = stack("azure-dev")
    identities = {r["name"]: r for r in inventory.of_type(AZ + "managedidentity:UserAssignedIdentity")}
    grants = {}
    for assignment in inventory.of_type(AZ + "authorization:RoleAssignment"):
        grants.setdefault(assignment["name"].split("-")[0], set()).add(
            assignment["inputs"]["roleDefinitionId"].rsplit("/", 1)[-1])
    assert set(identities) == {"tasks-identity", "service-identity"}
    assert grants["tasks"] == {"ba92f5b4-2d11-453d-a403-e96b0029c9fe",
                               "4633458b-17de-408a-b874-0445c86b69e6"}
    assert grants["service"] == {"2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",   # Blob Reader
                                 "4633458b-17de-408a-b874-0445c86b69e6"}   # its API key
    cluster = inventory.one(AZ + "containerservice:ManagedCluster")
    federations = {r["inputs"]["subject"]: r["inputs"] for r in
                   inventory.of_type(AZ + "managedidentity:FederatedIdentityCredential")}
    assert set(federations) == {"system:serviceaccount:headwater:headwater-tasks",
                                "system:serviceaccount:headwater-service:headwater-metadata"}
    for federation in federations.values():
        assert federation["audiences"] == ["api://AzureADTokenExchange"]
        assert federation["issuer"].startswith("https://westeurope.oic.prod-aks.azure.com/")
    accounts = {r["inputs"]["metadata"]["name"]: r["inputs"]["metadata"]["annotations"]
                for r in inventory.of_type("kubernetes:core/v1:ServiceAccount")}
    assert set(accounts) == {"headwater-tasks", "headwater-metadata"}
    client_ids = {a["azure.workload.identity/client-id"] for a in accounts.values()}
    assert len(client_ids) == 2  # each account acts as its own identity
    assert cluster["inputs"]["securityProfile"] == {"workloadIdentity": {"enabled": True}}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_aks_has_no_local_accounts_and_a_limited_api_server(stack, env):
    cluster = stack(f"azure-{env}").one(AZ + "containerservice:ManagedCluster")["inputs"]
    assert cluster["disableLocalAccounts"] is True
    assert cluster["aadProfile"]["enableAzureRBAC"] is True
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert cluster["apiServerAccessProfile"] == {"authorizedIPRanges": ALLOWED}
    assert cluster["networkProfile"]["networkPolicy"] == "cilium"
    registry = stack(f"azure-{env}").one(AZ + "containerregistry:Registry")["inputs"]
    assert registry["adminUserEnabled"] is False


def test_metadata_service_is_behind_an_internal_load_balancer(stack):
    azure = stack("azure-dev").one("kubernetes:core/v1:Service")["inputs"]["metadata"]
    assert azure["annotations"]["service.beta.kubernetes.io/azure-load-balancer-internal"] == \
        "true"
    assert azure["annotations"]["service.beta.kubernetes.io/azure-load-balancer-ipv4"] == \
        "10.40.16.10"
    eks = stack("aws-prod").one("kubernetes:core/v1:Service")["inputs"]["metadata"]
    assert eks["annotations"]["service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"
    alb = stack("aws-dev").one("aws:lb/loadBalancer:LoadBalancer")["inputs"]
    assert alb["internal"] is True


# --- AWS ------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ["dev", "prod", "sandbox"])
def test_s3_bucket_is_private_encrypted_and_tls_only(stack, env):
    inventory = stack(f"aws-{env}")
    block = inventory.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")["inputs"]
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy",
                                          "ignorePublicAcls", "restrictPublicBuckets"))
    encryption = inventory.one("aws:s3/bucketServerSideEncryptionConfiguration:"
                               "BucketServerSideEncryptionConfiguration")["inputs"]["rules"][0]
    assert encryption["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}
    policy = json.loads(inventory.one("aws:s3/bucketPolicy:BucketPolicy")["inputs"]["policy"])
    denies = {s["Sid"]: s["Condition"] for s in policy["Statement"] if s["Effect"] == "Deny"}
    assert denies == {"DenyInsecureTransport": {"Bool": {"aws:SecureTransport": "false"}},
                      "DenyOldTls": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}}
    ownership = inventory.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership["inputs"]["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    versioning = inventory.one("aws:s3/bucketVersioning:BucketVersioning")["inputs"]
    assert versioning["versioningConfiguration"]["status"] == \
        ("Enabled" if env == "prod" else "Suspended")


@pytest.mark.parametrize("env", ["dev", "prod", "sandbox"])
def test_rds_is_private_encrypted_and_forces_tls(stack, env):
    inventory = stack(f"aws-{env}")
    rds = inventory.one("aws:rds/instance:Instance")["inputs"]
    assert rds["publiclyAccessible"] is False
    assert rds["storageEncrypted"] is True
    parameters = inventory.one("aws:rds/parameterGroup:ParameterGroup")["inputs"]["parameters"]
    assert {"name": "rds.force_ssl", "value": "1"} in parameters
    private = {r["id"] for r in inventory.of_type("aws:ec2/subnet:Subnet")
               if r["name"].startswith("network-private-")}
    subnet_group = inventory.one("aws:rds/subnetGroup:SubnetGroup")["inputs"]
    assert set(subnet_group["subnetIds"]) == private
    # Only the service (ECS tasks, or the EKS cluster's nodes) may connect.
    rules = inventory.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert len(rules) == 1 and rules[0]["inputs"]["fromPort"] == 5432
    assert "cidrIpv4" not in rules[0]["inputs"]
    assert rules[0]["inputs"]["referencedSecurityGroupId"]


@pytest.mark.parametrize("env", ["dev", "prod", "sandbox"])
def test_nothing_is_open_to_the_internet(stack, env):
    inventory = stack(f"aws-{env}")
    groups = inventory.of_type("aws:ec2/securityGroup:SecurityGroup")
    subnets = inventory.of_type("aws:ec2/subnet:Subnet")
    assert groups and subnets
    for group in groups:
        for rule in group["inputs"].get("ingress", []):
            assert "0.0.0.0/0" not in rule.get("cidrBlocks", []), group["name"]
    for subnet in subnets:
        assert subnet["inputs"]["mapPublicIpOnLaunch"] is False
    services = inventory.of_type("aws:ecs/service:Service")
    assert len(services) == (0 if env == "prod" else 1)  # prod serves it on EKS
    for service in services:
        assert service["inputs"]["networkConfiguration"]["assignPublicIp"] is False


def _policies(inventory):
    for resource in inventory.resources:
        if resource["type"] in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"):
            yield resource["name"], json.loads(resource["inputs"]["policy"])


@pytest.mark.parametrize("label", ["aws-dev", "aws-prod"])
def test_iam_policies_are_least_privilege(stack, label):
    from headwater_infra.aws.iam import UNSCOPED_ACTIONS

    inventory = stack(label)
    checked = 0
    for name, policy in _policies(inventory):
        for statement in policy["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            assert not [a for a in actions if a == "*" or a.endswith(":*")], name
            if "*" in statement["Resource"]:
                assert statement["Resource"] == ["*"]
                assert set(actions) <= UNSCOPED_ACTIONS, (name, actions)
            checked += 1
    assert checked > 20
    roles = {r["inputs"]["name"]: json.loads(r["inputs"]["assumeRolePolicy"])
             for r in inventory.of_type("aws:iam/role:Role")}
    task_trust = roles["hw-dev-batch-task" if label == "aws-dev" else "hw-prod-batch-task"]
    principals = [s["Principal"] for s in task_trust["Statement"]]
    assert {"Service": ["ecs-tasks.amazonaws.com"]} in principals
    if label == "aws-prod":  # IRSA: only the tasks' service account may assume it
        web = [s for s in task_trust["Statement"] if "Federated" in s["Principal"]][0]
        subject = list(web["Condition"]["StringEquals"].values())
        assert "system:serviceaccount:headwater:headwater-tasks" in subject


def test_task_role_reaches_only_its_bucket_and_flow_secrets(stack):
    inventory = stack("aws-dev")
    policies = dict(_policies(inventory))
    secrets = policies["batch-task-role-secrets"]["Statement"][0]
    assert secrets["Resource"] == [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hw-dev/flows/*"]
    database_secret = inventory.named("database-secret")["inputs"]["name"]
    assert database_secret == "hw-dev/metadata/database"  # outside the flows/ prefix
    # Besides flows/, tasks read the service's API key (they are its clients), nothing else.
    assert policies["batch-task-role-secrets"]["Statement"][1]["Resource"] == [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hw-dev/service/api-key"]
    artifacts = policies["batch-task-role-artifacts"]["Statement"]
    bucket = inventory.one("aws:s3/bucket:Bucket")["inputs"]["bucket"]
    assert artifacts[1]["Resource"] == [f"arn:aws:s3:::{bucket}/*"]
    assert artifacts[1]["Action"] == ["s3:GetObject", "s3:PutObject"]


def test_eks_api_server_is_private_or_limited_and_encrypts_secrets(stack):
    cluster = stack("aws-prod").one("aws:eks/cluster:Cluster")["inputs"]
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["vpcConfig"]["publicAccessCidrs"] == ALLOWED
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]
    assert cluster["accessConfig"]["authenticationMode"] == "API"
