"""The example flows with a remote datastore: Azure Blob on Azurite and S3 on moto server.

Each flow runs as a user runs it (``python examples/X.py run`` in a subprocess; the tasks
are forked from the scheduler, so every task process rebuilds its SDK clients), with the
datastore chosen by environment settings only; results are read back through the Client
API, which finds each task's datastore from its ``ds-type``/``ds-root`` metadata. Metadata
stays local (the service has its own tests).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater import Flow, default_namespace
from headwater.datastore import get_backend
from headwater.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FAULTS_FLOW = Path(__file__).resolve().parents[1] / "runtime" / "flows" / "faults_flow.py"


@pytest.fixture(params=["azure", "s3"])
def remote(request, monkeypatch, hw_env):
    """Point the runs (and this process's Client API) at a fresh remote root."""
    if request.param == "azure":
        azurite = request.getfixturevalue("azurite")
        container = azurite.new_container()
        monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "azure")
        monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_AZURE", f"{container}/flows")
        monkeypatch.setenv("METAFLOW_AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    else:
        moto = request.getfixturevalue("aws_env")
        bucket = request.getfixturevalue("s3_bucket")
        monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "s3")
        monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_S3", f"s3://{bucket}/flows")
        monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", moto.endpoint_url)
    default_namespace()
    return get_backend(Settings())


@pytest.fixture
def example(run_flow, tmp_path):
    def run(name, *args, **kwargs):
        return run_flow(EXAMPLES / name, *args, cwd=tmp_path, **kwargs)

    return run


def assert_stored_remotely(backend, flow_name, hw_env):
    keys = backend.list(f"{flow_name}/")
    assert any("/data/" in k for k in keys), "no artifact blobs in the remote store"
    assert any(k.endswith(".index.json") for k in keys)
    assert not (Path(hw_env) / flow_name / "data").exists(), "artifacts went to local disk"


def test_hello_flow(remote, example, hw_env):
    example("hello_flow.py", "run", "--message", "remote hello")
    run = Flow("HelloFlow").latest_run
    assert run.successful and run.data.processed_data == [0, 1, 4, 9, 16]
    start = run["start"].task
    assert start.data.system_info["message"] == "remote hello"
    assert "Message: remote hello" in start.stdout  # logs live in the remote store too
    assert_stored_remotely(remote, "HelloFlow", hw_env)


def test_parallel_foreach_flow(remote, example, hw_env):
    example("parallel_foreach_flow.py", "run", "--n-datasets", "5", "--max-sleep", "0",
            "--max-workers", "3")
    run = Flow("ParallelProcessingFlow").latest_run
    assert run.successful
    results = [t.data.analysis_result for t in run["process_dataset"]]
    assert sorted(r["position"] for r in results) == list(range(5))
    assert run.data.summary["total_datasets"] == 5
    assert_stored_remotely(remote, "ParallelProcessingFlow", hw_env)


def test_conditional_branching_flow(remote, example, hw_env):
    example("conditional_branching_flow.py", "run", "--quality-score", "0.3")
    run = Flow("ConditionalBranchingFlow").latest_run
    assert run.successful
    assert run.data.final_result["processing_method"] == "cleaned_then_standard"


def test_retry_catch_flow(remote, example, hw_env):
    example("retry_catch_flow.py", "run")
    run = Flow("RobustFlow").latest_run
    assert run.successful
    fetch = run["fetch_external_data"].task
    assert fetch.data.fetch_attempts == 2 and fetch.stdout.strip() == "attempt 2"
    assert run.data.summary["transform_failed"]


@pytest.mark.slow
def test_config_flow(remote, example, hw_env):
    example("config_flow.py", "run")
    run = Flow("ConfigurableMLFlow").latest_run
    assert run.successful
    model = run["train_model"].task.data.model
    assert model.n_estimators == 20 and run["train_model"].task.data.train_accuracy > 0.9


@pytest.mark.slow
def test_ml_flow(remote, example, hw_env):
    example("ml_flow.py", "run", "--n-samples", "2000")
    run = Flow("ProductionMLFlow").latest_run
    assert run.successful
    model = run["train_model"].task.data.model
    X_test = run["preprocess_data"].task.data.X_test
    assert list(model.predict(X_test)) == list(run["evaluate_model"].task.data.test_predictions)
    assert_stored_remotely(remote, "ProductionMLFlow", hw_env)


@pytest.mark.slow
def test_kill_9_then_resume(remote, run_flow, hw_env, tmp_path):
    """A task killed mid-run, then ``resume``: earlier tasks are cloned by reference and
    nothing the failed run stored in the remote store changes."""
    marker = tmp_path / "fixed"
    failed = run_flow(FAULTS_FLOW, "run", "--fail", "kill", "--marker", marker, check=False,
                      cwd=tmp_path)
    assert failed.returncode == 1 and "SIGKILL" in failed.stderr
    origin = Flow("FaultsFlow").latest_run
    before = {k: remote.get_bytes(k) for k in remote.list("FaultsFlow/")}
    marker.touch()
    run_flow(FAULTS_FLOW, "resume", cwd=tmp_path)
    run = Flow("FaultsFlow").latest_run
    assert run.id != origin.id and run.successful
    assert run.data.after == "done" and run.data.big == list(range(1000))
    assert run["start"].task.artifacts.big.sha == origin["start"].task.artifacts.big.sha
    after = {k: remote.get_bytes(k) for k in remote.list("FaultsFlow/")}
    assert [k for k, data in before.items() if after.get(k) != data] == []
