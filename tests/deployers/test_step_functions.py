"""The Step Functions compiler. Every state machine validates with ``asl-validator``; its
control flow runs in moto server's States Language interpreter with each Batch task replaced
by a ``dynamodb:putItem`` that records what the task would (its pathspec, foreach items,
branch), so the table afterwards lists exactly the tasks that ran; and the real tasks run
through ``asl_runner.AslLocalRunner`` against moto S3/DynamoDB and the metadata service."""

from __future__ import annotations

import copy
import json
import os
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


def compile_sfn(path: Path, env: dict[str, str] | None = None, check: bool = True,
                args: tuple[str, ...] = ()):
    full = dict(os.environ)
    full.update(env if env is not None else shared_env(**SFN_ENV))
    proc = subprocess.run([sys.executable, str(path), "step-functions", "create", "--only-json",
                           *args], env=full, capture_output=True, text=True, timeout=60)
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
    """Each Batch task becomes a putItem recording the task's key and what it would write
    (a wide foreach: its items in S3, which the test puts there, so only the table's
    ``items_in``). State names in a distributed Map's copy of a body end in ``@<foreach>``."""
    for name, state in machine["States"].items():
        if state["Type"] == "Map":
            _replace_tasks(state["ItemProcessor"], flow, scenario)
        elif state["Type"] == "Parallel":
            for branch in state["Branches"]:
                _replace_tasks(branch, flow, scenario)
        elif state.get("Resource", "").endswith("batch:submitJob.sync"):
            step = name.split("@")[0]
            outcome = scenario.get(step, {})
            key = f"States.Format('{{}}/{{}}/{step}{{}}', '{flow}', $.run, $.path)"
            wide = outcome.get("wide", False)
            items = [] if wide else list(range(outcome.get("items", 0)))
            state["Resource"] = "arn:aws:states:::dynamodb:putItem"
            state["Parameters"] = {"TableName": "hw-state", "Item": {
                "pathspec": {"S.$": key},
                "foreach_items": {"L": [{"N": str(i)} for i in items]},
                "items_in": {"S": "s3" if wide else "table"},
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


def test_wide_foreach_compiles_to_a_distributed_map_beside_the_inline_one(flow_file, tmp_path):
    sm = compile_sfn(flow_file("nested_foreach"))
    validate(sm, tmp_path)
    states = sm["States"]
    assert states["start.mode"]["Choices"] == [{"Variable": "$.foreach.items_in",
                                                "StringEquals": "s3",
                                                "Next": "start.each-wide"}]
    assert states["start.mode"]["Default"] == "start.each"
    wide = states["start.each-wide"]
    assert wide["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED",
                                                        "ExecutionType": "STANDARD"}
    assert wide["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert wide["ItemReader"]["Parameters"]["Bucket"] == "bucket"  # the S3 datastore's
    assert wide["ItemReader"]["Parameters"]["Key.$"].startswith(
        "States.Format('flows/sfn-foreach/{}/{}/start{}.json'")
    body = wide["ItemProcessor"]["States"]
    # the nested foreach inside the distributed body may go wide again; inside the inline
    # Map it stays inline (its body is not copied there)
    assert {"fan@start", "fan.mode@start", "fan.each-wide@start", "start.item-done@start"
            } <= set(body)
    assert "work@start@fan" in body["fan.each-wide@start"]["ItemProcessor"]["States"]
    inline_body = states["start.each"]["ItemProcessor"]["States"]
    assert "fan.mode" not in inline_body and inline_body["fan.items"]["Next"] == "fan.each"
    # every item's output is {}: the collected output stays small for 10,000 items
    assert body["start.item-done@start"] == {"Type": "Pass", "Result": {}, "End": True}
    # the job learns the limit; 0 makes every foreach write its items to S3
    command = states["start"]["Parameters"]["ContainerOverrides"]["Command.$"]
    assert "'--inline-map-limit', '40'" in command
    always = compile_sfn(flow_file("nested_foreach"), args=("--inline-map-limit", "0",
                                                            "--max-workers", "7"))
    assert "'--inline-map-limit', '0'" in always["States"]["start"]["Parameters"][
        "ContainerOverrides"]["Command.$"]
    assert always["States"]["start.each-wide"]["MaxConcurrency"] == 7


def test_no_distributed_map_without_an_s3_datastore(flow_file):
    env = shared_env(**SFN_ENV, METAFLOW_DEFAULT_DATASTORE="azure",
                     METAFLOW_DATASTORE_SYSROOT_AZURE="flows/root",
                     METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT="https://acct.blob.core.windows.net")
    sm = compile_sfn(flow_file("wide_foreach"), env=env)
    assert "start.each-wide" not in sm["States"] and sm["States"]["start.items"]["Next"] == \
        "start.each"
    assert "--inline-map-limit" not in json.dumps(sm)


@pytest.mark.parametrize("shape,flow,scenario,expected", [
    ("wide_foreach", "WideFlow", {"start": {"wide": 50}},
     {"start", "join", "end"} | {f"work/{i}" for i in range(50)}),
    ("nested_foreach", "NestedForeachFlow",
     {"start": {"wide": 2}, "fan": {"items": 3}},
     {"start", "outer_join", "end"} | {f"fan/{i}" for i in range(2)}
     | {f"inner_join/{i}" for i in range(2)}
     | {f"work/{i}/{j}" for i in range(2) for j in range(3)}),
])
def test_distributed_map_in_moto_interpreter(shape, flow, scenario, expected, flow_file,
                                             moto_sfn):
    """The wide path: the Choice takes the distributed Map, its ItemReader reads the items
    object from moto's S3 (put here, as the foreach job would), and each item runs as a child
    execution that carries the run id and foreach path in its input. Replaced: the Batch
    tasks (putItem records, as above). Not proven: moto runs child executions in-process, so
    nothing here checks AWS's Map Run quotas, IAM, or real concurrency."""
    definition = compile_sfn(flow_file(shape))
    replaced = copy.deepcopy(definition)
    _replace_tasks(replaced, flow, scenario)
    s3 = moto_sfn.client("s3")
    try:
        s3.create_bucket(Bucket="bucket")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    for step, outcome in scenario.items():
        if "wide" in outcome:
            s3.put_object(Bucket="bucket",
                          Key=f"flows/sfn-foreach/{flow}/sfn-exec1/{step}.json",
                          Body=json.dumps(list(range(outcome["wide"]))).encode())
    ran = run_in_moto(moto_sfn, replaced, {})
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


def run_locally(path: Path, shared, execution: str, parameters: dict,
                args: tuple[str, ...] = ()) -> AslLocalRunner:
    definition = compile_sfn(path, env=dict(os.environ), args=args)
    upload_code_package(path)
    runner = AslLocalRunner(definition, execution, str(path.parent), job_identity(),
                            shared.client("dynamodb"), shared.client("s3"))
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
def test_real_tasks_wide_foreach_through_the_distributed_map(shared, flow_file):
    """With a limit of 3, the 5-item foreach's job writes its items to the S3 datastore
    and the run takes the distributed Map; the join reads all five."""
    runner = run_locally(flow_file("wide_foreach"), shared, "wide1", {"width": "5"},
                         args=("--inline-map-limit", "3"))
    assert runner.maps == ["start.each-wide"]
    run = Flow("WideFlow")["sfn-wide1"]
    assert run.successful and run.data.total == 10
    assert sorted(t.id for t in run["work"]) == [f"t-{i}" for i in range(5)]


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
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
               if m["name"] == "hw-dev_LinearFlow")
    tags = {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert tags == {"team": "ml", "metaflow/flow_name": "LinearFlow",
                    "metaflow/owner": "tester"}
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


def test_a_timezone_schedules_through_eventbridge_scheduler(shared, flow_file):
    """``@schedule(timezone=...)``: EventBridge rules are UTC only, so ``create`` makes an
    EventBridge Scheduler schedule (moto server's Scheduler, which stores it; nothing fires)
    with the zone, targeting the state machine with the scheduler role; redeployed without a
    zone it becomes a rule and the schedule goes; ``delete`` removes whichever exists."""
    source = SHAPES["linear"].replace(
        "class LinearFlow", "@schedule(cron='30 6 * * ? *', timezone='Europe/Berlin')\n"
        "class LinearFlow").replace("import FlowSpec", "import FlowSpec, schedule")
    path = flow_file(source)
    env = dict(os.environ, METAFLOW_SFN_IAM_ROLE="arn:aws:iam::123456789012:role/sfn",
               METAFLOW_EVENTS_SFN_ACCESS_IAM_ROLE="arn:aws:iam::123456789012:role/events",
               METAFLOW_SFN_STATE_MACHINE_PREFIX="hw-dev")

    def cli(*args, flow=path):
        proc = subprocess.run([sys.executable, str(flow), "step-functions", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    urllib.request.urlopen(urllib.request.Request(
        f"{shared.endpoint_url}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": False}}).encode(),
        method="POST"))
    assert "Europe/Berlin, EventBridge Scheduler" in cli("create")
    cli("create")  # again: the schedule is updated in place
    scheduler, events, sfn = (shared.client(n) for n in ("scheduler", "events", "stepfunctions"))
    found = scheduler.get_schedule(Name="hw-dev_LinearFlow")
    assert found["ScheduleExpression"] == "cron(30 6 * * ? *)"
    assert found["ScheduleExpressionTimezone"] == "Europe/Berlin"
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
               if m["name"] == "hw-dev_LinearFlow")
    assert found["Target"]["Arn"] == arn
    assert found["Target"]["RoleArn"] == "arn:aws:iam::123456789012:role/events"
    assert json.loads(found["Target"]["Input"]) == {"Parameters": {}}
    assert not events.list_rules(NamePrefix="hw-dev_LinearFlow")["Rules"]
    utc = flow_file(source.replace(", timezone='Europe/Berlin'", ""), "utc/flow.py")
    assert "(UTC)" in cli("create", flow=utc)
    assert events.describe_rule(Name="hw-dev_LinearFlow")["ScheduleExpression"] == \
        "cron(30 6 * * ? *)"
    assert not [s for s in scheduler.list_schedules()["Schedules"]
                if s["Name"] == "hw-dev_LinearFlow"]
    cli("create")  # and back: the rule goes
    assert not events.list_rules(NamePrefix="hw-dev_LinearFlow")["Rules"]
    assert "Deleted the schedule and the state machine" in cli("delete")
    assert not scheduler.list_schedules()["Schedules"]


@pytest.mark.parametrize("command", [("step-functions", "create", "--only-json"),
                                     ("argo-workflows", "create", "--only-json")])
def test_an_unknown_timezone_is_refused(command, flow_file):
    source = SHAPES["linear"].replace(
        "class LinearFlow", "@schedule(cron='0 2 * * *', timezone='Mars/Olympus')\n"
        "class LinearFlow").replace("import FlowSpec", "import FlowSpec, schedule")
    full = dict(os.environ, **shared_env(**SFN_ENV))
    proc = subprocess.run([sys.executable, str(flow_file(source)), *command], env=full,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "'Mars/Olympus') is not a time zone name" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2


CONFIG_VALUE = ("--config-value", "cfg", '{"n": 3, "word": "deployed"}')


def test_config_values_are_pinned_in_every_task_environment(flow_file, compile_argo):
    """``--config-value`` (like ``--config`` and the defaults) is read at deploy time and
    stored with the deployment: every Batch job and every Argo pod gets it as
    ``METAFLOW_FLOW_CONFIG_VALUE``."""
    from .flows import CONFIGURED

    path = flow_file(CONFIGURED)
    expected = {"Name": "METAFLOW_FLOW_CONFIG_VALUE",
                "Value": '{"cfg":{"n":3,"word":"deployed"}}'}
    sm = compile_sfn(path, args=CONFIG_VALUE)
    tasks = [s for s in sm["States"].values() if s.get("Resource", "").endswith("sync")]
    assert len(tasks) == 2
    assert all(expected in t["Parameters"]["ContainerOverrides"]["Environment"] for t in tasks)
    template = compile_argo(path, *CONFIG_VALUE)[0]
    containers = [t["container"] for t in template["spec"]["templates"] if "container" in t]
    assert len(containers) == 2
    assert all({"name": expected["Name"], "value": expected["Value"]} in c["env"]
               for c in containers)
    defaults = compile_sfn(path)["States"]["start"]["Parameters"]["ContainerOverrides"]
    assert {"Name": "METAFLOW_FLOW_CONFIG_VALUE",
            "Value": '{"cfg":{"n":1,"word":"default"}}'} in defaults["Environment"]


@pytest.mark.slow
def test_real_tasks_see_the_deployed_config(shared, flow_file):
    """The jobs run with the definition's environment only (plus the AWS identity): the
    start task stores the deployed value and the end step's decorator resolves from it."""
    from .flows import CONFIGURED

    run_locally(flow_file(CONFIGURED), shared, "cfg1", {}, args=CONFIG_VALUE)
    run = Flow("ConfiguredFlow")["sfn-cfg1"]
    assert run.successful
    assert (run.data.n, run.data.n_end, run.data.word) == (3, 3, "deployed")


@pytest.mark.slow
def test_pypi_steps_are_snapshotted_by_create_and_built_in_the_job(shared, flow_file,
                                                                   tmp_path, monkeypatch):
    """``create`` resolves and snapshots the @pypi environment in the S3 datastore (no
    ``environment resolve`` first); the job, with the package index pointed at a dead port
    and an empty environment cache, builds it from the snapshot and runs the step inside."""
    from headwater.environments.declared import step_spec
    from headwater.environments.snapshot import SnapshotStore

    from .flows import PYPI

    monkeypatch.setenv("HEADWATER_ENV_CACHE", str(tmp_path / "deployer-cache"))
    path = flow_file(PYPI)
    env = dict(os.environ, METAFLOW_SFN_IAM_ROLE="arn:aws:iam::123456789012:role/sfn")
    proc = subprocess.run([sys.executable, str(path), "step-functions", "create"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "Resolving environment for step(s) start" in proc.stderr
    ctx = _flow_context(path)
    store = SnapshotStore(ctx.environment().backend)
    assert store.lock_for(step_spec(ctx.flow_cls, ctx.prepare(), "start")) is not None
    definition = compile_sfn(path, env=dict(os.environ))
    upload_code_package(path)
    identity = dict(job_identity(), HOME=str(tmp_path / "job-home"),
                    HEADWATER_ENV_CACHE=str(tmp_path / "job-cache"),
                    UV_INDEX_URL="http://127.0.0.1:9/simple",
                    PIP_INDEX_URL="http://127.0.0.1:9/simple", UV_NO_CACHE="1")
    runner = AslLocalRunner(definition, "pypi1", str(path.parent), identity,
                            shared.client("dynamodb"), shared.client("s3"))
    assert runner.run({"Parameters": {}}) == "SUCCEEDED", getattr(runner, "last_stderr", "")
    run = Flow("PypiFlow")["sfn-pypi1"]
    assert run.successful and run.data.six == "1.16.0"
    assert (tmp_path / "job-cache").is_dir()  # built there, from the snapshot


def _flow_context(path: Path):
    import importlib.util

    from headwater.cli.flow_cli import FlowContext
    from headwater.flowspec import FlowSpec

    spec = importlib.util.spec_from_file_location(f"ctx_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    flow_cls = next(v for v in vars(module).values() if isinstance(v, type)
                    and issubclass(v, FlowSpec) and v is not FlowSpec)
    return FlowContext(flow_cls)
