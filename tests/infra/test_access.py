"""Who can read what, in what the stacks declare (issue 12, items 1-6): the database
credential out of every user's and task's reach, the service in a namespace users cannot
create pods in, an API key the service requires, IAM grants that stop at the stack's own
names, NetworkPolicy enforced on EKS, and prod's data resources protected from deletion.

Built under Pulumi's mocks (tests/infra/harness.py): this proves what is declared, not
what the clouds then enforce.
"""

from __future__ import annotations

import fnmatch
import json

import pytest

from headwater_infra.azure.database import PASSWORD_SECRET_NAME
from headwater_infra.azure.keyvault import API_KEY_SECRET_NAME
from headwater_infra.aws.iam import STACK_TAG
from headwater_infra.kubernetes.manifests import ClusterLayout
from headwater_infra.profile import AUTH_SECRET_ID_KEY

from .conftest import FULL

AZ = "azure-native:"
LAYOUT = ClusterLayout()


# --- 1. the database credential -------------------------------------------------------------

@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_user_or_task_principal_can_read_the_database_secret(stack, env):
    inventory = stack(f"azure-{env}")
    secrets = {r["inputs"]["secretName"]: r for r in inventory.of_type(AZ + "keyvault:Secret")}
    vaults = {r["inputs"]["vaultName"]: r for r in inventory.of_type(AZ + "keyvault:Vault")}
    database_vault = vaults[secrets[PASSWORD_SECRET_NAME]["inputs"]["vaultName"]]
    flows_vault = vaults[secrets[API_KEY_SECRET_NAME]["inputs"]["vaultName"]]
    assert database_vault is not flows_vault
    readers = {}
    for assignment in inventory.of_type(AZ + "authorization:RoleAssignment"):
        scope = assignment["inputs"]["scope"]
        readers.setdefault(scope, set()).add(assignment["name"])
        # Nothing at all is granted on (or inside) the vault that holds the password.
        assert not scope.startswith(database_vault["id"]), assignment["name"]
    expected = {"tasks-key-vault-secrets-user"}
    if env == "prod":  # usersGroup is set in Pulumi.prod.yaml
        expected.add("users-key-vault-secrets-user")
    assert readers[flows_vault["id"]] == expected


# --- 2. the service's namespace ------------------------------------------------------------

def _subjects(binding):
    return {(s["kind"], s["name"]) for s in binding["inputs"].get("subjects", [])}


@pytest.mark.parametrize("label", ["azure-prod", "aws-prod"])
def test_users_and_tasks_get_nothing_in_the_service_namespace(stack, label):
    inventory = stack(label)
    users = {("Group", "00000000-0000-0000-0000-000000000000"), ("Group", "headwater-users")}
    task = ("ServiceAccount", LAYOUT.task_service_account)
    bindings = [r for r in inventory.resources
                if r["type"].startswith("kubernetes:rbac.authorization.k8s.io/v1:")
                and r["type"].endswith("Binding")]
    assert bindings, "the stack binds the users' and the executor's roles"
    for binding in bindings:
        assert "ClusterRoleBinding" not in binding["type"], binding["name"]
        if _subjects(binding) & (users | {task}):
            assert binding["inputs"]["metadata"]["namespace"] == LAYOUT.namespace
    service_side = inventory.in_namespace(LAYOUT.service_namespace)
    kinds = sorted(r["inputs"].get("kind") or r["type"].rsplit(":", 1)[-1] for r in service_side)
    assert kinds == ["Deployment", "Job", "NetworkPolicy", "PodDisruptionBudget", "Secret",
                     "Secret", "Secret", "Service", "ServiceAccount"]
    # Every pod that holds the service's credentials runs there; none in the flows' namespace.
    for resource in inventory.in_namespace(LAYOUT.namespace):
        assert resource["type"] not in ("kubernetes:apps/v1:Deployment",
                                        "kubernetes:batch/v1:Job"), resource["name"]
        if resource["type"] == "kubernetes:core/v1:Secret":
            assert resource["inputs"]["metadata"]["name"] == LAYOUT.task_secret
    namespace = [r for r in inventory.of_type("kubernetes:core/v1:Namespace")
                 if r["inputs"]["metadata"]["name"] == LAYOUT.service_namespace][0]
    assert namespace["inputs"]["metadata"]["labels"][
        "pod-security.kubernetes.io/enforce"] == "restricted"


