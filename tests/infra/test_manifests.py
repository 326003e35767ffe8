"""In-cluster objects against the real Kubernetes 1.30 schema (kubernetes-validate, strict:
unknown fields are errors), and what they promise: probes, migrations, least privilege."""

from __future__ import annotations

import tomllib
from pathlib import Path

import kubernetes_validate
import pytest

from headwater_infra.kubernetes import manifests
from headwater_infra.kubernetes.manifests import ClusterLayout, Resources


VERSION = "1.30"
LAYOUT = ClusterLayout()
IMAGE = "hwdevabc123.azurecr.io/headwater-service:0.1.0"


def validate(obj: dict) -> None:
    try:
        kubernetes_validate.validate(obj, VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{obj['kind']} {obj['metadata'].get('name')}: {exc.message} at "
                    f"{'/'.join(map(str, exc.path))}", pytrace=False)


def every_manifest() -> list[dict]:
    return [
        manifests.namespace(LAYOUT, "dev"),
        manifests.service_namespace(LAYOUT, "dev"),
        manifests.service_account(LAYOUT, LAYOUT.task_service_account,
                                  {"azure.workload.identity/client-id": "0000-1111"}),
        manifests.service_account(LAYOUT, LAYOUT.service_service_account,
                                  {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"},
                                  namespace=LAYOUT.service_namespace),
        manifests.database_secret(LAYOUT, "postgresql://u:p@h:5432/d?sslmode=require"),
        manifests.service_auth_secret(LAYOUT, "session-secret-value"),
        manifests.service_tls_secret(LAYOUT, "-----BEGIN CERTIFICATE-----\n...",
                                     "-----BEGIN PRIVATE KEY-----\n..."),
        manifests.task_env_secret(LAYOUT),
        manifests.metadata_deployment(LAYOUT, IMAGE, 2, Resources(cpu_limit="1"),
                                      {"azure.workload.identity/use": "true"},
                                      {"METAFLOW_DEFAULT_DATASTORE": "azure"}),
        manifests.metadata_service(LAYOUT, {
            "service.beta.kubernetes.io/azure-load-balancer-internal": "true"}),
        manifests.metadata_disruption_budget(LAYOUT),
        manifests.metadata_network_policy(LAYOUT, ["10.40.0.0/16"]),
        manifests.migration_job(LAYOUT, IMAGE, "0.1.0"),
        manifests.workflow_role(LAYOUT),
        manifests.workflow_role_binding(LAYOUT),
        manifests.users_role(LAYOUT),
        manifests.users_role_binding(LAYOUT, "0e2c-group-id"),
    ]


@pytest.mark.parametrize("obj", every_manifest(), ids=lambda o: o["kind"])
def test_manifest_is_valid_kubernetes(obj):
    validate(obj)


def test_validation_is_strict():
    """The check above can fail: a misspelt field is caught."""
    broken = manifests.metadata_deployment(LAYOUT, IMAGE)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSION, strict=True)


def _ints(value):
    """Pulumi's wire format carries every number as a float; Kubernetes wants integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def _unwrap(value):
    """Drop Pulumi's secret markers, keeping the value."""
    if isinstance(value, dict):
        if "4dabf18193072939515e22adb298388d" in value:
            return _unwrap(value["value"])
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


@pytest.mark.parametrize("label", ["azure-dev", "aws-prod"])
def test_what_the_stacks_send_to_kubernetes_is_valid(stack, label):
    inventory = stack(label)
    objects = [_ints(_unwrap(r["inputs"])) for r in inventory.custom()
               if r["type"].startswith("kubernetes:") and "/v1:" in r["type"]]
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(["Namespace", "Namespace", "ServiceAccount", "ServiceAccount",
                            "Secret", "Secret", "Secret", "Secret", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy",
                            "Job", "Role", "RoleBinding"]
                           + (["Role", "RoleBinding"] if label == "aws-prod" else []))
    for obj in objects:
        validate(obj)


