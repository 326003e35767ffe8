"""The in-cluster objects as plain dicts, shared by the AKS and EKS stacks.

Functions, not resources: tests validate every object offline against the Kubernetes
schema (``kubernetes_validate``, strict), and the components in this package hand the same
dicts to ``pulumi_kubernetes``. Nothing here imports Pulumi.

Two namespaces: the flows' namespace (tasks, Argo workflows, what users may create pods
in) and the service's namespace (the metadata service and everything holding its
credentials: the database URL, the API keys), where no user or task role grants anything,
so no user's pod can mount the service's secrets.

Pods run as a non-root user with a read-only root file system, no privilege escalation,
all capabilities dropped and the runtime's default seccomp profile: the ``restricted`` Pod
Security Standard (the namespace enforces ``baseline``, since user tasks may need more).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ClusterLayout", "Resources", "SERVICE_PORT", "argo_values", "database_secret",
    "metadata_deployment", "metadata_disruption_budget", "metadata_network_policy",
    "metadata_service", "migration_job", "migration_job_name", "namespace", "service_account",
    "service_auth_secret", "service_namespace", "service_tls_secret", "task_env_secret",
    "GPU_TOLERATION", "TLS_DIR", "users_role", "users_role_binding", "workflow_role",
    "workflow_role_binding",
]

SERVICE_PORT = 8080          # the port the service listens on in the pod (HTTPS)
TLS_DIR = "/etc/headwater/tls"
SESSION_SECRET_KEY = "ui-session"  # in layout.auth_secret: HEADWATER_UI_SESSION_SECRET
METADATA_APP = "headwater-metadata"
# What a pod needs to land on a GPU node (both clusters taint their GPU nodes so).
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present",
                  "effect": "NoSchedule"}
_PART_OF = {"app.kubernetes.io/part-of": "headwater",
            "app.kubernetes.io/managed-by": "pulumi"}


@dataclass(frozen=True)
class ClusterLayout:
    """Names inside the cluster that both the cloud identities (federated credentials, IRSA
    trust) and the Kubernetes objects must agree on."""

    namespace: str = "headwater"                  # flows: tasks, Argo workflows, users
    service_namespace: str = "headwater-service"  # the metadata service and its secrets
    task_service_account: str = "headwater-tasks"
    service_service_account: str = "headwater-metadata"
    task_secret: str = "headwater-task-env"
    database_secret: str = "headwater-database"
    auth_secret: str = "headwater-service-auth"
    tls_secret: str = "headwater-metadata-tls"

    def __post_init__(self) -> None:
        if self.namespace == self.service_namespace:
            raise ValueError("namespace and serviceNamespace must differ: users may create "
                             "pods in the flows' namespace, which must not hold the "
                             "service's secrets")
        for value in (self.namespace, self.service_namespace, self.task_service_account,
                      self.service_service_account, self.task_secret, self.database_secret,
                      self.auth_secret, self.tls_secret):
            if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", value):
                raise ValueError(f"{value!r} is not a valid Kubernetes name (lowercase "
                                 f"letters, digits and '-', at most 63)")

    def subject(self, service_account: str, namespace: str | None = None) -> str:
        """The token subject a service account's pods present to the cloud (in the flows'
        namespace unless ``namespace`` says otherwise)."""
        return f"system:serviceaccount:{namespace or self.namespace}:{service_account}"

    def service_subject(self) -> str:
        return self.subject(self.service_service_account, self.service_namespace)

    def service_host(self) -> str:
        return f"{METADATA_APP}.{self.service_namespace}.svc.cluster.local"


@dataclass(frozen=True)
class Resources:
    """Requests and limits of one container."""

    cpu: str = "250m"
    memory: str = "512Mi"
    cpu_limit: str | None = None   # no CPU limit by default: throttling hurts latency
    memory_limit: str = "1Gi"

    def to_dict(self) -> dict[str, Any]:
        limits = {"memory": self.memory_limit}
        if self.cpu_limit:
            limits["cpu"] = self.cpu_limit
        return {"requests": {"cpu": self.cpu, "memory": self.memory}, "limits": limits}


def _meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None,
          annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**_PART_OF, **(labels or {})}}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def namespace(layout: ClusterLayout, environment: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": _meta(layout.namespace, labels={
            "headwater.dev/environment": environment,
            # Service pods meet "restricted"; user tasks may need more (GPU drivers), so
            # enforce "baseline" and warn on anything below "restricted".
            "pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/warn": "restricted",
        }),
    }


def service_namespace(layout: ClusterLayout, environment: str) -> dict[str, Any]:
    """The service's namespace: only the service's own pods, which meet "restricted"."""
    return {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": _meta(layout.service_namespace, labels={
            "headwater.dev/environment": environment,
            "pod-security.kubernetes.io/enforce": "restricted",
        }),
    }


def service_account(layout: ClusterLayout, name: str,
                    annotations: dict[str, str] | None = None,
                    labels: dict[str, str] | None = None,
                    namespace: str | None = None) -> dict[str, Any]:
    """A service account (in the flows' namespace unless ``namespace`` says otherwise);
    ``annotations``/``labels`` bind it to a cloud identity
    (``azure.workload.identity/client-id`` or ``eks.amazonaws.com/role-arn``)."""
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": _meta(name, namespace or layout.namespace, labels, annotations)}


def database_secret(layout: ClusterLayout, database_url: str) -> dict[str, Any]:
    """The metadata service's connection string (holds the password: a Pulumi secret)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": _meta(layout.database_secret, layout.service_namespace),
            "stringData": {"url": database_url}}


