"""The Step Functions compiler. Every state machine validates with ``asl-validator``; its
control flow runs in moto server's States Language interpreter with each Batch task replaced
by a ``dynamodb:putItem`` that records what the task would (its pathspec, foreach items,
branch), so the table afterwards lists exactly the tasks that ran; and the real tasks run
through ``asl_runner.AslLocalRunner`` against moto S3/DynamoDB and the metadata service."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from headwater import Flow, namespace

from .asl_runner import AslLocalRunner
from .conftest import shared_env, upload_code_package
from .flows import SHAPES

REPO = Path(__file__).parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*_flow.py"))
VALIDATOR = REPO / "node_modules" / ".bin" / "asl-validator"
SFN_ENV = {"METAFLOW_BATCH_JOB_QUEUE": "hw-queue", "METAFLOW_SFN_DYNAMO_DB_TABLE": "hw-state",
           "METAFLOW_BATCH_CONTAINER_IMAGE": "registry.example/headwater-task:1"}


def compile_sfn(path: Path, env: dict[str, str] | None = None, check: bool = True):
    full = dict(os.environ)
    full.update(env if env is not None else shared_env(**SFN_ENV))
    proc = subprocess.run([sys.executable, str(path), "step-functions", "create", "--only-json"],
                          env=full, capture_output=True, text=True, timeout=60)
    if not check:
        return proc
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def validate(definition: dict, tmp_path: Path) -> None:
    if not VALIDATOR.exists():
        pytest.skip("asl-validator is not installed (scripts/test runs npm install)")
    path = tmp_path / "sm.json"
    path.write_text(json.dumps(definition))
    proc = subprocess.run([str(VALIDATOR), "--json-path", str(path)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_graph_shape_compiles_to_valid_states_language(shape, flow_file, tmp_path):
    validate(compile_sfn(flow_file(shape)), tmp_path)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_compiles(example, tmp_path):
    validate(compile_sfn(example), tmp_path)


def test_shapes_map_to_map_parallel_and_choice(flow_file):
    nested = compile_sfn(flow_file("nested_foreach"))
    outer = nested["States"]["start.each"]
    assert outer["Type"] == "Map"
    inner = outer["ItemProcessor"]["States"]["fan.each"]
    assert inner["Type"] == "Map" and "work" in inner["ItemProcessor"]["States"]
    assert nested["States"]["start.each"]["Next"] == "outer_join"
    branch = compile_sfn(flow_file("branch"))
    assert branch["States"]["start.branches"]["Type"] == "Parallel"
    assert [b["StartAt"] for b in branch["States"]["start.branches"]["Branches"]] == ["a", "b"]
    switches = compile_sfn(flow_file("switches"))
    choice = switches["States"]["start.choice"]
    assert [(c["StringEquals"], c["Next"]) for c in choice["Choices"]] == [
        ("big", "big"), ("small", "small")]
    assert switches["States"]["big_more"]["Next"] == switches["States"]["small"]["Next"] == "merge"


def test_retry_timeout_and_parameters(flow_file):
    sm = compile_sfn(flow_file("conditional_in_foreach"))
    check = sm["States"]["start.each"]["ItemProcessor"]["States"]["check"]
    assert check["Retry"] == [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2,
                               "IntervalSeconds": 1, "BackoffRate": 1.0}]
    assert check["TimeoutSeconds"] == 125
    linear = compile_sfn(flow_file("linear"))
    assert linear["States"]["Defaults"]["Result"] == {"alpha": "2", "name": "x"}
    command = linear["States"]["start"]["Parameters"]["ContainerOverrides"]["Command.$"]
    assert command.endswith("'--alpha', $.params.alpha, '--name', $.params.name)")


def test_secrets_never_reach_the_definition(flow_file):
    env = shared_env(**SFN_ENV, METAFLOW_SERVICE_AUTH_KEY="sk-very-secret",
                     AWS_SECRET_ACCESS_KEY="aws-very-secret")
    assert "very-secret" not in json.dumps(compile_sfn(flow_file("linear"), env=env))


@pytest.mark.parametrize("schedule,ok", [("cron(0 2 * * ? *)", True), ("rate(1 day)", True),
                                         ("cron(0 2 * * * *)", False), ("0 2 * *", False)])
def test_schedule_strings_are_checked_for_eventbridge(schedule, ok, flow_file):
    path = flow_file("linear")
    full = dict(os.environ, **shared_env(**SFN_ENV))
    proc = subprocess.run([sys.executable, str(path), "step-functions", "create", "--only-json",
                           "--schedule", schedule], env=full, capture_output=True, text=True,
                          timeout=60)
    assert (proc.returncode == 0) == ok, proc.stderr
    if not ok:
        assert "EventBridge" in proc.stderr or "cron expression" in proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("env,message", [
    ({"METAFLOW_DEFAULT_DATASTORE": "local"}, "need a shared datastore"),
    ({"METAFLOW_BATCH_JOB_QUEUE": ""}, "METAFLOW_BATCH_JOB_QUEUE is not set"),
    ({"METAFLOW_SFN_DYNAMO_DB_TABLE": ""}, "METAFLOW_SFN_DYNAMO_DB_TABLE is not set"),
])
def test_deploy_refuses_what_production_cannot_run(env, message, flow_file):
    proc = compile_sfn(flow_file("linear"), env=shared_env(**{**SFN_ENV, **env}), check=False)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


# --- control flow in moto's States Language interpreter ------------------------------------


def _replace_tasks(machine: dict, flow: str, scenario: dict[str, dict]) -> None:
    """Each Batch task becomes a putItem recording the task's key and what it would write."""
    for name, state in machine["States"].items():
        if state["Type"] == "Map":
            _replace_tasks(state["ItemProcessor"], flow, scenario)
        elif state["Type"] == "Parallel":
            for branch in state["Branches"]:
                _replace_tasks(branch, flow, scenario)
        elif state.get("Resource", "").endswith("batch:submitJob.sync"):
            outcome = scenario.get(name, {})
            key = (f"States.Format('{{}}/{{}}/{name}{{}}', '{flow}', "
                   f"States.Format('sfn-{{}}', $$.Execution.Name), $.path)")
            state["Resource"] = "arn:aws:states:::dynamodb:putItem"
            state["Parameters"] = {"TableName": "hw-state", "Item": {
                "pathspec": {"S.$": key},
                "foreach_items": {"L": [{"N": str(i)} for i in range(outcome.get("items", 0))]},
                "next_step": {"S": outcome.get("next", "")}}}
            state.pop("TimeoutSeconds", None)


