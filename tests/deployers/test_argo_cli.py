"""``argo-workflows create|trigger|list-runs|delete`` through the official kubernetes client
against the Kubernetes API stand-in (tests/compute/kube_standin.py), which stores Argo's
custom objects as an API server with the Argo CRDs installed would (validated with Argo's
own models, 409 on a duplicate, replace with the stored resourceVersion). What this proves:
the objects reach the API as the compiler made them, updates replace in place, a Workflow
submitted from the template names it and carries the parameters, delete removes template and
schedule. What it does not: an Argo controller running the workflow (test_argo_run.py runs
the compiled workflow's tasks here)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .flows import SHAPES

GROUP = ("argoproj.io", "v1alpha1")


@pytest.fixture
def kube_api(tmp_path, monkeypatch):
    from tests.compute.kube_standin import KubernetesStandIn

    api = KubernetesStandIn(str(tmp_path / "pods"), {})
    monkeypatch.setenv("KUBECONFIG", api.write_kubeconfig(str(tmp_path / "kubeconfig")))
    try:
        yield api
    finally:
        api.stop()


def test_the_kubeconfig_is_read_when_the_client_is_made(kube_api, monkeypatch, tmp_path):
    """The kubernetes package reads $KUBECONFIG once, when imported: a process that imported
    it earlier (a notebook, another test in this worker) must still reach the cluster the
    variable names now."""
    import kubernetes.config.kube_config as kube_config

    from headwater.deployers.argo_client import GROUP, VERSION, custom_objects_api

    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "gone"))
    api = custom_objects_api()
    assert api.list_namespaced_custom_object(GROUP, VERSION, "flows",
                                             "workflowtemplates")["items"] == []


def test_create_trigger_list_delete(kube_api, flow_file, shared_s3_env):
    source = SHAPES["linear"].replace(
        "class LinearFlow", "@schedule(cron='0 3 * * *')\nclass LinearFlow"
    ).replace("import FlowSpec", "import FlowSpec, schedule")
    path = flow_file(source)

    def cli(*args):
        proc = subprocess.run([sys.executable, str(path), "argo-workflows", *args],
                              env=dict(os.environ), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    out = cli("create", "--namespace", "flows")
    assert "Applied WorkflowTemplate flows/linearflow" in out
    assert "Applied CronWorkflow flows/linearflow" in out
    stored = kube_api.custom_objects[("flows", "workflowtemplates", "linearflow")]
    first_version = stored["metadata"]["resourceVersion"]
    cli("create", "--namespace", "flows")  # again: replaced in place
    stored = kube_api.custom_objects[("flows", "workflowtemplates", "linearflow")]
    assert stored["metadata"]["resourceVersion"] != first_version
    assert len([k for k in kube_api.custom_objects if k[1] == "workflowtemplates"]) == 1
    started = cli("trigger", "--namespace", "flows", "--alpha", "7")
    name = started.split()[1]
    assert f"run LinearFlow/argo-{name}" in started
    workflow = kube_api.custom_objects[("flows", "workflows", name)]
    assert workflow["spec"]["workflowTemplateRef"] == {"name": "linearflow"}
    assert workflow["spec"]["arguments"]["parameters"] == [{"name": "alpha", "value": "7"}]
    assert f"argo-{name}" in cli("list-runs", "--namespace", "flows")
    assert "Deleted CronWorkflow, WorkflowTemplate linearflow" in cli("delete", "--namespace",
                                                                      "flows")
    assert not [k for k in kube_api.custom_objects if k[1] != "workflows"]


def test_no_cluster_is_one_clear_line(flow_file, shared_s3_env, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    proc = subprocess.run([sys.executable, str(flow_file("linear")), "argo-workflows", "create"],
                          env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "no Kubernetes cluster configured" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture
def shared_s3_env(service_metadata_env, aws_env, s3_bucket, monkeypatch):
    monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "s3")
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_S3", f"s3://{s3_bucket}/flows")
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", aws_env.endpoint_url)
    monkeypatch.setenv("METAFLOW_KUBERNETES_CONTAINER_IMAGE", "registry.example/hw:1")
    yield


@pytest.mark.slow
def test_create_snapshots_pypi_environments(kube_api, flow_file, shared_s3_env, tmp_path,
                                            monkeypatch):
    """``argo-workflows create`` resolves and snapshots a @pypi step's environment in the
    shared datastore, so the pods build it from the snapshot (the Step Functions test runs
    such a task with no package index); a second create finds the snapshot."""
    from headwater.datastore import get_backend
    from headwater.environments.spec import EnvironmentSpec
    from headwater.environments.snapshot import SnapshotStore
    from headwater.settings import Settings

    from .flows import PYPI

    monkeypatch.setenv("HEADWATER_ENV_CACHE", str(tmp_path / "env-cache"))
    path = flow_file(PYPI)

    def create() -> str:
        proc = subprocess.run([sys.executable, str(path), "argo-workflows", "create",
                               "--namespace", "flows"], env=dict(os.environ),
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    assert "Resolving environment for step(s) start" in create()
    store = SnapshotStore(get_backend(Settings()))
    assert store.lock_for(EnvironmentSpec.build("pypi", None, {"six": "1.16.0"})) is not None
    assert "from the snapshot (no resolution)" in create()