def service_auth_secret(layout: ClusterLayout, session_secret: str) -> dict[str, Any]:
    """What signs the UI's session cookies (a Pulumi secret; its record is in the cloud's
    secret store). The API keys are not here: the service reads them from the secret store
    at start (``HEADWATER_SERVICE_API_KEYS_SECRET_ID``)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": _meta(layout.auth_secret, layout.service_namespace),
            "stringData": {SESSION_SECRET_KEY: session_secret}}


def task_env_secret(layout: ClusterLayout) -> dict[str, Any]:
    """An empty secret mounted into every task as environment variables: where an admin
    puts values tasks need but a profile must not hold (``METAFLOW_SERVICE_AUTH_KEY``)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": _meta(layout.task_secret, layout.namespace)}


def service_tls_secret(layout: ClusterLayout, certificate: str, key: str) -> dict[str, Any]:
    """The service's certificate and key (the key is a Pulumi secret)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": _meta(layout.tls_secret, layout.service_namespace),
            "stringData": {"tls.crt": certificate, "tls.key": key}}


def _restricted_container(name: str, image: str, command: list[str], layout: ClusterLayout,
                          resources: Resources) -> dict[str, Any]:
    env = [{"name": "HEADWATER_DATABASE_URL", "valueFrom": {"secretKeyRef": {
        "name": layout.database_secret, "key": "url"}}}]
    return {
        "name": name,
        "image": image,
        "command": command,
        "env": env,
        "resources": resources.to_dict(),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def _restricted_pod(layout: ClusterLayout, containers: list[dict[str, Any]],
                    **extra: Any) -> dict[str, Any]:
    return {
        "serviceAccountName": layout.service_service_account,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                            "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": containers,
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
        **extra,
    }


def metadata_deployment(layout: ClusterLayout, image: str, replicas: int = 2,
                        resources: Resources = Resources(),
                        pod_labels: dict[str, str] | None = None,
                        environment: dict[str, str] | None = None) -> dict[str, Any]:
    """The metadata service: ``replicas`` pods serving HTTPS (the certificate in
    ``layout.tls_secret``) behind probes on ``/ping`` (alive) and ``/ready`` (database
    reachable and schema current), rolled one pod at a time. ``environment`` holds plain
    settings only (where the API keys are, the UI's datastore); the UI's session secret
    comes from ``layout.auth_secret``.

    uvicorn is started directly, with the options ``headwater-service serve`` uses, because
    ``serve`` has no TLS options; the service reads its settings from the environment
    either way."""
    selector = {"app.kubernetes.io/name": METADATA_APP}
    container = _restricted_container(
        "metadata", image,
        ["uvicorn", "headwater_service.app:create_app", "--factory",
         "--host", "0.0.0.0", "--port", str(SERVICE_PORT),
         "--ssl-certfile", f"{TLS_DIR}/tls.crt", "--ssl-keyfile", f"{TLS_DIR}/tls.key",
         "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--no-server-header",
         "--timeout-keep-alive", "30", "--backlog", "2048"],
        layout, resources)
    container["env"] += [{"name": "HEADWATER_UI_SESSION_SECRET", "valueFrom": {"secretKeyRef": {
        "name": layout.auth_secret, "key": SESSION_SECRET_KEY}}}]
    container["env"] += [{"name": k, "value": v} for k, v in sorted((environment or {}).items())]
    container["ports"] = [{"name": "https", "containerPort": SERVICE_PORT, "protocol": "TCP"}]
    container["volumeMounts"].append({"name": "tls", "mountPath": TLS_DIR, "readOnly": True})
    container["livenessProbe"] = {"httpGet": {"path": "/ping", "port": "https",
                                              "scheme": "HTTPS"},
                                  "initialDelaySeconds": 10, "periodSeconds": 10,
                                  "timeoutSeconds": 3, "failureThreshold": 3}
    container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": "https",
                                               "scheme": "HTTPS"},
                                   "periodSeconds": 5, "timeoutSeconds": 3,
                                   "failureThreshold": 2}
    pod = _restricted_pod(layout, [container], topologySpreadConstraints=[{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": selector}}])
    pod["volumes"].append({"name": "tls", "secret": {"secretName": layout.tls_secret,
                                                     "defaultMode": 0o440}})
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(METADATA_APP, layout.service_namespace, selector),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": {**selector, **(pod_labels or {})}},
                         "spec": pod},
        },
    }


def metadata_service(layout: ClusterLayout,
                     annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """Port 443 in front of the pods (TLS passes through to them): a private (internal)
    load balancer for clients in the network, and the cluster DNS name for tasks.
    Cloud-specific ``annotations`` make the load balancer internal."""
    spec: dict[str, Any] = {
        "type": "LoadBalancer",
        "selector": {"app.kubernetes.io/name": METADATA_APP},
        "ports": [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}],
    }
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _meta(METADATA_APP, layout.service_namespace,
                              {"app.kubernetes.io/name": METADATA_APP}, annotations),
            "spec": spec}


def metadata_disruption_budget(layout: ClusterLayout) -> dict[str, Any]:
    """Keep one pod serving while nodes are drained (cluster upgrades)."""
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": _meta(METADATA_APP, layout.service_namespace),
            "spec": {"minAvailable": 1,
                     "selector": {"matchLabels": {"app.kubernetes.io/name": METADATA_APP}}}}


def metadata_network_policy(layout: ClusterLayout, client_cidrs: list[str]) -> dict[str, Any]:
    """Only pods of the flows' namespace (tasks, Argo workflows) and clients in
    ``client_cidrs`` (the private network) reach the service's pods, and only on its port."""
    sources: list[dict[str, Any]] = [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": layout.namespace}}}]
    sources += [{"ipBlock": {"cidr": cidr}} for cidr in client_cidrs]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _meta(METADATA_APP, layout.service_namespace),
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": METADATA_APP}},
                     "policyTypes": ["Ingress"],
                     "ingress": [{"from": sources,
                                  "ports": [{"port": SERVICE_PORT, "protocol": "TCP"}]}]}}


