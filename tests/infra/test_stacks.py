"""What each stack declares, per environment (built under Pulumi's mocks: no cloud, no CLI)."""

from __future__ import annotations

import json

import pytest

AZ = "azure-native:"
K8S_CORE = {  # the in-cluster objects of a fully deployed stack
    "kubernetes:core/v1:Namespace": 2, "kubernetes:core/v1:ServiceAccount": 2,
    "kubernetes:core/v1:Secret": 4, "tls:index/privateKey:PrivateKey": 2,
    "tls:index/selfSignedCert:SelfSignedCert": 1, "tls:index/locallySignedCert:LocallySignedCert": 1, "kubernetes:apps/v1:Deployment": 1,
    "kubernetes:batch/v1:Job": 1, "kubernetes:core/v1:Service": 1,
    "kubernetes:policy/v1:PodDisruptionBudget": 1,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": 1, "kubernetes:helm.sh/v3:Release": 1,
}
AZURE_CORE = {
    AZ + "resources:ResourceGroup": 1, AZ + "network:VirtualNetwork": 1,
    AZ + "network:Subnet": 3, AZ + "privatedns:PrivateZone": 1,
    AZ + "privatedns:VirtualNetworkLink": 1, AZ + "storage:StorageAccount": 1,
    AZ + "storage:BlobServiceProperties": 1, AZ + "storage:BlobContainer": 2,
    AZ + "storage:ManagementPolicy": 1, AZ + "keyvault:Vault": 2, AZ + "keyvault:Secret": 3,
    AZ + "dbforpostgresql:Server": 1, AZ + "dbforpostgresql:Database": 1,
    AZ + "dbforpostgresql:Configuration": 1, AZ + "containerservice:ManagedCluster": 1,
    AZ + "containerregistry:Registry": 1, AZ + "managedidentity:UserAssignedIdentity": 2,
    AZ + "managedidentity:FederatedIdentityCredential": 2,
    "random:index/randomPassword:RandomPassword": 3, "pulumi:providers:kubernetes": 1,
}
AWS_CORE = {
    "aws:ec2/vpc:Vpc": 1, "aws:ec2/natGateway:NatGateway": 1,
    "aws:ec2/vpcEndpoint:VpcEndpoint": 1, "aws:s3/bucket:Bucket": 1,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
    "aws:s3/bucketVersioning:BucketVersioning": 1,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
    "aws:s3/bucketPolicy:BucketPolicy": 1, "aws:rds/instance:Instance": 1,
    "aws:rds/subnetGroup:SubnetGroup": 1, "aws:rds/parameterGroup:ParameterGroup": 1,
    "aws:secretsmanager/secret:Secret": 3, "aws:ecr/repository:Repository": 2,
    "aws:batch/computeEnvironment:ComputeEnvironment": 1, "aws:batch/jobQueue:JobQueue": 1,
    "aws:dynamodb/table:Table": 1, "aws:iam/policy:Policy": 1,
}
ECS = {"aws:ecs/cluster:Cluster": 1, "aws:ecs/service:Service": 1,
       "aws:ecs/taskDefinition:TaskDefinition": 2, "aws:lb/loadBalancer:LoadBalancer": 1,
       "aws:lb/targetGroup:TargetGroup": 1, "aws:lb/listener:Listener": 1,
       "aws:acm/certificate:Certificate": 1}  # from the stack's CA (no certificateArn)
EKS = {"aws:eks/cluster:Cluster": 1, "aws:iam/openIdConnectProvider:OpenIdConnectProvider": 1,
       "aws:kms/key:Key": 1, "aws:eks/accessEntry:AccessEntry": 1, "aws:eks/addon:Addon": 1,
       **K8S_CORE,
       "kubernetes:helm.sh/v3:Release": 3}  # Argo, the cluster autoscaler, the NVIDIA plugin


def assert_has(inventory, expected: dict[str, int]) -> None:
    counts = inventory.types()
    wrong = {t: (n, counts.get(t, 0)) for t, n in expected.items() if counts.get(t, 0) != n}
    assert not wrong, f"{inventory.label}: type -> (expected, declared): {wrong}"


