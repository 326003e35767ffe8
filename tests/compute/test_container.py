"""The container entry point and the two functions backends and deployers share. What
this proves: the environment carries profile keys only (never a secret), the command is
what the entry point parses, and a version mismatch between the image and the package is
one clear line in the Job's outcome and in the attempt's stored log. What it does not: a
real image build (tests/infra check the Dockerfile)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from headwater.compute.container import (CONTAINER_KEYS, _parse, container_command,
                                         container_environment)
from headwater.compute.kubernetes import KubernetesCompute
from headwater.datastore.task_store import TaskDataStore
from headwater.package import CodePackage
from headwater.settings import SECRET_KEYS, Settings
from headwater.task import InputRef, TaskSpec

from .bridge import start_run
from .test_kubernetes_standin import _drain

POD_FLOW = Path(__file__).parent / "flows" / "pod_flow.py"


def test_environment_has_profile_keys_only():
    """container_environment copies profile keys only: secret keys present in the
    environment never reach a Job, and tasks get the in-cluster service URL."""
    env = {key: "x" for key in SECRET_KEYS}
    env.update({"METAFLOW_DEFAULT_DATASTORE": "s3", "METAFLOW_DATASTORE_SYSROOT_S3": "s3://b/p",
                "METAFLOW_SERVICE_URL": "https://public", "HOME": "/root",
                "METAFLOW_SERVICE_INTERNAL_URL": "http://internal"})
    out = container_environment(Settings(env=env))
    assert not set(out) & SECRET_KEYS
    assert set(out) - {"PYTHONUNBUFFERED"} <= set(CONTAINER_KEYS)
    assert out["METAFLOW_SERVICE_URL"] == "http://internal"
    assert out["METAFLOW_DATASTORE_SYSROOT_S3"] == "s3://b/p" and "HOME" not in out


def test_command_is_what_the_entry_point_parses():
    """container_command round-trips through the entry point's own argument parser (the
    spec, --with options and config paths arrive intact)."""
    package = CodePackage("cd" * 32, "F/code/cd/x.tar.gz", 1, "0.1.0", "sub/flow.py")
    spec = TaskSpec("F", "3", "train", "7", 1, [InputRef("start", "6", 0)], user="u")
    command = container_command(package, spec, ["retry:times=2"], {"cfg": "config.toml"})
    args = _parse(command[3:])
    assert (args.package_key, args.package_sha, args.flow_file) == (
        package.key, package.sha, "sub/flow.py")
    assert args.with_specs == ["retry:times=2"] and args.configs == [["cfg", "config.toml"]]
    assert TaskSpec.from_json(__import__("json").loads(args.spec)) == spec


@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_version_mismatch_in_the_image(shared, kube):
    """A package made by another headwater version: the container refuses before running
    the step; the Job's outcome and the stored stderr log say so in one line."""
    ctx, spec = start_run(POD_FLOW, KubernetesCompute)
    backend = KubernetesCompute(ctx)
    backend.package = dataclasses.replace(backend.code_package(), headwater_version="0.0.9")
    try:
        backend.start(spec, None)
        exited = _drain(backend)[-1]
    finally:
        backend.close()
    assert exited.result is None
    assert "Headwater version mismatch in the image: the image has headwater 0.1.0, but the " \
           "code package was made by headwater 0.0.9" in exited.reason, exited.reason
    store = TaskDataStore(ctx.env.backend, spec.flow_name, spec.run_id, "start", spec.task_id)
    assert "Headwater version mismatch" in store.load_log(0, "stderr")


def test_decorators_and_entry_point_stay_light():
    """Declaring @kubernetes/@batch and loading the entry point, the package module and
    the errors import no cloud SDK (they load when a backend starts); in a fresh
    interpreter, so earlier imports in this process cannot hide one."""
    import subprocess
    import sys

    code = ("import sys, headwater.decorators.kubernetes, headwater.decorators.batch, "
            "headwater.compute.container, headwater.compute.errors, headwater.package\n"
            "heavy = [m for m in ('kubernetes', 'boto3', 'botocore', 'azure') "
            "if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
