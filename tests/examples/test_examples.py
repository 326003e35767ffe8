"""Every flow in ``examples/`` runs as a user would run it (``python examples/X.py run`` in a
subprocess, local mode, in a temporary sysroot and ``METAFLOW_HOME`` set up by the ``hw_env``
fixture) and its results are read back through the Client API."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from headwater import Flow, default_namespace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FLOW_FILES = sorted(EXAMPLES.glob("*.py"))


@pytest.fixture(autouse=True)
def user_namespace(hw_env):
    """Read runs in the test user's namespace, whatever an earlier test selected."""
    default_namespace()
    yield


@pytest.fixture
def example(run_flow, tmp_path):
    """``example("hello_flow.py", "run", ...)``: run an example from a scratch directory, so
    nothing is written beside the repository's files."""

    def run(name: str, *args, check: bool = True, **kwargs):
        return run_flow(EXAMPLES / name, *args, check=check, cwd=tmp_path, **kwargs)

    return run


def failed_clearly(proc, *fragments: str) -> str:
    """Assert a command failed and its output contains every one of ``fragments``; return
    the output (callers check for tracebacks where none may be shown)."""
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output}"
    return output


# --- every example --------------------------------------------------------------------------

def test_every_example_is_documented_and_listed():
    listed = (EXAMPLES / "README.md").read_text()
    assert FLOW_FILES, "no examples found"
    for path in FLOW_FILES:
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and f"python examples/{path.name} run" in doc, path.name
        assert f"`{path.name}`" in listed, f"{path.name} missing from examples/README.md"


@pytest.mark.parametrize("path", FLOW_FILES, ids=[p.stem for p in FLOW_FILES])
def test_every_example_passes_check(example, path):
    proc = example(path.name, "check")
    assert "Traceback" not in proc.stdout + proc.stderr


# --- hello_flow.py --------------------------------------------------------------------------

def test_hello_flow_passes_artifacts_between_steps(example):
    proc = example("hello_flow.py", "run")
    assert "Done: 5 items processed" in proc.stdout
    run = Flow("HelloFlow").latest_run
    assert run.successful and run.finished
    assert [s.id for s in run] and {s.id for s in run} == {"start", "process", "end"}
    assert run.data.processed_data == [0, 1, 4, 9, 16]
    start = run["start"].task
    assert start.data.message == "Hello Headwater!"
    assert start.data.system_info["message"] == "Hello Headwater!"
    assert "Message: Hello Headwater!" in start.stdout
    assert run["end"].task.data.system_info == start.data.system_info


def test_hello_flow_takes_its_message_from_the_command_line(example, tmp_path):
    example("hello_flow.py", "run", "--message", "hi from a test",
            "--tag", "smoke", "--run-id-file", tmp_path / "run-id")
    run = Flow("HelloFlow")[(tmp_path / "run-id").read_text().strip()]
    assert run.data.message == "hi from a test"
    assert run["end"].task.data.system_info["message"] == "hi from a test"
    assert "smoke" in run.tags
    assert Flow("HelloFlow").latest_run.id == run.id


def test_hello_flow_rejects_an_unknown_option(example):
    proc = example("hello_flow.py", "run", "--mesage", "typo", check=False)
    output = failed_clearly(proc, "--mesage")
    assert "Traceback" not in output


# --- ml_flow.py -----------------------------------------------------------------------------

@pytest.mark.slow
def test_ml_flow_trains_a_model_readable_from_the_client(example):
    example("ml_flow.py", "run")
    run = Flow("ProductionMLFlow").latest_run
    assert run.successful
    stats = run["preprocess_data"].task.data.preprocessing_stats
    assert (stats["train_size"], stats["test_size"]) == (8000, 2000)
    metrics = run["evaluate_model"].task.data.metrics
    assert 0.9 < metrics["test_accuracy"] <= 1.0  # the synthetic labels are 5% noise
    # the fitted model survives as an artifact: it predicts what the flow predicted
    model = run["train_model"].task.data.model
    X_test = run["preprocess_data"].task.data.X_test
    assert list(model.predict(X_test)) == list(run["evaluate_model"].task.data.test_predictions)
    summary = run.data.workflow_summary
    assert summary["final_test_accuracy"] == metrics["test_accuracy"]
    importances = [value for _, value in summary["top_features"]]
    assert len(importances) == 3 and importances == sorted(importances, reverse=True)
    assert run.data.deployment_ready == all(run.data.deployment_checks.values())
    assert "WORKFLOW SUMMARY" in run["end"].task.stdout
    assert "Loaded 10000 rows" in run["load_data"].task.stderr  # logging goes to stderr