@pytest.mark.parametrize("env", ["dev", "prod", "sandbox"])
def test_azure_inventory(stack, env):
    inventory = stack(f"azure-{env}")
    assert_has(inventory, {**AZURE_CORE, **K8S_CORE,
                           # Argo (+ the NVIDIA device plugin where there is a GPU pool)
                           "kubernetes:helm.sh/v3:Release": 2 if env == "prod" else 1})
    pools = {r["inputs"]["agentPoolName"] for r in inventory.of_type(AZ + "containerservice:AgentPool")}
    assert pools == {"dev": {"user"}, "prod": {"user", "gpu"}, "sandbox": set()}[env]
    # 2 task grants + 3 service grants (2 containers, its API key) + AcrPull + network +
    # deployer admin (+ 3 for the users' group in prod).
    assert len(inventory.of_type(AZ + "authorization:RoleAssignment")) == \
        (11 if env == "prod" else 8)


@pytest.mark.parametrize("env", ["dev", "prod", "sandbox"])
def test_aws_inventory(stack, env):
    inventory = stack(f"aws-{env}")
    assert_has(inventory, {**AWS_CORE, **(EKS if env == "prod" else ECS)})
    counts = inventory.types()
    if env == "prod":  # platform: eks
        assert "aws:ecs/service:Service" not in counts
        groups = {r["inputs"]["nodeGroupName"] for r in inventory.of_type(
            "aws:eks/nodeGroup:NodeGroup")}
        assert groups == {"general", "gpu"}
    else:
        assert "aws:eks/cluster:Cluster" not in counts
        assert "kubernetes:apps/v1:Deployment" not in counts
    subnets = inventory.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == (6 if env == "prod" else 4)  # azCount 3 in prod


def test_components_own_their_resources(stack):
    """One ComponentResource per concern, each named for what it holds."""
    assert {t for t in stack("azure-dev").types() if t.startswith("headwater:")} == {
        "headwater:azure:Network", "headwater:azure:Storage", "headwater:azure:KeyVault",
        "headwater:azure:Database", "headwater:azure:AksCluster", "headwater:azure:Registry",
        "headwater:azure:WorkloadIdentity", "headwater:kubernetes:Namespace",
        "headwater:kubernetes:MetadataService", "headwater:kubernetes:ArgoWorkflows",
        "headwater:kubernetes:ServiceCertificate"}
    assert {t for t in stack("aws-prod").types() if t.startswith("headwater:aws")} == {
        "headwater:aws:Network", "headwater:aws:ArtifactBucket", "headwater:aws:Database",
        "headwater:aws:Repositories", "headwater:aws:Batch", "headwater:aws:StepFunctions",
        "headwater:aws:UsersPolicy", "headwater:aws:EksCluster", "headwater:aws:ServiceApiKey",
        "headwater:aws:ClusterAutoscaler"}


def test_environments_differ_where_the_yaml_says(stack):
    def account(env):
        return stack(f"azure-{env}").one(AZ + "storage:StorageAccount")["inputs"]

    def server(env):
        return stack(f"azure-{env}").one(AZ + "dbforpostgresql:Server")["inputs"]

    assert account("prod")["sku"] == {"name": "Standard_ZRS"}
    assert account("dev")["sku"] == {"name": "Standard_LRS"}
    assert server("prod")["highAvailability"] == {"mode": "ZoneRedundant"}
    assert server("prod")["backup"] == {"backupRetentionDays": 35,
                                        "geoRedundantBackup": "Enabled"}
    assert server("dev")["highAvailability"] == {"mode": "Disabled"}
    rds = {env: stack(f"aws-{env}").one("aws:rds/instance:Instance")["inputs"]
           for env in ("dev", "prod")}
    assert rds["prod"]["multiAz"] is True and rds["prod"]["deletionProtection"] is True
    assert rds["dev"]["multiAz"] is False and rds["dev"]["skipFinalSnapshot"] is True
    deployment = stack("azure-prod").one("kubernetes:apps/v1:Deployment")["inputs"]
    assert deployment["spec"]["replicas"] == 3


