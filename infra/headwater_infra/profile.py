"""The client profile a stack exports: stack outputs in, Metaflow-named settings out.

The profile is the contract between the infrastructure and every client (Headwater and an
unmodified Metaflow). It names where things are (endpoints, containers, queues, roles) and
never holds a secret: clients authenticate through their cloud identity, so a profile can be
printed, committed and shared. The metadata service's API key is named, not given:
``METAFLOW_SERVICE_AUTH_SECRET_ID`` is where it is (a Key Vault secret identifier or a
Secrets Manager ARN), which clients read with their own identity.

Values are the ones stock Metaflow accepts: the Key Vault backend is ``az-key-vault`` (its
name in Metaflow), tolerations are a JSON list of Kubernetes tolerations, tags a JSON
object. ``check_profile`` enforces that on every profile built here,
with the same rules ``headwater configure import`` applies on the way in.

The builders take plain strings; stacks call them through ``profile_output`` once the
resources' outputs are known. The datastore keys come from one function per cloud
(``azure_datastore``, ``s3_datastore``), which also gives the metadata service the settings
its UI reads the datastore with (``service_datastore_env``), so the two never disagree.
``METAFLOW_UI_URL`` is ``<service url>/ui/``: Metaflow prints links as
``<UI_URL>/<flow>/<run>``, which is the UI's own address for a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from headwater.cli.configure import profile_problems

__all__ = ["KubernetesProfile", "azure_profile", "aws_profile", "check_profile",
           "profile_output", "azure_datastore", "s3_datastore", "service_datastore_env",
           "AZURE_SECRETS_BACKEND", "AUTH_SECRET_ID_KEY", "CA_CERT_KEY"]

# Metaflow's name for the Key Vault secrets backend (Headwater accepts it too).
AZURE_SECRETS_BACKEND = "az-key-vault"
# Where clients find the service's API key (the key itself stays in the secret store).
AUTH_SECRET_ID_KEY = "METAFLOW_SERVICE_AUTH_SECRET_ID"
# The CA certificate (public) that signed the service's certificate, as PEM.
CA_CERT_KEY = "METAFLOW_SERVICE_CA_CERT"


@dataclass(frozen=True)
class KubernetesProfile:
    """What tasks launched on the cluster (``@kubernetes``, Argo Workflows) need to know."""

    namespace: str
    service_account: str
    secrets: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    gpu_vendor: str | None = None
    argo_ui_url: str | None = None
    tolerations: list[dict[str, str]] = field(default_factory=list)

    def keys(self, image: str) -> dict[str, str | None]:
        secrets = ",".join(self.secrets) or None
        return {
            "METAFLOW_KUBERNETES_NAMESPACE": self.namespace,
            "METAFLOW_KUBERNETES_SERVICE_ACCOUNT": self.service_account,
            "METAFLOW_KUBERNETES_SECRETS": secrets,
            "METAFLOW_KUBERNETES_CONTAINER_IMAGE": image,
            "METAFLOW_KUBERNETES_LABELS": ",".join(f"{k}={v}" for k, v in
                                                   sorted(self.labels.items())) or None,
            "METAFLOW_KUBERNETES_GPU_VENDOR": self.gpu_vendor,
            "METAFLOW_KUBERNETES_TOLERATIONS": json.dumps(self.tolerations, sort_keys=True)
            if self.tolerations else None,
            "METAFLOW_ARGO_WORKFLOWS_KUBERNETES_SECRETS": secrets,
            "METAFLOW_ARGO_WORKFLOWS_UI_URL": self.argo_ui_url,
        }


def azure_datastore(*, blob_endpoint: str, artifact_root: str,
                    card_root: str) -> dict[str, str]:
    """The Azure Blob datastore's keys."""
    return {"METAFLOW_DEFAULT_DATASTORE": "azure",
            "METAFLOW_DATASTORE_SYSROOT_AZURE": artifact_root,
            "METAFLOW_CARD_AZUREROOT": card_root,
            "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT": blob_endpoint.rstrip("/")}


def s3_datastore(*, bucket: str) -> dict[str, str]:
    """The S3 datastore's keys."""
    return {"METAFLOW_DEFAULT_DATASTORE": "s3",
            "METAFLOW_DATASTORE_SYSROOT_S3": f"s3://{bucket}/artifacts",
            "METAFLOW_CARD_S3ROOT": f"s3://{bucket}/cards"}


def service_datastore_env(builder: Callable[..., dict[str, str]],
                          extra: dict[str, Any] | None = None, **inputs: Any) -> dict[str, Any]:
    """The environment (key -> Pulumi output) that lets the metadata service's UI read the
    datastore ``builder(**inputs)`` describes, plus ``extra`` (e.g. the AWS region)."""
    import pulumi

    keys = builder(**{name: "x" for name in inputs})  # the key set, without waiting
    values = pulumi.Output.all(**inputs).apply(lambda known: builder(**known))
    return {**{key: values.apply(lambda v, key=key: v[key]) for key in keys},
            **(extra or {})}