@pytest.mark.slow
def test_ml_flow_parameters_change_the_split(example):
    example("ml_flow.py", "run", "--test-size", "0.25", "--n-samples", "4000",
            "--random-seed", "7")
    run = Flow("ProductionMLFlow").latest_run
    assert run.data.config["random_seed"] == 7
    stats = run.data.preprocessing_stats
    assert (stats["train_size"], stats["test_size"]) == (3000, 1000)


@pytest.mark.slow
def test_ml_flow_with_an_unsupported_model_fails_in_train_model(example):
    proc = example("ml_flow.py", "run", "--model-type", "xgboost", "--n-samples", "1000",
                   check=False)
    failed_clearly(proc, "Unsupported model type: 'xgboost'", "train_model")
    run = Flow("ProductionMLFlow").latest_run
    assert not run.successful
    assert "train_model" in {s.id for s in run}
    assert "evaluate_model" not in {s.id for s in run}
    # what the earlier steps stored is still there
    assert run["preprocess_data"].task.data.preprocessing_stats["test_size"] == 200


@pytest.mark.slow
def test_ml_flow_rejects_a_badly_typed_parameter(example):
    proc = example("ml_flow.py", "run", "--test-size", "a-fifth", check=False)
    output = failed_clearly(proc, "--test-size", "a-fifth")
    assert "Traceback" not in output