@pytest.mark.parametrize("cloud", ["azure", "aws"])
def test_first_deploy_without_a_service_version(stack, cloud):
    """Before images exist: infrastructure and registry, no service, no profile yet."""
    inventory = stack(f"{cloud}-bootstrap")
    counts = inventory.types()
    assert "profile" not in inventory.outputs
    # ECS migrates before it serves; Kubernetes does both in one `pulumi up`.
    first = "migrationVersion" if cloud == "aws" else "serviceVersion"
    assert f"pulumi config set {first}" in inventory.outputs["nextStep"]
    assert "registry" in inventory.outputs
    assert not {t for t in counts if t in ("kubernetes:apps/v1:Deployment",
                                           "kubernetes:batch/v1:Job", "aws:ecs/service:Service")}


def test_ecs_migration_task_comes_before_the_service(stack):
    inventory = stack("aws-migrate-first")
    families = [r["inputs"]["family"] for r in
                inventory.of_type("aws:ecs/taskDefinition:TaskDefinition")]
    assert families == ["hw-dev-db-upgrade"]
    assert not inventory.of_type("aws:ecs/service:Service")
    assert "profile" not in inventory.outputs
    assert inventory.outputs["migrationCommand"].startswith("aws ecs run-task")
    assert "serviceVersion" in inventory.outputs["nextStep"]
    image = json.loads(inventory.of_type("aws:ecs/taskDefinition:TaskDefinition")[0][
        "inputs"]["containerDefinitions"])[0]["image"]
    assert image.endswith("/hw-dev/headwater-service:0.1.0")


def test_migration_runs_before_the_new_service_version(stack):
    inventory = stack("azure-dev")
    job = inventory.one("kubernetes:batch/v1:Job")
    assert job["inputs"]["metadata"]["name"] == "headwater-db-upgrade-0-1-0"
    image = job["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == inventory.outputs["images"]["service"]
    assert image.endswith("/headwater-service:0.1.0")
    migration = stack("aws-dev").outputs["migrationCommand"]
    assert migration.startswith("aws ecs run-task --cluster hw-dev-metadata "
                                "--task-definition hw-dev-db-upgrade --launch-type FARGATE")
    assert "assignPublicIp=DISABLED" in migration
    task = [r for r in stack("aws-dev").of_type("aws:ecs/taskDefinition:TaskDefinition")
            if r["inputs"]["family"] == "hw-dev-db-upgrade"][0]
    assert '"command": ["headwater-service", "db", "upgrade"]' in task["inputs"][
        "containerDefinitions"]


# Which input of which resource holds a name, and the rule it must follow.
NAMES = [
    (AZ + "storage:StorageAccount", "accountName", "storage account"),
    (AZ + "keyvault:Vault", "vaultName", "key vault"),
    (AZ + "dbforpostgresql:Server", "serverName", "postgres server"),
    (AZ + "containerregistry:Registry", "registryName", "container registry"),
    (AZ + "containerservice:ManagedCluster", "resourceName", "azure resource"),
    (AZ + "resources:ResourceGroup", "resourceGroupName", "azure resource"),
    (AZ + "storage:BlobContainer", "containerName", "blob container"),
    ("aws:s3/bucket:Bucket", "bucket", "s3 bucket"),
    ("aws:rds/instance:Instance", "identifier", "rds instance"),
    ("aws:iam/role:Role", "name", "iam role"),
    ("aws:lb/loadBalancer:LoadBalancer", "name", "aws resource"),
    ("aws:lb/targetGroup:TargetGroup", "name", "aws resource"),
    ("aws:batch/jobQueue:JobQueue", "name", "aws name"),
    ("aws:dynamodb/table:Table", "name", "aws name"),
]


@pytest.mark.parametrize("label", ["azure-sandbox", "azure-prod", "aws-sandbox", "aws-prod"])
def test_declared_names_follow_each_clouds_rules(stack, label):
    from headwater_infra.naming import check

    inventory = stack(label)
    checked = 0
    for type_token, key, rule in NAMES:
        for resource in inventory.of_type(type_token):
            check(rule, resource["inputs"][key])
            checked += 1
    for resource in inventory.custom():
        if resource["type"].startswith("kubernetes:") and "metadata" in resource["inputs"]:
            check("kubernetes", resource["inputs"]["metadata"]["name"])
            checked += 1
    assert checked >= 10
