"""Deployer tests: shared-mode settings (the deployers refuse local mode) and helpers that
compile a flow the way a user does (``python flow.py argo-workflows create --only-json``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .flows import SHAPES

IMAGE = "registry.example/headwater-task:1"


def shared_env(**extra: str) -> dict[str, str]:
    env = {"METAFLOW_DEFAULT_DATASTORE": "s3", "METAFLOW_DATASTORE_SYSROOT_S3": "s3://bucket/flows",
           "METAFLOW_DEFAULT_METADATA": "service", "METAFLOW_SERVICE_URL": "http://service:8080",
           "METAFLOW_KUBERNETES_CONTAINER_IMAGE": IMAGE,
           "METAFLOW_KUBERNETES_NAMESPACE": "flows"}
    env.update(extra)
    return env


@pytest.fixture
def flow_file(tmp_path):
    def write(shape_or_source: str, name: str = "flow.py") -> Path:
        source = SHAPES.get(shape_or_source, shape_or_source)
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def compile_argo(monkeypatch):
    def run(path: Path, *args: str, env: dict[str, str] | None = None, check: bool = True):
        import os

        full = dict(os.environ)
        full.update(env if env is not None else shared_env())
        proc = subprocess.run([sys.executable, str(path), "argo-workflows", "create",
                               "--only-json", *args], env=full, capture_output=True, text=True,
                              timeout=60)
        if not check:
            return proc
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        return out if isinstance(out, list) else [out]

    return run


def upload_code_package(path: Path) -> None:
    """Store the flow's code package as ``create`` would (``--only-json`` uploads nothing);
    the package is deterministic, so it is the one the compiled commands name."""
    import importlib.util

    from headwater.compute.base import ComputeContext
    from headwater.flowspec import FlowSpec
    from headwater.package import package_for_run
    from headwater.settings import Settings
    from headwater.datastore import get_backend
    from headwater.metadata import get_provider
    from headwater.task import RunEnvironment

    spec = importlib.util.spec_from_file_location(f"deployed_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    flow_cls = next(v for v in vars(module).values() if isinstance(v, type)
                    and issubclass(v, FlowSpec) and v is not FlowSpec)
    settings = Settings()
    env = RunEnvironment(settings, get_backend(settings), get_provider(settings))
    package_for_run(ComputeContext(flow_cls, None, env, str(path), {}))