@pytest.fixture
def moto_sfn(aws_env):
    config = {"stepfunctions": {"execute_state_machine": True}}
    urllib.request.urlopen(urllib.request.Request(
        f"{aws_env.endpoint_url}/moto-api/config", data=json.dumps(config).encode(),
        method="POST"))
    dynamodb = aws_env.client("dynamodb")
    try:
        dynamodb.delete_table(TableName="hw-state")
    except dynamodb.exceptions.ResourceNotFoundException:
        pass
    dynamodb.create_table(TableName="hw-state", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pathspec", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pathspec",
                                                 "AttributeType": "S"}])
    yield aws_env


def run_in_moto(moto, definition: dict, parameters: dict) -> set[str]:
    sfn = moto.client("stepfunctions")
    name = f"hw-{uuid.uuid4().hex[:8]}"
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                   roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="exec1",
                                    input=json.dumps({"Parameters": parameters}))
    deadline = time.monotonic() + 60
    while True:
        status = sfn.describe_execution(executionArn=execution["executionArn"])
        if status["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status["status"] == "SUCCEEDED", status
    items = moto.client("dynamodb").scan(TableName="hw-state")["Items"]
    return {i["pathspec"]["S"] for i in items}


@pytest.mark.parametrize("shape,flow,scenario,parameters,expected", [
    ("branch", "BranchFlow", {}, {},
     {"start", "a", "b", "join", "end"}),
    ("nested_foreach", "NestedForeachFlow",
     {"start": {"items": 2}, "fan": {"items": 3}}, {},
     {"start", "outer_join", "end"} | {f"fan/{i}" for i in range(2)}
     | {f"inner_join/{i}" for i in range(2)}
     | {f"work/{i}/{j}" for i in range(2) for j in range(3)}),
    ("switches", "SwitchFlow", {"start": {"next": "small"}, "merge": {"next": "tiny"}},
     {"mode": "small"}, {"start", "small", "merge", "tiny", "end"}),
    ("switches", "SwitchFlow", {"start": {"next": "big"}, "merge": {"next": "large"}}, {},
     {"start", "big", "big_more", "merge", "large", "end"}),
    ("switch_in_branch", "SwitchInBranchFlow",
     {"a": {"next": "d"}, "nested": {"next": "deep"}, "deep": {"next": "deeper"}}, {},
     {"start", "a", "d", "b", "join", "nested", "deep", "deeper", "end"}),
    ("conditional_in_foreach", "ForeachConditionalFlow",
     {"start": {"items": 2}, "check": {"next": "odd"}}, {},
     {"start", "join", "end"} | {f"{s}/{i}" for s in ("check", "odd", "converge")
                                 for i in range(2)}),
])
def test_control_flow_in_moto_interpreter(shape, flow, scenario, parameters, expected,
                                          flow_file, moto_sfn):
    definition = compile_sfn(flow_file(shape))
    replaced = copy.deepcopy(definition)
    _replace_tasks(replaced, flow, scenario)
    ran = run_in_moto(moto_sfn, replaced, parameters)
    assert ran == {f"{flow}/sfn-exec1/{e}" for e in expected}


# --- the real tasks, in the order the state machine dictates -------------------------------


@pytest.fixture
def shared(service_metadata_env, moto_sfn, s3_bucket, monkeypatch):
    monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "s3")
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_S3", f"s3://{s3_bucket}/flows")
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", moto_sfn.endpoint_url)
    for key, value in SFN_ENV.items():
        monkeypatch.setenv(key, value)
    namespace(None)
    yield moto_sfn


