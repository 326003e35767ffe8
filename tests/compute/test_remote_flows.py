"""Whole flows with every step on Kubernetes (``--with kubernetes``), through the stand-in:
each Job's container command runs as a local process with exactly the Job's environment,
downloads the code package from Azurite / moto S3, records to the metadata service on
Postgres, and the Client API reads the run back as it reads a local one. The run is driven
by ``bridge.ComputeScheduler`` (today's scheduling decisions, tasks through the backend)
until the engine's scheduler is merged. What this proves: the remote path end to end
except the cluster itself; what it does not: a real kubelet or image (see kube_standin.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater import Flow
from headwater.compute.kubernetes import KubernetesCompute

from .bridge import run_remote

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
POD_FLOW = Path(__file__).parent / "flows" / "pod_flow.py"


@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_foreach_flow_on_kubernetes(shared, kube):
    """The foreach example: one Job per task (start, three items, the join, end); results
    and logs as a local run has them; the code package is uploaded once and named in each
    task's metadata."""
    ok, run_id, _ = run_remote(EXAMPLES / "parallel_foreach_flow.py", KubernetesCompute,
                               {"n_datasets": 3, "max_sleep": 0}, with_specs=("kubernetes",))
    assert ok
    run = Flow("ParallelProcessingFlow")[run_id]
    assert run.successful
    results = sorted(t.data.analysis_result["position"] for t in run["process_dataset"])
    assert results == [0, 1, 2]
    assert run.data.summary["total_datasets"] == 3
    assert "Processing 3 datasets in parallel" in run["start"].task.stdout
    assert all(ts is not None for ts, _ in run["start"].task.loglines("stdout"))
    assert len(kube.accepted) == 6 and len(kube.deleted) == 6 and not kube.jobs
    shas = {t.metadata_dict.get("code-package-sha") for s in run for t in s}
    assert len(shas) == 1 and None not in shas


@pytest.mark.parametrize("shared", ["s3"], indirect=True)
def test_conditional_and_join_flow_on_kubernetes(shared, kube):
    """The conditional example: only the branch taken runs, its artifacts reach the join."""
    ok, run_id, _ = run_remote(EXAMPLES / "conditional_branching_flow.py", KubernetesCompute,
                               {"quality_score": 0.3}, with_specs=("kubernetes",))
    assert ok
    run = Flow("ConditionalBranchingFlow")[run_id]
    assert run.data.final_result["processing_method"] == "cleaned_then_standard"
    assert run.data.final_result["cleaning_applied"] is True
    assert {s.id for s in run} == {"start", "data_cleaning_required", "finalize_processing",
                                   "end"}


@pytest.mark.parametrize("shared", ["azure"], indirect=True)
def test_failed_on_the_cluster_then_resumed_locally(shared, kube, tmp_path, run_flow):
    """A step fails in its pod; ``resume`` on this machine (local processes, same shared
    datastore and metadata service) reruns it and finishes the run."""
    marker = tmp_path / "fixed"
    ok, run_id, scheduler = run_remote(POD_FLOW, KubernetesCompute,
                                       {"mode": "raise", "marker": str(marker)},
                                       with_specs=("kubernetes",))
    assert not ok and "step 'start'" in (scheduler.failure or "")
    failed = Flow("PodFlow")[run_id]["start"].task
    assert "RuntimeError: boom in start" in failed.stderr and not failed.successful
    marker.write_text("fixed")
    run_flow(POD_FLOW, "resume", "--origin-run-id", run_id, cwd=tmp_path)
    resumed = Flow("PodFlow").latest_run
    assert resumed.id != run_id and resumed.successful
    assert resumed["end"].task.stdout.strip() == "end 42"
    assert resumed["start"].task.data.value == 42


@pytest.mark.parametrize("shared", ["s3"], indirect=True)
def test_retry_catch_and_config_examples_on_kubernetes(shared, kube):
    """@retry holds on the cluster (a failed attempt's Job, then attempt 2's Job, each its
    own Job; the task's log is attempt 2's), @catch lets the flow go on; the config
    example's default config.toml travels in the code package."""
    ok, run_id, _ = run_remote(EXAMPLES / "retry_catch_flow.py", KubernetesCompute,
                               with_specs=("kubernetes",))
    assert ok
    run = Flow("RobustFlow")[run_id]
    fetch = run["fetch_external_data"].task
    assert fetch.data.fetch_attempts == 2 and fetch.stdout.strip() == "attempt 2"
    assert run.data.summary["transform_failed"]
    attempts = [j["metadata"]["labels"]["headwater.dev/attempt"] for j in kube.accepted
                if j["metadata"]["labels"]["headwater.dev/step"] == "fetch_external_data"]
    assert attempts == ["0", "1"]
    assert kube.accepted[1]["spec"]["activeDeadlineSeconds"] == 65  # @timeout + grace

    ok, run_id, _ = run_remote(EXAMPLES / "config_flow.py", KubernetesCompute,
                               with_specs=("kubernetes",))
    assert ok
    model = Flow("ConfigurableMLFlow")[run_id]["train_model"].task.data.model
    assert model.n_estimators == 20
