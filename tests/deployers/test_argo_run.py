"""Compiled Argo workflows, executed: each pod's container command runs here as a process
with exactly the container's environment (plus the AWS credentials a workload identity would
give the pod), against moto S3 and the metadata service on Postgres, in the order Argo's DAG
semantics dictate (``argo_runner.ArgoLocalRunner``, a stand-in for the controller: see its
docstring for what it proves and what not). The runs then read back through the Client API
with the ids the scheduler gave them, and a failed production run resumes locally."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # every pod is a fresh interpreter

from headwater import Flow, namespace

from .argo_runner import ArgoLocalRunner
from .conftest import IMAGE, upload_code_package


@pytest.fixture
def shared(service_metadata_env, aws_env, s3_bucket, monkeypatch):
    monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "s3")
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_S3", f"s3://{s3_bucket}/flows")
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", aws_env.endpoint_url)
    monkeypatch.setenv("METAFLOW_KUBERNETES_CONTAINER_IMAGE", IMAGE)
    namespace(None)
    yield service_metadata_env


def pod_identity() -> dict[str, str]:
    """What a pod has besides its container's env: the interpreter, and AWS credentials
    (IRSA / workload identity in a real cluster)."""
    keep = ("PATH", "PYTHONPATH", "HOME", "METAFLOW_HOME", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED")
    return {k: os.environ[k] for k in keep if k in os.environ}


def deploy_and_run(path, compile_argo, workflow: str, parameters=None):
    template = compile_argo(path, env=dict(os.environ))[0]
    upload_code_package(path)
    runner = ArgoLocalRunner(template, workflow, str(path.parent), pod_identity())
    phase = runner.run(parameters)
    return runner, phase


def failures(runner) -> str:
    return "\n".join(f"{p.template} {p.args}\n{p.stderr[-2000:]}" for p in runner.pods
                     if p.phase != "Succeeded")


def test_linear_flow_with_parameters(shared, flow_file, compile_argo):
    runner, phase = deploy_and_run(flow_file("linear"), compile_argo, "linearflow-abc12",
                                   {"alpha": "3"})
    assert phase == "Succeeded", failures(runner)
    run = Flow("LinearFlow")["argo-linearflow-abc12"]
    assert run.successful
    assert run.data.value == 31
    assert [t.id for t in run["middle"]] == ["t"]
    # the container entry point stored the task's logs, and named the code package
    assert "value 31 x" in run["end"].task.stdout
    assert run["end"].task.metadata_dict.get("code-package-sha")
    assert "runtime:argo-workflows" in run.system_tags


def test_nested_foreach(shared, flow_file, compile_argo):
    runner, phase = deploy_and_run(flow_file("nested_foreach"), compile_argo, "nested-1")
    assert phase == "Succeeded", failures(runner)
    run = Flow("NestedForeachFlow")["argo-nested-1"]
    assert run.data.totals == [60, 120]
    assert sorted(t.id for t in run["work"]) == sorted(
        f"t-{i}-{j}" for i in range(2) for j in range(3))
    work = run["work"]["t-1-2"]
    assert work.data.product == 2 * 30
    assert [len(list(run[s])) for s in ("start", "fan", "work", "inner_join", "outer_join")] == [
        1, 2, 6, 2, 1]


@pytest.mark.parametrize("mode,label,path", [("big", "large", ["big", "big_more"]),
                                              ("small", "tiny", ["small"])])
def test_conditionals_take_the_branch_the_data_chose(mode, label, path, shared, flow_file,
                                                     compile_argo):
    runner, phase = deploy_and_run(flow_file("switches"), compile_argo, f"sw-{mode}",
                                   {"mode": mode})
    assert phase == "Succeeded", failures(runner)
    run = Flow("SwitchFlow")[f"argo-sw-{mode}"]
    assert run.data.label == label
    ran = {s.id for s in run}
    assert set(path) <= ran
    assert not ({"big", "big_more", "small"} - set(path)) & ran
    assert not ({"large", "tiny"} - {label}) & ran


def test_conditional_inside_a_foreach(shared, flow_file, compile_argo):
    runner, phase = deploy_and_run(flow_file("conditional_in_foreach"), compile_argo, "fc-1")
    assert phase == "Succeeded", failures(runner)
    run = Flow("ForeachConditionalFlow")["argo-fc-1"]
    assert run.data.kinds == ["odd", "even", "odd", "even"]
    assert sorted(t.id for t in run["even"]) == ["t-1", "t-3"]


def test_retry_reuses_the_task_with_the_next_attempt(shared, flow_file, compile_argo):
    runner, phase = deploy_and_run(flow_file("flaky"), compile_argo, "flaky-1")
    assert phase == "Succeeded", failures(runner)
    assert [p.retries for p in runner.pods if p.template == "step-flaky"] == [0, 1]
    task = Flow("FlakyFlow")["argo-flaky-1"]["flaky"].task
    assert task.data.attempt_seen == 1


def test_a_failed_production_run_resumes_locally(shared, flow_file, compile_argo, tmp_path):
    source = flow_file("branch").read_text().replace(
        'self.y = "b"', 'import os\n        if os.environ.get("BREAK_B"): raise ValueError("b broke")\n        self.y = "b"')
    path = flow_file(source, "resumable/flow.py")
    template = compile_argo(path, env=dict(os.environ))[0]
    upload_code_package(path)
    runner = ArgoLocalRunner(template, "branch-1", str(path.parent),
                             dict(pod_identity(), BREAK_B="1"))
    assert runner.run() == "Failed"
    run = Flow("BranchFlow")["argo-branch-1"]
    assert not run.successful
    proc = subprocess.run([sys.executable, str(path), "resume", "--origin-run-id",
                           "argo-branch-1"], capture_output=True, text=True, timeout=180,
                          cwd=str(path.parent))
    assert proc.returncode == 0, proc.stderr
    resumed = Flow("BranchFlow").latest_run
    assert resumed.id != "argo-branch-1" and resumed.successful
    assert sorted(resumed.data.ys) == ["a", "b"]


@pytest.mark.parametrize("pick,gots,ran", [("c", ["b", "c"], {"c"}),
                                           ("d", ["b", "d"], {"d", "deep", "deeper"})])
def test_switch_inside_a_branch_and_switches_ending_together(pick, gots, ran, shared, flow_file,
                                                             compile_argo):
    runner, phase = deploy_and_run(flow_file("switch_in_branch"), compile_argo, f"sib-{pick}",
                                   {"pick": pick})
    assert phase == "Succeeded", failures(runner)
    run = Flow("SwitchInBranchFlow")[f"argo-sib-{pick}"]
    assert run.data.gots == gots
    steps = {s.id for s in run}
    assert ran <= steps and not ({"c", "d", "deep", "deeper"} - ran) & steps