def job_identity() -> dict[str, str]:
    keep = ("PATH", "PYTHONPATH", "HOME", "METAFLOW_HOME", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED")
    return {k: os.environ[k] for k in keep if k in os.environ}


def run_locally(path: Path, shared, execution: str, parameters: dict) -> AslLocalRunner:
    definition = compile_sfn(path, env=dict(os.environ))
    upload_code_package(path)
    runner = AslLocalRunner(definition, execution, str(path.parent), job_identity(),
                            shared.client("dynamodb"))
    status = runner.run({"Parameters": parameters})
    assert status == "SUCCEEDED", getattr(runner, "last_stderr", "")
    return runner


@pytest.mark.slow
def test_real_tasks_linear_with_parameters(shared, flow_file):
    run_locally(flow_file("linear"), shared, "lin1", {"alpha": "4"})
    run = Flow("LinearFlow")["sfn-lin1"]
    assert run.successful and run.data.value == 41
    assert "runtime:step-functions" in run.system_tags


@pytest.mark.slow
def test_real_tasks_nested_foreach(shared, flow_file):
    run_locally(flow_file("nested_foreach"), shared, "nest1", {})
    run = Flow("NestedForeachFlow")["sfn-nest1"]
    assert run.data.totals == [60, 120]
    assert sorted(t.id for t in run["work"]) == sorted(
        f"t-{i}-{j}" for i in range(2) for j in range(3))


@pytest.mark.slow
def test_real_tasks_conditionals_and_retry(shared, flow_file):
    run_locally(flow_file("conditional_in_foreach"), shared, "cond1", {})
    assert Flow("ForeachConditionalFlow")["sfn-cond1"].data.kinds == ["odd", "even", "odd",
                                                                       "even"]
    runner = run_locally(flow_file("flaky", "flaky/flow.py"), shared, "flaky1", {})
    assert [code for cmd, code in runner.jobs if "flaky" in cmd] == [1, 0]
    task = Flow("FlakyFlow")["sfn-flaky1"]["flaky"].task
    assert task.data.attempt_seen == 1  # the retried job found its attempt number itself


def test_create_trigger_list_delete_against_moto(shared, flow_file):
    """``create`` registers the job definitions (once per content) and the state machine
    (created, then updated in place), schedules it on EventBridge; ``trigger`` starts an
    execution with the parameters; ``delete`` removes both. Against moto server's Batch,
    Step Functions and EventBridge (which accept the calls; nothing runs)."""
    path = flow_file("linear")
    env = dict(os.environ, METAFLOW_SFN_IAM_ROLE="arn:aws:iam::123456789012:role/sfn",
               METAFLOW_EVENTS_SFN_ACCESS_IAM_ROLE="arn:aws:iam::123456789012:role/events",
               METAFLOW_SFN_STATE_MACHINE_PREFIX="hw-dev",
               METAFLOW_BATCH_LOG_GROUP="/headwater/hw-dev/batch")

    def cli(*args):
        proc = subprocess.run([sys.executable, str(path), "step-functions", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    urllib.request.urlopen(urllib.request.Request(
        f"{shared.endpoint_url}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": False}}).encode(),
        method="POST"))
    out = cli("create", "--schedule", "cron(0 2 * * ? *)", "--tag", "team=ml")
    assert "Deployed state machine" in out and "cron(0 2 * * ? *)" in out
    sfn, batch, events = (shared.client(n) for n in ("stepfunctions", "batch", "events"))
    machines = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert "hw-dev_LinearFlow" in machines
    definitions = batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
    registered = {d["jobDefinitionName"] for d in definitions}
    cli("create")  # again: updated in place, nothing registered twice
    assert len(batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]) == len(definitions)
    assert [m["name"] for m in sfn.list_state_machines()["stateMachines"]].count(
        "hw-dev_LinearFlow") == 1
    assert all(n.startswith("hw-dev_LinearFlow-") for n in registered)
    # The stacks' execution role writes logs only to the stack's group, which they name.
    assert {json.dumps(d["containerProperties"]["logConfiguration"]) for d in definitions} == {
        json.dumps({"logDriver": "awslogs",
                    "options": {"awslogs-group": "/headwater/hw-dev/batch"}})}
    assert events.describe_rule(Name="hw-dev_LinearFlow")["ScheduleExpression"] == \
        "cron(0 2 * * ? *)"
    started = cli("trigger", "--alpha", "5")
    execution = started.split()[1]
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
               if m["name"] == "hw-dev_LinearFlow")
    found = sfn.list_executions(stateMachineArn=arn)["executions"]
    described = sfn.describe_execution(executionArn=found[0]["executionArn"])
    assert json.loads(described["input"]) == {"Parameters": {"alpha": "5"}}
    assert f"sfn-{execution}" in cli("list-runs")
    assert "Deleted" in cli("delete")
    assert "hw-dev_LinearFlow" not in [m["name"] for m in
                                       sfn.list_state_machines()["stateMachines"]]
    assert not events.list_rules(NamePrefix="hw-dev_LinearFlow")["Rules"]


@pytest.mark.slow
def test_real_tasks_switch_inside_a_branch(shared, flow_file):
    run_locally(flow_file("switch_in_branch"), shared, "sib1", {"pick": "d"})
    run = Flow("SwitchInBranchFlow")["sfn-sib1"]
    assert run.data.gots == ["b", "d"]
    assert {"deep", "deeper"} <= {s.id for s in run}


def test_a_kubernetes_step_is_refused_on_step_functions(flow_file):
    source = SHAPES["linear"].replace("    @step\n    def middle",
                                      "    @kubernetes(cpu=2)\n    @step\n    def middle"
                                      ).replace("import FlowSpec", "import kubernetes, FlowSpec")
    proc = compile_sfn(flow_file(source), check=False)
    assert proc.returncode == 1 and "step 'middle' has @kubernetes" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
