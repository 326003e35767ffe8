"""Fixtures for remote compute tests.

- ``kube`` (function): the Kubernetes API stand-in (``kube_standin.py``) with a kubeconfig
  pointing at it in ``$KUBECONFIG``; its pods run with this machine's Python as the image
  (``PATH``/``PYTHONPATH`` of the test process), so they import this checkout's headwater.
- ``shared`` (function, parametrised azure / s3): a shared datastore (Azurite or moto S3)
  and the metadata service on Postgres, set in the environment as a profile would; the
  storage credential lives only in the stand-in's Secret ``headwater-task-env``, which the
  Jobs mount with ``envFrom`` (``METAFLOW_KUBERNETES_SECRETS``), as on a real cluster.
"""

from __future__ import annotations

import os
import sys

import pytest

from .kube_standin import KubernetesStandIn

TASK_IMAGE = "headwater-task:test"


@pytest.fixture
def kube(tmp_path, monkeypatch):
    image_env = {"PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
                 "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
                 "HOME": str(tmp_path / "pod-home"), "LANG": "C.UTF-8"}
    (tmp_path / "pod-home").mkdir()
    (tmp_path / "pods").mkdir()
    api = KubernetesStandIn(str(tmp_path / "pods"), image_env)
    monkeypatch.setenv("KUBECONFIG", api.write_kubeconfig(str(tmp_path / "kubeconfig")))
    monkeypatch.setenv("METAFLOW_KUBERNETES_CONTAINER_IMAGE", TASK_IMAGE)
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture(params=["azure", "s3"])
def shared(request, monkeypatch, service_metadata_env, kube):
    secret: dict[str, str] = {}
    if request.param == "azure":
        azurite = request.getfixturevalue("azurite")
        container = azurite.new_container()
        monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "azure")
        monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_AZURE", f"{container}/flows")
        monkeypatch.setenv("METAFLOW_AZURE_STORAGE_CONNECTION_STRING",
                           azurite.connection_string)
        secret["METAFLOW_AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
    else:
        moto = request.getfixturevalue("aws_env")
        bucket = request.getfixturevalue("s3_bucket")
        monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "s3")
        monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_S3", f"s3://{bucket}/flows")
        monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", moto.endpoint_url)
        secret.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    kube.secrets[("default", "headwater-task-env")] = secret
    monkeypatch.setenv("METAFLOW_KUBERNETES_SECRETS", "headwater-task-env")
    from headwater import default_namespace

    default_namespace()
    return request.param
