"""@kubernetes without a cluster: attribute resolution (decorator > profile, sizes combined
with @resources), the generated Job validated against the Kubernetes 1.30 schema with
``kubernetes_validate`` (strict: unknown fields fail), no secret value in any manifest, and
the errors a user gets before anything is submitted. What this does not prove: that a
cluster accepts the Job beyond its schema (admission webhooks, quotas)."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest

from headwater.compute.errors import (ClusterUnreachable, KubernetesObjectMissing,
                                      RemoteDatastoreRequired)
from headwater.compute.kubernetes import KubernetesCompute, job_manifest, job_name
from headwater.decorators.base import DecoratorError
from headwater.decorators.kubernetes import KubernetesDecorator
from headwater.decorators.resources import ResourcesDecorator
from headwater.package import CodePackage
from headwater.settings import Settings
from headwater.task import InputRef, TaskSpec

from .bridge import start_run

POD_FLOW = Path(__file__).parent / "flows" / "pod_flow.py"
PACKAGE = CodePackage("ab" * 32, "PodFlow/code/ab/abab.tar.gz", 1234, "0.1.0", "pod_flow.py")
AZURE_PROFILE = {
    "METAFLOW_DEFAULT_DATASTORE": "azure", "METAFLOW_DEFAULT_METADATA": "service",
    "METAFLOW_DATASTORE_SYSROOT_AZURE": "artifacts/flows",
    "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT": "https://acct.blob.core.windows.net",
    "METAFLOW_SERVICE_URL": "https://metadata.example.com",
    "METAFLOW_SERVICE_INTERNAL_URL": "http://headwater-metadata.headwater.svc.cluster.local",
    "METAFLOW_SERVICE_AUTH_KEY": "s3cr3t-api-key",
    "METAFLOW_AZURE_STORAGE_CONNECTION_STRING": "AccountKey=s3cr3t-account-key",
    "METAFLOW_KUBERNETES_NAMESPACE": "headwater",
    "METAFLOW_KUBERNETES_SERVICE_ACCOUNT": "headwater-tasks",
    "METAFLOW_KUBERNETES_SECRETS": "headwater-task-env",
    "METAFLOW_KUBERNETES_CONTAINER_IMAGE": "hwacr.azurecr.io/headwater-task:0.1.0",
    "METAFLOW_KUBERNETES_LABELS": "azure.workload.identity/use=true",
    "METAFLOW_KUBERNETES_GPU_VENDOR": "nvidia",
}


def _spec(step="train", attempt=0):
    return TaskSpec("PodFlow", "17", step, "42", attempt, [InputRef("start", "41", 0)],
                    user="tester")


def _job(attrs=None, resources=None, profile=AZURE_PROFILE, timeout=None, spec=None):
    settings = Settings(env=dict(profile))
    deco = KubernetesDecorator(attrs or {})
    deco.step_init(None, None, "train")
    decorators = [deco] + ([ResourcesDecorator(resources)] if resources is not None else [])
    resolved = deco.resolve(settings, decorators)
    job = job_manifest(spec or _spec(), PACKAGE, settings, resolved, timeout)
    kubernetes_validate.validate(job, "1.30", strict=True)
    return job


def test_profile_defaults_and_workload_identity():
    """Namespace, service account, image, envFrom secret and the workload-identity label
    come from the profile; the task reaches the service at its in-cluster URL."""
    job = _job()
    pod = job["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert job["metadata"]["namespace"] == "headwater"
    assert pod["spec"]["serviceAccountName"] == "headwater-tasks"
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert container["image"] == "hwacr.azurecr.io/headwater-task:0.1.0"
    assert container["envFrom"] == [{"secretRef": {"name": "headwater-task-env"}}]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["METAFLOW_SERVICE_URL"] == AZURE_PROFILE["METAFLOW_SERVICE_INTERNAL_URL"]
    assert env["METAFLOW_DEFAULT_DATASTORE"] == "azure"
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["ttlSecondsAfterFinished"] > 0
    assert pod["spec"]["restartPolicy"] == "Never"
    assert container["command"][:3] == ["python", "-m", "headwater.compute.container"]


def test_no_secret_value_in_any_manifest():
    """The profile-shaped environment here holds an auth key and a connection string
    (as a developer's shell might): neither appears anywhere in the Job."""
    text = json.dumps(_job({"secrets": ["more-creds"], "gpu": 1, "use_tmpfs": True}))
    assert "s3cr3t" not in text
    assert '"more-creds"' in text


def test_resources_are_the_larger_of_both():
    """@kubernetes(cpu=2, memory=1000) with @resources(cpu=4, memory=500): cpu 4 and memory
    1000 (as Metaflow does); disk defaults to 10240 MB."""
    job = _job({"cpu": 2, "memory": 1000}, resources={"cpu": 4, "memory": 500})
    res = job["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert res["requests"] == {"cpu": "4", "memory": "1000M", "ephemeral-storage": "10240M"}
    assert res["limits"] == {"memory": "1000M"}
    fractional = _job({"cpu": 0.5})
    assert fractional["spec"]["template"]["spec"]["containers"][0]["resources"][
        "requests"]["cpu"] == "500m"


def test_gpus_tolerations_selectors_volumes():
    """A GPU request adds the vendor's limit and the toleration of the stacks' GPU taint;
    node selector, user tolerations, tmpfs, shared memory and PVCs are all valid Job
    fields."""
    job = _job({"gpu": 2, "node_selector": {"agentpool": "gpu"}, "use_tmpfs": True,
                "tmpfs_size": 512, "shared_memory": 256, "image_pull_policy": "Always",
                "persistent_volume_claims": {"data-claim": "/data"},
                "tolerations": [{"key": "pool", "operator": "Equal", "value": "ml",
                                 "effect": "NoSchedule"}],
                "labels": {"team": "ml"}, "annotations": {"owner": "ml@example.com"}},
               timeout=3600)
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in \
        pod["tolerations"]
    assert pod["nodeSelector"] == {"agentpool": "gpu"}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"/metaflow_temp", "/dev/shm", "/data"}
    assert job["spec"]["activeDeadlineSeconds"] == 3600
    amd = _job({"gpu": 1, "gpu_vendor": "amd"})
    assert "amd.com/gpu" in amd["spec"]["template"]["spec"]["containers"][0]["resources"][
        "limits"]


def test_job_names_are_valid_and_unique_per_attempt():
    """Long flow and step names still give a 63-character DNS name; attempts differ."""
    long = TaskSpec("AVeryLongFlowNameThatGoesOnAndOn_" * 2, "123456", "a_step_" * 8, "99", 0,
                    [])
    names = {job_name(long), job_name(TaskSpec(**{**long.__dict__, "attempt": 1}))}
    assert len(names) == 2 and all(len(n) <= 63 for n in names)
    _job(spec=long)


@pytest.mark.parametrize("attrs, message", [
    ({"cpu": "lots"}, "must be a non-negative number"),
    ({"gpu": 1.5}, "whole GPUs"),
    ({"gpu_vendor": "intel"}, "is not supported"),
    ({"image_pull_policy": "Sometimes"}, "is not a pull policy"),
    ({"tolerations": "pool=ml"}, "must be a list of dicts"),
    ({"persistent_volume_claims": {"claim": "data"}}, "absolute paths"),
])
def test_bad_attributes_are_one_line_errors(attrs, message):
    """Wrong attribute values are DecoratorErrors at step_init (before a run exists)."""
    with pytest.raises(DecoratorError, match=message):
        KubernetesDecorator(attrs).step_init(None, None, "train")


def test_no_image_anywhere_is_an_error():
    """Without an image in the decorator or the profile, resolving says which key to
    set."""
    with pytest.raises(DecoratorError, match="METAFLOW_KUBERNETES_CONTAINER_IMAGE is not set"):
        KubernetesDecorator().resolve(Settings(env={}), [])


def test_local_datastore_is_refused_before_anything_starts():
    """Compute.check refuses local storage: nothing is created in the cluster."""
    with pytest.raises(RemoteDatastoreRequired, match="the datastore is local"):
        start_run(POD_FLOW, KubernetesCompute)


def test_local_metadata_is_refused(monkeypatch, azurite):
    """A shared datastore with local metadata is refused too (the task could not record
    itself)."""
    monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "azure")
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_AZURE", f"{azurite.new_container()}/flows")
    monkeypatch.setenv("METAFLOW_AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    with pytest.raises(RemoteDatastoreRequired, match="metadata is local"):
        start_run(POD_FLOW, KubernetesCompute)


@pytest.fixture
def remote_settings(monkeypatch, azurite, service_metadata_env):
    container = azurite.new_container()
    monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "azure")
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_AZURE", f"{container}/flows")
    monkeypatch.setenv("METAFLOW_AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.setenv("METAFLOW_KUBERNETES_CONTAINER_IMAGE", "headwater-task:test")


def test_no_kubeconfig(remote_settings, monkeypatch, tmp_path):
    """No kubeconfig and not in a pod: one line saying how to get credentials."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ClusterUnreachable, match="no Kubernetes cluster configured") as info:
        start_run(POD_FLOW, KubernetesCompute)
    assert "aks get-credentials" in info.value.fix


def test_cluster_unreachable(remote_settings, monkeypatch, tmp_path):
    """A kubeconfig whose server does not answer: one line naming the server."""
    from tests.fixtures.azurite import free_port

    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{free_port()}"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(path))
    with pytest.raises(ClusterUnreachable, match="is unreachable"):
        start_run(POD_FLOW, KubernetesCompute)


def test_namespace_and_service_account_missing(remote_settings, kube, monkeypatch):
    """Against the stand-in: a missing namespace or service account is named before any
    Job is created; once they exist the check passes and submits nothing."""
    monkeypatch.setenv("METAFLOW_KUBERNETES_NAMESPACE", "nowhere")
    with pytest.raises(KubernetesObjectMissing, match="namespace 'nowhere' does not exist"):
        start_run(POD_FLOW, KubernetesCompute)
    monkeypatch.setenv("METAFLOW_KUBERNETES_NAMESPACE", "default")
    monkeypatch.setenv("METAFLOW_KUBERNETES_SERVICE_ACCOUNT", "headwater-tasks")
    with pytest.raises(KubernetesObjectMissing, match="service account 'headwater-tasks'"):
        start_run(POD_FLOW, KubernetesCompute)
    kube.service_accounts.add(("default", "headwater-tasks"))
    start_run(POD_FLOW, KubernetesCompute)
    assert not kube.accepted  # check submits nothing