def azure_profile(*, blob_endpoint: str, artifact_root: str, card_root: str, vault_uri: str,
                  service_url: str, service_internal_url: str, registry: str,
                  task_image: str, kubernetes: KubernetesProfile,
                  auth_secret_id: str | None = None,
                  service_ca_cert: str | None = None) -> dict[str, str]:
    """Profile for the Azure stack: Blob datastore, metadata service, Key Vault, AKS/Argo."""
    return _finish({
        **azure_datastore(blob_endpoint=blob_endpoint, artifact_root=artifact_root,
                          card_root=card_root),
        **_service_keys(service_url, service_internal_url, auth_secret_id, service_ca_cert),
        "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE": AZURE_SECRETS_BACKEND,
        "METAFLOW_AZURE_KEY_VAULT_PREFIX": vault_uri.rstrip("/"),
        "METAFLOW_DEFAULT_CONTAINER_REGISTRY": registry,
        "METAFLOW_DEFAULT_CONTAINER_IMAGE": task_image,
        **kubernetes.keys(task_image),
    })


def aws_profile(*, bucket: str, region: str, service_url: str, service_internal_url: str,
                registry: str, task_image: str, batch_job_queue: str, task_role_arn: str,
                execution_role_arn: str, sfn_role_arn: str, events_role_arn: str,
                dynamo_table: str, state_machine_prefix: str, sfn_log_group_arn: str,
                batch_log_group: str, stack_tag: dict[str, str],
                kubernetes: KubernetesProfile | None = None,
                auth_secret_id: str | None = None,
                service_ca_cert: str | None = None) -> dict[str, str]:
    """Profile for the AWS stack: S3 datastore, metadata service, Secrets Manager, Batch,
    Step Functions, and the Kubernetes keys when the stack runs on EKS. Batch jobs carry
    ``stack_tag`` (the users' policy lets them stop only jobs with it) and log to the
    stack's own ``batch_log_group``."""
    return _finish({
        **s3_datastore(bucket=bucket),
        **_service_keys(service_url, service_internal_url, auth_secret_id, service_ca_cert),
        "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE": "aws-secrets-manager",
        "METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION": region,
        "METAFLOW_DEFAULT_CONTAINER_REGISTRY": registry,
        "METAFLOW_DEFAULT_CONTAINER_IMAGE": task_image,
        "METAFLOW_BATCH_JOB_QUEUE": batch_job_queue,
        "METAFLOW_BATCH_CONTAINER_REGISTRY": registry,
        "METAFLOW_BATCH_CONTAINER_IMAGE": task_image,
        "METAFLOW_BATCH_EMIT_TAGS": "true",
        "METAFLOW_BATCH_DEFAULT_TAGS": json.dumps(stack_tag, sort_keys=True),
        "METAFLOW_BATCH_LOG_GROUP": batch_log_group,
        "METAFLOW_ECS_S3_ACCESS_IAM_ROLE": task_role_arn,
        "METAFLOW_ECS_FARGATE_EXECUTION_ROLE": execution_role_arn,
        "METAFLOW_SFN_IAM_ROLE": sfn_role_arn,
        "METAFLOW_EVENTS_SFN_ACCESS_IAM_ROLE": events_role_arn,
        "METAFLOW_SFN_DYNAMO_DB_TABLE": dynamo_table,
        "METAFLOW_SFN_STATE_MACHINE_PREFIX": state_machine_prefix,
        "METAFLOW_SFN_EXECUTION_LOG_GROUP_ARN": sfn_log_group_arn,
        **(kubernetes.keys(task_image) if kubernetes else {}),
    })


def _service_keys(service_url: str, service_internal_url: str, auth_secret_id: str | None,
                  service_ca_cert: str | None) -> dict[str, str | None]:
    return {
        "METAFLOW_DEFAULT_METADATA": "service",
        "METAFLOW_SERVICE_URL": service_url,
        "METAFLOW_SERVICE_INTERNAL_URL": service_internal_url,
        "METAFLOW_UI_URL": f"{service_url.rstrip('/')}/ui/",
        AUTH_SECRET_ID_KEY: auth_secret_id,
        CA_CERT_KEY: service_ca_cert,
    }


def check_profile(profile: dict[str, str]) -> dict[str, str]:
    """Raise ``ValueError`` if ``profile`` holds a secret or a malformed value."""
    problems = profile_problems(profile)
    if problems:
        raise ValueError("the stack would export a bad profile: " + "; ".join(problems))
    return profile


def _finish(keys: dict[str, str | None]) -> dict[str, str]:
    return check_profile({k: v for k, v in sorted(keys.items()) if v not in (None, "")})


def profile_output(builder: Callable[..., dict[str, str]], **inputs: Any):
    """``builder(**inputs)`` once every input (a value or a Pulumi output) is known."""
    import pulumi

    return pulumi.Output.all(**inputs).apply(lambda values: builder(**values))