def migration_job_name(version: str) -> str:
    """One Job per service version: a new version creates (and runs) a new Job."""
    slug = re.sub(r"[^a-z0-9]+", "-", version.lower()).strip("-")
    return f"headwater-db-upgrade-{slug}"[:63].rstrip("-")


def migration_job(layout: ClusterLayout, image: str, version: str,
                  resources: Resources = Resources(cpu="100m", memory="256Mi",
                                                   memory_limit="512Mi"),
                  pod_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Runs ``headwater-service db upgrade`` once for ``version``. The service never
    upgrades its schema by itself; the upgrade runs in one transaction, so a retry after a
    failure starts from the old schema."""
    container = _restricted_container("db-upgrade", image,
                                      ["headwater-service", "db", "upgrade"], layout, resources)
    pod = _restricted_pod(layout, [container], restartPolicy="Never")
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": _meta(migration_job_name(version), layout.service_namespace,
                          {"app.kubernetes.io/name": "headwater-db-upgrade",
                           "app.kubernetes.io/version": version[:63]}),
        "spec": {"backoffLimit": 1, "activeDeadlineSeconds": 900,
                 "template": {"metadata": {"labels": {
                     "app.kubernetes.io/name": "headwater-db-upgrade", **(pod_labels or {})}},
                     "spec": pod}},
    }


def workflow_role(layout: ClusterLayout) -> dict[str, Any]:
    """What an Argo Workflows step pod's executor may do: report its results, nothing more."""
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": _meta("headwater-workflow-executor", layout.namespace),
            "rules": [{"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"],
                       "verbs": ["create", "patch"]}]}


def workflow_role_binding(layout: ClusterLayout) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": _meta("headwater-workflow-executor", layout.namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                        "name": "headwater-workflow-executor"},
            "subjects": [{"kind": "ServiceAccount", "name": layout.task_service_account,
                          "namespace": layout.namespace}]}


def argo_values(layout: ClusterLayout) -> dict[str, Any]:
    """Helm values for the argo-workflows chart: the controller watches the Headwater
    namespace only, the UI needs a client token (no anonymous access) and stays inside the
    cluster, and the workflow service account and RBAC are ours (above), not the chart's."""
    return {
        "singleNamespace": False,
        "controller": {"workflowNamespaces": [layout.namespace]},
        "workflow": {"serviceAccount": {"create": False}, "rbac": {"create": False}},
        "server": {"authModes": ["client"], "serviceType": "ClusterIP"},
        "crds": {"install": True, "keep": True},
    }


def users_role(layout: ClusterLayout) -> dict[str, Any]:
    """What data scientists may do in the namespace: run tasks (`@kubernetes` Jobs), deploy
    and trigger flows on Argo Workflows, read pods and logs. No secrets, no RBAC."""
    manage = ["create", "get", "list", "watch", "update", "patch", "delete"]
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": _meta("headwater-users", layout.namespace),
            "rules": [
                {"apiGroups": [""], "resources": ["pods", "pods/log", "events"],
                 "verbs": ["get", "list", "watch"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]},
                {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": manage},
                {"apiGroups": ["argoproj.io"],
                 "resources": ["workflows", "workflowtemplates", "cronworkflows"],
                 "verbs": manage},
                {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"],
                 "verbs": ["get", "list", "watch"]},
            ]}


def users_role_binding(layout: ClusterLayout, group: str) -> dict[str, Any]:
    """Bind ``users_role`` to a group as the API server sees it (an Entra ID group's object
    id on AKS, an access entry's Kubernetes group on EKS)."""
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": _meta("headwater-users", layout.namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                        "name": "headwater-users"},
            "subjects": [{"kind": "Group", "name": group,
                          "apiGroup": "rbac.authorization.k8s.io"}]}