def test_metadata_deployment_runs_the_service_with_probes():
    deployment = manifests.metadata_deployment(LAYOUT, IMAGE)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert deployment["spec"]["replicas"] == 2
    command = container["command"]
    assert command[:3] == ["uvicorn", "headwater_service.app:create_app", "--factory"]
    assert command[command.index("--ssl-certfile") + 1] == "/etc/headwater/tls/tls.crt"
    assert command[command.index("--ssl-keyfile") + 1] == "/etc/headwater/tls/tls.key"
    assert command[command.index("--port") + 1] == "8080"
    # The image installs headwater[service]: uvicorn's CLI with httptools and uvloop.
    extras = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml")
                           .read_text())["project"]["optional-dependencies"]
    assert any(d.startswith("uvicorn[standard]") for d in extras["service"])
    assert container["livenessProbe"]["httpGet"] == {"path": "/ping", "port": "https",
                                                     "scheme": "HTTPS"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert {"name": "tls", "secret": {"secretName": "headwater-metadata-tls",
                                      "defaultMode": 0o440}} in pod["volumes"]
    assert container["env"] == [
        {"name": "HEADWATER_DATABASE_URL", "valueFrom": {
            "secretKeyRef": {"name": "headwater-database", "key": "url"}}},
        {"name": "HEADWATER_UI_SESSION_SECRET", "valueFrom": {
            "secretKeyRef": {"name": "headwater-service-auth", "key": "ui-session"}}}]
    # Plain settings (where the keys are, the UI's datastore) follow, sorted; never a value
    # from a secret.
    env = manifests.metadata_deployment(LAYOUT, IMAGE, environment={
        "METAFLOW_DEFAULT_DATASTORE": "azure",
        "HEADWATER_SERVICE_API_KEYS_SECRET_ID": "https://v.vault.azure.net/secrets/k"})[
        "spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[2:] == [
        {"name": "HEADWATER_SERVICE_API_KEYS_SECRET_ID",
         "value": "https://v.vault.azure.net/secrets/k"},
        {"name": "METAFLOW_DEFAULT_DATASTORE", "value": "azure"}]
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
    assert pod["serviceAccountName"] == LAYOUT.service_service_account
    # Restricted pod security.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_migration_job_upgrades_explicitly_once_per_version():
    job = manifests.migration_job(LAYOUT, IMAGE, "0.2.0-rc.1")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["headwater-service", "db", "upgrade"]
    assert job["metadata"]["name"] == "headwater-db-upgrade-0-2-0-rc-1"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert manifests.migration_job_name("0.1.0") != manifests.migration_job_name("0.2.0")
    assert len(manifests.migration_job_name("v" + "9" * 80)) <= 63


def test_service_is_internal_only_and_pods_admit_only_the_private_network():
    policy = manifests.metadata_network_policy(LAYOUT, ["10.40.0.0/16"])
    sources = policy["spec"]["ingress"][0]["from"]
    assert sources == [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "headwater"}}}, {"ipBlock": {"cidr": "10.40.0.0/16"}}]
    assert policy["metadata"]["namespace"] == "headwater-service"
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_roles_grant_only_what_argo_and_users_need():
    executor = manifests.workflow_role(LAYOUT)["rules"]
    assert executor == [{"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"],
                         "verbs": ["create", "patch"]}]
    users = manifests.users_role(LAYOUT)["rules"]
    resources = {r for rule in users for r in rule["resources"]}
    assert "secrets" not in resources and "roles" not in resources
    assert all("*" not in rule["verbs"] for rule in users)


def test_argo_values_watch_only_the_headwater_namespace():
    values = manifests.argo_values(LAYOUT)
    assert values["controller"]["workflowNamespaces"] == ["headwater"]
    assert values["server"]["authModes"] == ["client"]
    assert values["workflow"]["serviceAccount"]["create"] is False


def test_layout_names_are_checked():
    with pytest.raises(ValueError, match="not a valid Kubernetes name"):
        ClusterLayout(task_service_account="Tasks")
    assert ClusterLayout().subject("x") == "system:serviceaccount:headwater:x"