@pytest.mark.slow
def test_ml_flow_steps_are_unit_testable_as_the_document_shows():
    """The document's testing section: the flow class used as a plain object in pytest."""
    spec = importlib.util.spec_from_file_location("ml_flow_under_test", EXAMPLES / "ml_flow.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    flow = module.ProductionMLFlow()
    flow.random_seed = 42
    flow.n_samples = 1000
    flow.start()
    flow.load_data()
    assert flow.data_quality["n_rows"] == len(flow.raw_data) == 1000
    flow.preprocess_data()
    assert "feature_interaction" in flow.processed_data.columns
    assert len(flow.X_test) == 200  # test_size keeps its default, 0.2
    for step_name in ["train_model", "evaluate_model", "prepare_deployment", "end"]:
        getattr(flow, step_name)()
    assert flow.metrics["test_accuracy"] > 0.8
    assert flow.workflow_summary["data_processed"] == 1000


# --- parallel_foreach_flow.py ---------------------------------------------------------------

def test_parallel_foreach_runs_one_task_per_item_and_joins_them(example):
    example("parallel_foreach_flow.py", "run", "--n-datasets", "6", "--max-sleep", "0.05",
            "--max-workers", "3")
    run = Flow("ParallelProcessingFlow").latest_run
    assert run.successful
    tasks = list(run["process_dataset"])
    assert len(tasks) == 6
    results = [t.data.analysis_result for t in tasks]
    assert sorted(r["dataset_id"] for r in results) == [f"dataset_{i}" for i in range(6)]
    for r in results:
        assert r["original_size"] == 1000 * (int(r["dataset_id"].split("_")[1]) + 1)
        assert r["position"] == int(r["dataset_id"].split("_")[1])  # self.index
    joined = run["join_results"].task.data.all_results
    assert [r["position"] for r in joined] == list(range(6))  # inputs in foreach order
    summary = run.data.summary
    assert summary["total_datasets"] == 6
    assert summary["total_samples_processed"] == sum(r["original_size"] for r in results)
    assert summary["total_outliers"] == sum(r["outliers"] for r in results)
    assert summary["overall_mean"] == pytest.approx(sum(r["mean"] for r in results) / 6)
    assert summary["total_processing_time"] == pytest.approx(
        sum(t.data.processing_time for t in tasks))


def test_parallel_foreach_refuses_more_splits_than_allowed(example):
    proc = example("parallel_foreach_flow.py", "run", "--n-datasets", "6", "--max-sleep", "0",
                   "--max-num-splits", "4", check=False)
    output = failed_clearly(proc, "--max-num-splits")
    assert "Traceback" not in output
    run = Flow("ParallelProcessingFlow").latest_run
    assert not run.successful
    assert "process_dataset" not in {s.id for s in run}


# --- conditional_branching_flow.py ----------------------------------------------------------

@pytest.mark.parametrize("score,taken,method", [
    (0.9, "high_quality_processing", "advanced_ml"),
    (0.6, "standard_processing", "standard_ml"),
    (0.3, "data_cleaning_required", "cleaned_then_standard"),
])
def test_conditional_branching_takes_one_path(example, score, taken, method):
    example("conditional_branching_flow.py", "run", "--quality-score", str(score))
    run = Flow("ConditionalBranchingFlow").latest_run
    assert run.successful
    branches = {"high_quality_processing", "standard_processing", "data_cleaning_required"}
    steps = {s.id for s in run}
    assert steps & branches == {taken}
    assert run["finalize_processing"].task.data.branches_joined == 1
    result = run.data.final_result
    assert result["processing_method"] == method
    assert result["original_quality_score"] == score
    assert result.get("cleaning_applied", False) == (taken == "data_cleaning_required")


def test_conditional_branching_without_a_score_follows_the_random_one(example):
    example("conditional_branching_flow.py", "run")
    run = Flow("ConditionalBranchingFlow").latest_run
    score = run["start"].task.data.data_quality_score
    expected = ("advanced_ml" if score > 0.8 else "standard_ml" if score > 0.5
                else "cleaned_then_standard")
    assert run.data.final_result["processing_method"] == expected


def test_conditional_branching_rejects_a_score_out_of_range(example):
    proc = example("conditional_branching_flow.py", "run", "--quality-score", "1.5",
                   check=False)
    failed_clearly(proc, "--quality-score must be in [0, 1], got 1.5")
    run = Flow("ConditionalBranchingFlow").latest_run
    assert not run.successful and {s.id for s in run} == {"start"}


# --- retry_catch_flow.py --------------------------------------------------------------------

def test_retry_succeeds_on_the_second_attempt(example):
    example("retry_catch_flow.py", "run")
    run = Flow("RobustFlow").latest_run
    assert run.successful
    fetch = run["fetch_external_data"].task
    assert fetch.data.fetch_attempts == 2
    assert fetch.data.api_error is None  # as in Metaflow: @catch's var is None on success
    assert fetch.stdout.strip() == "attempt 2"  # Task.stdout is the latest attempt's log
    summary = run.data.summary
    assert summary["data_source"] == "external_api" and not summary["is_fallback"]
    # the step that always fails was caught and the flow went on
    assert summary["transform_failed"]
    assert "enrichment service is down" in str(run["transform"].task.data.transform_error)


def test_catch_keeps_the_error_after_the_last_retry(example):
    example("retry_catch_flow.py", "run", "--flaky-failures", "5")
    run = Flow("RobustFlow").latest_run
    assert run.successful
    fetch = run["fetch_external_data"].task
    error = str(fetch.data.api_error)
    assert "ConnectionError" in error and "attempt 3" in error  # 1 try + 2 retries
    assert fetch.stdout.startswith("attempt 3\n")  # the last attempt's log; no 4th attempt
    assert run.data.summary == {"data_source": "cached_fallback", "record_count": 8000,
                                "is_fallback": True, "transform_failed": True}


# --- config_flow.py -------------------------------------------------------------------------

@pytest.mark.slow
def test_config_flow_reads_the_toml_beside_it(example):
    example("config_flow.py", "run")
    run = Flow("ConfigurableMLFlow").latest_run
    assert run.successful
    assert run["start"].task.data.model_config == {"type": "random_forest",
                                                   "n_estimators": 20, "max_depth": 4}
    model = run["train_model"].task.data.model
    assert model.n_estimators == 20 and model.max_depth == 4
    assert run["train_model"].task.data.train_accuracy > 0.9
    assert "Loaded 2000 rows in batches of 500" in run["load_data"].task.stdout


@pytest.mark.slow
def test_config_file_from_the_command_line_reaches_steps_and_decorators(example, tmp_path):
    text = (EXAMPLES / "config.toml").read_text()
    text = text.replace("n_estimators = 20", "n_estimators = 5")
    text = text.replace("memory = 2000", "memory = 1234").replace("n_samples = 2000",
                                                                  "n_samples = 300")
    custom = tmp_path / "custom.toml"
    custom.write_text(text)
    shown = example("config_flow.py", "--config-file", custom, "show").stdout
    assert "memory=1234" in shown
    example("config_flow.py", "run", "--config-file", custom)
    run = Flow("ConfigurableMLFlow").latest_run
    assert run["start"].task.data.model_config["n_estimators"] == 5
    assert "Loaded 300 rows" in run["load_data"].task.stdout


def test_config_flow_names_a_missing_config_file(example, tmp_path):
    missing = tmp_path / "nope.toml"
    proc = example("config_flow.py", "run", "--config-file", missing, check=False)
    output = failed_clearly(proc, str(missing))
    assert "Traceback" not in output


def test_config_flow_names_a_broken_config_file(example, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[model\ntype = 'random_forest'\n")
    proc = example("config_flow.py", "run", "--config-file", broken, check=False)
    output = failed_clearly(proc, str(broken))
    assert "Traceback" not in output
