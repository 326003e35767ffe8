"""The examples in shared mode: ``python examples/X.py run`` with
``METAFLOW_DEFAULT_METADATA=service`` against the live service (local datastore in a
temporary folder), results read back through ``headwater.Flow``; plus a failure and a
``resume`` whose origin run is read back from the service."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from headwater import Flow, default_namespace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def shared_mode(service_metadata_env):
    """Every test here runs flows and reads runs through the service."""
    default_namespace()
    yield service_metadata_env


@pytest.fixture
def example(run_flow, tmp_path):
    def run(name: str, *args, check: bool = True):
        return run_flow(EXAMPLES / name, *args, check=check, cwd=tmp_path)

    return run


def recorded_in_service(service, flow: str, run_id: str) -> dict:
    """The run as the service holds it, and proof nothing went to local metadata files."""
    with httpx.Client(base_url=service.url) as api:
        run = api.get(f"/flows/{flow}/runs/{run_id}")
        assert run.status_code == 200, run.text
        steps = {s["step_name"] for s in api.get(f"/flows/{flow}/runs/{run_id}/steps").json()}
    return {"run": run.json(), "steps": steps}


def no_local_metadata(sysroot: Path, flow: str) -> bool:
    return not list((sysroot / flow).glob("**/_meta")) if (sysroot / flow).exists() else True


def test_hello_flow(example, shared_mode, hw_env):
    proc = example("hello_flow.py", "run", "--tag", "smoke")
    assert "service@" in proc.stderr  # the run says where its records go
    run = Flow("HelloFlow").latest_run
    assert run.successful and run.finished
    assert run.data.processed_data == [0, 1, 4, 9, 16]
    start = run["start"].task
    assert start.data.message == "Hello Headwater!"
    assert "Message: Hello Headwater!" in start.stdout
    assert "smoke" in run.tags
    stored = recorded_in_service(shared_mode, "HelloFlow", run.id)
    assert stored["steps"] == {"_parameters", "start", "process", "end"}
    assert "smoke" in stored["run"]["tags"]
    assert no_local_metadata(hw_env, "HelloFlow")
    # a task record's heartbeat is set when it is created; the task's own thread beats
    # from the end of the first interval on (a short task sends none)
    with httpx.Client(base_url=shared_mode.url) as api:
        for step in ("start", "process", "end"):
            task = api.get(f"/flows/HelloFlow/runs/{run.id}/steps/{step}/tasks/"
                           f"{run[step].task.id}").json()
            assert task["last_heartbeat_ts"] >= run.created_at.timestamp() - 60, task


def test_parallel_foreach(example, shared_mode):
    example("parallel_foreach_flow.py", "run", "--n-datasets", "5", "--max-sleep", "0.05",
            "--max-workers", "3")
    run = Flow("ParallelProcessingFlow").latest_run
    assert run.successful
    tasks = list(run["process_dataset"])
    assert len(tasks) == 5
    assert sorted(t.data.analysis_result["position"] for t in tasks) == list(range(5))
    joined = run["join_results"].task.data.all_results
    assert [r["position"] for r in joined] == list(range(5))
    assert run.data.summary["total_datasets"] == 5


@pytest.mark.parametrize("score,taken", [(0.9, "high_quality_processing"),
                                         (0.3, "data_cleaning_required")])
def test_conditional_branching(example, score, taken):
    example("conditional_branching_flow.py", "run", "--quality-score", str(score))
    run = Flow("ConditionalBranchingFlow").latest_run
    assert run.successful
    branches = {"high_quality_processing", "standard_processing", "data_cleaning_required"}
    assert {s.id for s in run} & branches == {taken}


def test_retry_and_catch(example, shared_mode):
    example("retry_catch_flow.py", "run")
    run = Flow("RobustFlow").latest_run
    assert run.successful
    fetch = run["fetch_external_data"].task
    assert fetch.data.fetch_attempts == 2  # the artifacts of the latest attempt
    assert run.data.summary["data_source"] == "external_api"
    with httpx.Client(base_url=shared_mode.url) as api:
        rows = api.get(f"/flows/RobustFlow/runs/{run.id}/steps/fetch_external_data/tasks/"
                       f"{fetch.id}/metadata").json()
    assert sorted(int(r["value"]) for r in rows if r["field_name"] == "attempt") == [0, 1]


@pytest.mark.slow
def test_config_flow(example):
    example("config_flow.py", "run")
    run = Flow("ConfigurableMLFlow").latest_run
    assert run.successful
    assert run["start"].task.data.model_config == {"type": "random_forest",
                                                   "n_estimators": 20, "max_depth": 4}
    assert run["train_model"].task.data.model.n_estimators == 20


@pytest.mark.slow
def test_ml_flow(example):
    example("ml_flow.py", "run", "--n-samples", "2000")
    run = Flow("ProductionMLFlow").latest_run
    assert run.successful
    metrics = run["evaluate_model"].task.data.metrics
    assert 0.8 < metrics["test_accuracy"] <= 1.0
    model = run["train_model"].task.data.model
    X_test = run["preprocess_data"].task.data.X_test
    assert list(model.predict(X_test)) == list(run["evaluate_model"].task.data.test_predictions)


@pytest.mark.slow
def test_a_failed_run_is_recorded_and_resumed_from_the_service(example, shared_mode):
    proc = example("ml_flow.py", "run", "--model-type", "xgboost", "--n-samples", "500",
                   check=False)
    assert proc.returncode != 0 and "Unsupported model type" in proc.stdout + proc.stderr
    failed = Flow("ProductionMLFlow").latest_run
    assert not failed.successful
    assert "train_model" in {s.id for s in failed}
    assert "evaluate_model" not in {s.id for s in failed}

    # resume reads the origin run's tasks and attempts from the service; the parameters are
    # the origin's, so the same step fails again, after the earlier steps were cloned
    again = example("ml_flow.py", "resume", "--origin-run-id", failed.id, check=False)
    assert again.returncode != 0
    resumed = Flow("ProductionMLFlow").latest_run
    assert resumed.id != failed.id
    origin_prep = failed["preprocess_data"].task
    cloned_prep = resumed["preprocess_data"].task
    assert cloned_prep.data.preprocessing_stats == origin_prep.data.preprocessing_stats
    assert cloned_prep.metadata_dict.get("origin-run-id") == failed.id