def test_users_role_grants_no_secrets_and_stays_in_the_flows_namespace(stack):
    role = [r for r in stack("azure-prod").of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
            if r["inputs"]["metadata"]["name"] == "headwater-users"][0]["inputs"]
    assert role["metadata"]["namespace"] == LAYOUT.namespace
    for rule in role["rules"]:
        assert "secrets" not in rule["resources"]


# --- 3. the API key --------------------------------------------------------------------------

def _service_env(inventory):
    """The serving container's environment: name -> plain value, secretKeyRef (Kubernetes)
    or Secrets Manager reference (ECS ``secrets``)."""
    deployments = inventory.of_type("kubernetes:apps/v1:Deployment")
    if deployments:
        container = deployments[0]["inputs"]["spec"]["template"]["spec"]["containers"][0]
        return {e["name"]: e["valueFrom"]["secretKeyRef"] if "valueFrom" in e else e["value"]
                for e in container["env"]}
    definition = [r for r in inventory.of_type("aws:ecs/taskDefinition:TaskDefinition")
                  if r["inputs"]["family"].endswith("-metadata")][0]
    container = json.loads(definition["inputs"]["containerDefinitions"])[0]
    return {**{e["name"]: e["value"] for e in container["environment"]},
            **{s["name"]: {"secretsManager": s["valueFrom"]} for s in container["secrets"]}}


def _platform(label: str) -> str:
    return "azure" if label.startswith("azure") else "eks" if label == "aws-prod" else "ecs"


@pytest.mark.parametrize("label", FULL)
def test_the_service_requires_an_api_key_the_profile_only_names(stack, label):
    """The service's keys come from the secret store: on ECS through the task definition's
    secrets, on AKS and EKS read by the service at start with its own identity (which may
    read that one secret); no Kubernetes secret, profile or output holds the key."""
    from headwater_service.config import API_KEYS_SECRET_ENV

    inventory = stack(label)
    env = _service_env(inventory)
    platform = _platform(label)
    key = inventory.password_of["service-api-key" if platform == "azure"
                                else "service-api-key-value"]
    where = inventory.profile[AUTH_SECRET_ID_KEY]
    if platform == "azure":
        flows_vault = inventory.named("vault-vault")["inputs"]["vaultName"]
        assert where == f"https://{flows_vault}.vault.azure.net/secrets/{API_KEY_SECRET_NAME}"
        secret = inventory.named("service-api-key-secret")
        readers = [a for a in inventory.of_type(AZ + "authorization:RoleAssignment")
                   if a["inputs"]["scope"] == secret["id"]]
        # The service's workload identity, on that one secret; nothing else inside it.
        assert [a["name"] for a in readers] == ["service-key-vault-secrets-user"]
    else:
        arn = inventory.named("service-api-key-secret")
        assert where.startswith("arn:aws:secretsmanager:") and where.endswith(
            f":secret:{arn['inputs']['name']}")
    if platform == "ecs":  # ECS reads it from Secrets Manager itself
        assert env["HEADWATER_SERVICE_API_KEYS"] == {"secretsManager": where}
    else:  # keys set: the service refuses anonymous calls
        assert env[API_KEYS_SECRET_ENV] == where
        assert "HEADWATER_SERVICE_API_KEYS" not in env
    if platform == "eks":
        statements = json.loads(inventory.named("metadata-role-api-key")["inputs"]["policy"])
        assert statements["Statement"] == [{"Effect": "Allow", "Resource": [where],
                                            "Action": ["secretsmanager:GetSecretValue"]}]
    holders = set()
    for resource in inventory.resources:
        text = json.dumps(resource["inputs"])
        if key in text:
            assert "4dabf18193072939515e22adb298388d" in text, resource["name"]  # a secret
            holders.add(resource["type"])
    expected = {"azure": {AZ + "keyvault:Secret"},
                "ecs": {"aws:secretsmanager/secretVersion:SecretVersion"},
                "eks": {"aws:secretsmanager/secretVersion:SecretVersion"}}
    assert holders == expected[platform]
    for value in inventory.profile.values():
        assert key not in value
    assert key not in inventory.outputs_text()


@pytest.mark.parametrize("label", FULL)
def test_the_ui_session_secret_comes_from_the_secret_store_by_reference(stack, label):
    """HEADWATER_UI_SESSION_SECRET: generated, kept in the service's vault / Secrets
    Manager, handed to the service as a secret reference (ECS secrets, a secretKeyRef),
    never in a plain environment, the profile or the outputs."""
    inventory = stack(label)
    platform = _platform(label)
    value = inventory.password_of["ui-session-secret" if platform == "azure"
                                  else "ui-session-secret-value"]
    env = _service_env(inventory)
    holders = set()
    for resource in inventory.resources:
        text = json.dumps(resource["inputs"])
        if value in text:
            assert "4dabf18193072939515e22adb298388d" in text, resource["name"]  # a secret
            holders.add(resource["type"])
    if platform == "azure":
        record = inventory.named("ui-session-secret-record")["inputs"]
        assert record["vaultName"] == inventory.named("service-vault-vault")["inputs"][
            "vaultName"]  # the vault no user or task principal reads
        assert holders == {AZ + "keyvault:Secret", "kubernetes:core/v1:Secret"}
    else:
        secret = inventory.named("ui-session-secret-secret")
        assert secret["inputs"]["name"] == f"hw-{label.split('-')[1]}/service/ui-session"
        expected = {"aws:secretsmanager/secretVersion:SecretVersion"}
        if platform == "eks":
            expected.add("kubernetes:core/v1:Secret")
        assert holders == expected
    if platform == "ecs":
        name = inventory.named("ui-session-secret-secret")["inputs"]["name"]
        assert env["HEADWATER_UI_SESSION_SECRET"] == {
            "secretsManager": f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{name}"}
    else:
        assert env["HEADWATER_UI_SESSION_SECRET"] == {"name": LAYOUT.auth_secret,
                                                      "key": "ui-session"}
        [auth] = [r for r in inventory.of_type("kubernetes:core/v1:Secret")
                  if r["inputs"]["metadata"]["name"] == LAYOUT.auth_secret]
        assert auth["inputs"]["metadata"]["namespace"] == LAYOUT.service_namespace
    for text in (json.dumps(inventory.profile), inventory.outputs_text()):
        assert value not in text


# --- issue 14: the UI's datastore, read-only ---------------------------------------------------

@pytest.mark.parametrize("label", FULL)
def test_the_service_reads_the_datastore_with_the_profiles_settings_read_only(stack, label):
    """The service's UI gets the datastore settings the profile gives clients, and an
    identity that may read, not write, the artifacts: Blob Data Reader on the artifact and
    card containers (AKS), s3:ListBucket/GetObject on the bucket (ECS and EKS task roles)."""
    inventory = stack(label)
    platform = _platform(label)
    env, profile = _service_env(inventory), inventory.profile
    keys = {"azure": ["METAFLOW_DEFAULT_DATASTORE", "METAFLOW_DATASTORE_SYSROOT_AZURE",
                      "METAFLOW_CARD_AZUREROOT", "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT"],
            "s3": ["METAFLOW_DEFAULT_DATASTORE", "METAFLOW_DATASTORE_SYSROOT_S3",
                   "METAFLOW_CARD_S3ROOT"]}["azure" if platform == "azure" else "s3"]
    for name in keys:
        assert env[name] == profile[name], name
    if platform == "azure":
        assert env["METAFLOW_DEFAULT_DATASTORE"] == "azure"
        containers = {r["id"] for r in inventory.of_type(AZ + "storage:BlobContainer")}
        readers = {a["inputs"]["scope"]: a["inputs"]["roleDefinitionId"].rsplit("/", 1)[-1]
                   for a in inventory.of_type(AZ + "authorization:RoleAssignment")
                   if a["name"].startswith("service-storage")}
        assert set(readers) == containers and len(containers) == 2
        assert set(readers.values()) == {"2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"}  # Reader
        return
    assert env["METAFLOW_DEFAULT_DATASTORE"] == "s3"
    assert env["AWS_DEFAULT_REGION"] == profile["METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION"]
    bucket = "arn:aws:s3:::" + inventory.one("aws:s3/bucket:Bucket")["inputs"]["bucket"]
    policy = "metadata-task-role-read-artifacts" if platform == "ecs" else \
        "metadata-role-read-artifacts"
    statements = json.loads(inventory.named(policy)["inputs"]["policy"])["Statement"]
    assert sorted((s["Action"], s["Resource"]) for s in statements) == [
        (["s3:GetObject"], [f"{bucket}/*"]), (["s3:ListBucket"], [bucket])]


# --- 4. IAM stops at the stack's names ----------------------------------------------------------

def _other_stacks(root: str) -> list[str]:
    """ARNs of resources another stack in the same account and region owns."""
    base = "arn:aws:{}:eu-west-1:123456789012:{}"
    arns = []
    for other in (f"{root}2", f"{root}-bob", "hw-sandbox-bob", "hw-prod"):
        if other == root:
            continue
        arns += [base.format("states", f"stateMachine:{other}_TrainFlow"),
                 base.format("states", f"execution:{other}_TrainFlow:run-1"),
                 # a distributed Map's child execution
                 base.format("states", f"execution:{other}_TrainFlow/start-wide:0f1e2d"),
                 base.format("events", f"rule/{other}_TrainFlow"),
                 base.format("scheduler", f"schedule/default/{other}_TrainFlow"),
                 f"arn:aws:iam::123456789012:role/{other}-eventbridge",
                 f"arn:aws:iam::123456789012:role/{other}-step-functions",
                 f"arn:aws:s3:::{other}-artifacts-abc123/artifacts/sfn-foreach/F/sfn-1/s.json",
                 base.format("secretsmanager", f"secret:{other}/flows/api-AbCdEf"),
                 base.format("secretsmanager", f"secret:{other}/service/api-key-AbCdEf"),
                 base.format("logs", f"log-group:/headwater/{other}/batch:log-stream:x/y/z"),
                 # @batch definitions (<queue>_...) and Step Functions' (<prefix>_...)
                 base.format("batch", f"job-definition/{other}-queue_TrainFlow-9f86d081:1"),
                 base.format("batch", f"job-definition/{other}_TrainFlow-start-9f86d0:1")]
    # Shared by every stack: the default Batch log group; jobs and job definitions whose
    # ids and names say nothing about the stack (stock Metaflow's).
    arns += [base.format("logs", "log-group:/aws/batch/job:log-stream:metaflow_1/default/z"),
             base.format("batch", "job/1c4e-other-stacks-job"),
             base.format("batch", "job-definition/metaflow_9f86d081:1")]
    return arns


def _pinned_to(statement, root: str) -> bool:
    equals = statement.get("Condition", {}).get("StringEquals", {})
    return equals.get(f"aws:ResourceTag/{STACK_TAG}") == root or \
        equals.get(f"aws:RequestTag/{STACK_TAG}") == root


@pytest.mark.parametrize("env", ["dev", "prod", "sandbox"])
def test_no_iam_statement_reaches_another_stacks_resources(stack, env):
    inventory = stack(f"aws-{env}")
    root = f"hw-{env}"
    others = _other_stacks(root)
    checked = 0
    for resource in inventory.resources:
        if resource["type"] not in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"):
            continue
        for statement in json.loads(resource["inputs"]["policy"])["Statement"]:
            resources = statement["Resource"]
            resources = [resources] if isinstance(resources, str) else resources
            actions = statement["Action"]
            if resources == ["*"] or _pinned_to(statement, root):
                continue  # "*": UNSCOPED_ACTIONS only (test_security); tags: this stack's
            for pattern in resources:
                reached = [arn for arn in others if fnmatch.fnmatchcase(arn, pattern)]
                assert not reached, (resource["name"], actions, pattern, reached)
                checked += 1
    assert checked > 20


def test_stopping_jobs_needs_the_stacks_tag_which_the_profile_sets(stack):
    inventory = stack("aws-dev")
    users = json.loads(inventory.one("aws:iam/policy:Policy")["inputs"]["policy"])["Statement"]
    by_action = {tuple(s["Action"]): s for s in users}
    stop = by_action[("batch:CancelJob", "batch:TerminateJob")]
    assert stop["Condition"] == {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": "hw-dev"}}
    assert by_action[("batch:TagResource",)]["Condition"] == {
        "StringEquals": {f"aws:RequestTag/{STACK_TAG}": "hw-dev"}}
    assert json.loads(inventory.profile["METAFLOW_BATCH_DEFAULT_TAGS"]) == {STACK_TAG: "hw-dev"}
    assert inventory.profile["METAFLOW_BATCH_EMIT_TAGS"] == "true"
    logs = by_action[("logs:GetLogEvents",)]["Resource"]
    assert logs == ["arn:aws:logs:eu-west-1:123456789012:log-group:/headwater/hw-dev/batch"
                    ":log-stream:*"]
    assert inventory.profile["METAFLOW_BATCH_LOG_GROUP"] == "/headwater/hw-dev/batch"


def test_jobs_are_submitted_with_the_stacks_definitions_and_log_to_its_group(stack):
    """SubmitJob names the stack's queue and the definitions the runtime names after it
    (headwater.compute.batch.job_definition); the execution role writes to the stack's own
    log group, which the stack creates with a retention and the profile names."""
    from headwater.compute.batch import job_definition, queue_name
    from headwater.settings import Settings

    inventory = stack("aws-dev")
    policy = json.loads(inventory.one("aws:iam/policy:Policy")["inputs"]["policy"])
    submit = [s for s in policy["Statement"] if s["Action"] == ["batch:SubmitJob"]][0]
    queue = inventory.profile["METAFLOW_BATCH_JOB_QUEUE"]
    definition_pattern = [r for r in submit["Resource"] if ":job-definition/" in r][0]
    assert submit["Resource"] == [queue, definition_pattern]
    settings = Settings(env={"METAFLOW_BATCH_JOB_QUEUE": queue})
    resolved = {"queue": queue, "cpu": 1, "memory": 4096, "gpu": 0, "image": "img",
                "iam_role": None, "execution_role": None, "ephemeral_storage": None,
                "efs_volumes": None}
    name = job_definition("TrainFlow", resolved, settings, "FARGATE")["jobDefinitionName"]
    arn = f"arn:aws:batch:eu-west-1:123456789012:job-definition/{name}:3"
    assert fnmatch.fnmatchcase(arn, definition_pattern)
    assert definition_pattern.endswith(f"job-definition/{queue_name(queue)}_*")
    execution = [r for r in inventory.of_type("aws:iam/rolePolicy:RolePolicy")
                 if r["name"] == "batch-execution-role-logs"][0]
    [logs] = json.loads(execution["inputs"]["policy"])["Statement"]
    group = inventory.named("batch-logs")
    assert group["inputs"]["name"] == inventory.profile["METAFLOW_BATCH_LOG_GROUP"]
    assert group["inputs"]["retentionInDays"] == 30
    assert logs["Resource"] == [
        f"arn:aws:logs:eu-west-1:123456789012:log-group:{group['inputs']['name']}:*"]


# --- 5. NetworkPolicy on EKS ------------------------------------------------------------------

def test_eks_enforces_network_policy(stack):
    inventory = stack("aws-prod")
    addon = inventory.one("aws:eks/addon:Addon")["inputs"]
    assert addon["addonName"] == "vpc-cni"
    assert json.loads(addon["configurationValues"]) == {"enableNetworkPolicy": "true"}
    for group in inventory.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert "cluster-vpc-cni" in group["dependsOn"]  # nodes join with the agent on
    assert inventory.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")


# --- 6. prod data resources are protected -------------------------------------------------------

DATA = {"azure": [AZ + "storage:StorageAccount", AZ + "keyvault:Vault",
                  AZ + "dbforpostgresql:Server"],
        "aws": ["aws:s3/bucket:Bucket", "aws:rds/instance:Instance"]}


@pytest.mark.parametrize("label", FULL)
def test_prod_data_resources_are_protected(stack, label):
    inventory = stack(label)
    cloud, env = label.split("-")
    for kind in DATA[cloud]:
        found = inventory.of_type(kind)
        assert found, kind
        for resource in found:
            assert resource["protect"] is (env == "prod"), (label, resource["name"])
    # Only the data: the rest of a prod stack can still be replaced.
    assert not [r for r in inventory.custom() if r["protect"] and r["type"] not in DATA[cloud]]


def _ecs_listener(inventory):
    listener = inventory.one("aws:lb/listener:Listener")["inputs"]
    assert (listener["port"], listener["protocol"]) == (443, "HTTPS")
    assert listener["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    group = inventory.named("metadata-lb-sg")["inputs"]["ingress"]
    assert [(r["fromPort"], r["toPort"]) for r in group] == [(443, 443)]  # no plain HTTP
    assert inventory.one("aws:lb/loadBalancer:LoadBalancer")["inputs"]["internal"] is True
    return listener


@pytest.mark.parametrize("label", ["aws-dev", "aws-sandbox"])
def test_ecs_service_serves_only_https_by_default_from_the_stacks_ca(stack, label):
    """Without a certificate of the team's, the internal load balancer serves one the
    stack's CA signed for its DNS name (imported into ACM); the profile carries the CA."""
    inventory = stack(label)
    listener = _ecs_listener(inventory)
    imported = inventory.one("aws:acm/certificate:Certificate")
    assert listener["certificateArn"].startswith("arn:aws:acm:")
    assert "4dabf18193072939515e22adb298388d" in json.dumps(imported["inputs"]["privateKey"])
    request = inventory.one("tls:index/certRequest:CertRequest")["inputs"]
    url = inventory.profile["METAFLOW_SERVICE_URL"]
    assert url.startswith("https://internal-") and url.endswith(".elb.amazonaws.com")
    assert request["dnsNames"] == [url.removeprefix("https://")]
    assert inventory.profile["METAFLOW_SERVICE_INTERNAL_URL"] == url
    ca = inventory.one("tls:index/selfSignedCert:SelfSignedCert")
    assert ca["inputs"]["isCaCertificate"] is True
    assert imported["inputs"]["certificateChain"] == \
        inventory.profile["METAFLOW_SERVICE_CA_CERT"]
    for value in inventory.profile.values():
        assert "PRIVATE KEY" not in value


def test_ecs_service_serves_only_https_with_a_certificate(stack):
    from .conftest import CERTIFICATE

    inventory = stack("aws-tls")
    assert _ecs_listener(inventory)["certificateArn"] == CERTIFICATE
    assert not inventory.of_type("aws:acm/certificate:Certificate")
    assert inventory.profile["METAFLOW_SERVICE_URL"] == "https://metadata.hw-dev.example.com"
    assert inventory.profile["METAFLOW_SERVICE_INTERNAL_URL"] == \
        "https://metadata.hw-dev.example.com"
    assert "METAFLOW_SERVICE_CA_CERT" not in inventory.profile  # publicly trusted


@pytest.mark.parametrize("label", ["azure-dev", "azure-prod", "aws-prod"])
def test_the_service_on_kubernetes_serves_only_tls_from_the_stacks_ca(stack, label):
    inventory = stack(label)
    service = inventory.one("kubernetes:core/v1:Service")["inputs"]["spec"]
    assert service["ports"] == [{"name": "https", "port": 443, "targetPort": "https",
                                 "protocol": "TCP"}]
    pod = inventory.one("kubernetes:apps/v1:Deployment")["inputs"]["spec"]["template"]["spec"]
    command = pod["containers"][0]["command"]
    assert "--ssl-certfile" in command and "--ssl-keyfile" in command
    secret = [r for r in inventory.of_type("kubernetes:core/v1:Secret")
              if r["inputs"]["metadata"]["name"] == LAYOUT.tls_secret][0]["inputs"]
    assert secret["metadata"]["namespace"] == LAYOUT.service_namespace
    assert secret["type"] == "kubernetes.io/tls"
    assert "4dabf18193072939515e22adb298388d" in json.dumps(secret["stringData"])  # a secret
    request = inventory.one("tls:index/certRequest:CertRequest")["inputs"]
    host = LAYOUT.service_host()
    assert host in request["dnsNames"]
    if label.startswith("azure"):  # the internal load balancer's fixed address
        assert request["ipAddresses"] == [inventory.profile["METAFLOW_SERVICE_URL"]
                                          .removeprefix("https://"), "127.0.0.1"]
    else:  # the name the NLB reports
        assert inventory.profile["METAFLOW_SERVICE_URL"].removeprefix("https://") in \
            request["dnsNames"]
    ca = inventory.one("tls:index/selfSignedCert:SelfSignedCert")
    assert ca["inputs"]["isCaCertificate"] is True
    profile = inventory.profile
    assert profile["METAFLOW_SERVICE_URL"].startswith("https://")
    assert profile["METAFLOW_SERVICE_INTERNAL_URL"] == f"https://{host}"
    assert profile["METAFLOW_SERVICE_CA_CERT"].startswith("-----BEGIN CERTIFICATE-----")
    for value in profile.values():
        assert "PRIVATE KEY" not in value
