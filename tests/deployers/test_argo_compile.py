"""The Argo Workflows compiler: every generated object validates against Argo's own models
(hera's pydantic models of the Argo API) and every pod spec against the Kubernetes schema
(kubernetes-validate, strict); every reference (templates, parameters, task outputs) exists
and every ``{{...}}`` is one of Argo's variables in scope. These prove the objects are
well-formed; that they *run* as intended is proven by test_argo_run.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
from hera.workflows.models import CronWorkflow, WorkflowTemplate

from .conftest import IMAGE, shared_env
from .flows import SHAPES

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*_flow.py"))
VARIABLE = re.compile(r"\{\{\s*([^}]+?)\s*\}\}")


def check_workflow_template(obj: dict) -> None:
    WorkflowTemplate.model_validate(obj)
    spec = obj["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    assert spec["entrypoint"] in templates
    workflow_params = {p["name"] for p in spec.get("arguments", {}).get("parameters", [])}
    for template in spec["templates"]:
        inputs = {p["name"] for p in template.get("inputs", {}).get("parameters", [])}
        if "container" in template:
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [dict(template["container"], name="main")]}}
            kubernetes_validate.validate(_fill(pod), "1.30", strict=True)
            for text in _strings(template):
                for var in VARIABLE.findall(text):
                    parts = var.split(".")
                    ok = (var == "workflow.name"
                          or (parts[:2] == ["inputs", "parameters"] and parts[2] in inputs)
                          or (parts[:2] == ["workflow", "parameters"]
                              and parts[2] in workflow_params)
                          or (var == "retries" and "retryStrategy" in template))
                    assert ok, f"{template['name']}: {{{{{var}}}}} is not in scope"
            continue
        tasks = {t["name"]: t for t in template["dag"]["tasks"]}
        for task in tasks.values():
            assert task["template"] in templates, task
            target = templates[task["template"]]
            declared = {p["name"] for p in target.get("inputs", {}).get("parameters", [])}
            given = {p["name"] for p in task.get("arguments", {}).get("parameters", [])}
            assert declared == given, task["name"]
            for ref in re.findall(r"([A-Za-z0-9-]+)\.(?:Succeeded|Skipped)", task.get("depends", "")):
                assert ref in tasks, f"{task['name']} depends on unknown {ref}"
            for text in _strings(task):
                for var in VARIABLE.findall(text):
                    parts = var.split(".")
                    if parts[0] == "tasks":
                        source = tasks[parts[1]]
                        outputs = {p["name"] for p in templates[source["template"]]
                                   .get("outputs", {}).get("parameters", [])}
                        assert parts[2:4] == ["outputs", "parameters"] and parts[4] in outputs
                        assert parts[1] in task.get("depends", ""), "output of a task not depended on"
                    elif var == "item":
                        assert "withParam" in task
                    else:
                        assert parts[:2] == ["inputs", "parameters"] and parts[2] in inputs, var
            if "when" in task:
                filled = VARIABLE.sub("x", task["when"])
                assert re.fullmatch(r"'[^']*' == '[^']*'", filled), task["when"]


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _fill(obj):
    """Argo substitutes its variables before the pod exists: do the same with samples."""
    return json.loads(VARIABLE.sub("0", json.dumps(obj)))


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_graph_shape_compiles_to_a_valid_template(shape, flow_file, compile_argo):
    objects = compile_argo(flow_file(shape))
    assert [o["kind"] for o in objects] == ["WorkflowTemplate"]
    check_workflow_template(objects[0])


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_compiles(example, compile_argo):
    objects = compile_argo(example)
    check_workflow_template(objects[0])
    for obj in objects[1:]:
        assert obj["kind"] == "CronWorkflow"
        CronWorkflow.model_validate(obj)


def test_nested_foreach_has_one_dag_per_foreach(flow_file, compile_argo):
    template = compile_argo(flow_file("nested_foreach"))[0]
    dags = {t["name"]: [x["name"] for x in t["dag"]["tasks"]]
            for t in template["spec"]["templates"] if "dag" in t}
    assert dags == {"main": ["start", "start-each", "outer-join", "end"],
                    "each-start": ["fan", "fan-each", "inner-join"],
                    "each-fan": ["work"]}
    fan_out = next(t for t in template["spec"]["templates"] if t["name"] == "each-start")
    inner = next(x for x in fan_out["dag"]["tasks"] if x["name"] == "fan-each")
    assert inner["withParam"] == "{{tasks.fan.outputs.parameters.foreach-items}}"
    assert inner["arguments"]["parameters"] == [
        {"name": "path", "value": "{{inputs.parameters.path}}/{{item}}"}]


def test_conditional_branches_and_their_join(flow_file, compile_argo):
    template = compile_argo(flow_file("switches"))[0]
    main = {t["name"]: t for t in template["spec"]["templates"][0]["dag"]["tasks"]}
    assert main["big"]["when"] == "'{{tasks.start.outputs.parameters.next-step}}' == 'big'"
    assert main["big-more"]["depends"] == "big.Succeeded"
    assert "when" not in main["big-more"]
    # the join depends on explicit results: a bare name would also count Skipped as done
    assert main["merge"]["depends"] == "big-more.Succeeded || small.Succeeded"
    assert main["end"]["depends"] == "large.Succeeded || tiny.Succeeded"


def test_retry_and_timeout_become_the_templates_strategy(flow_file, compile_argo):
    template = compile_argo(flow_file("conditional_in_foreach"))[0]
    check = next(t for t in template["spec"]["templates"] if t["name"] == "step-check")
    assert check["retryStrategy"] == {"limit": "2", "retryPolicy": "Always"}
    # the step raises TimeoutException at 120 s; the pod is stopped after the kill grace
    assert check["activeDeadlineSeconds"] == 125
    args = check["container"]["command"]
    assert args[args.index("--attempt") + 1] == "{{retries}}"


def test_parameters_are_workflow_arguments_with_defaults(flow_file, compile_argo):
    template = compile_argo(flow_file("linear"))[0]
    assert template["spec"]["arguments"]["parameters"] == [
        {"name": "alpha", "value": "2", "description": "a multiplier"},
        {"name": "name", "value": "x"}]
    start = next(t for t in template["spec"]["templates"] if t["name"] == "step-start")
    command = start["container"]["command"]
    assert command[-4:] == ["--alpha", "{{workflow.parameters.alpha}}",
                            "--name", "{{workflow.parameters.name}}"]
    assert start["container"]["image"] == IMAGE


def test_wide_foreach_does_not_grow_the_template(flow_file, compile_argo):
    """A 10,000-way foreach compiles to the very same template as a 10-way one: the items
    exist only at run time (the split pod writes their indices, and each join finds its
    inputs from the count its split recorded)."""
    narrow = compile_argo(flow_file("wide_foreach", "narrow/flow.py"))[0]
    wide = compile_argo(flow_file(SHAPES["wide_foreach"].replace("default=10)", "default=10000)"),
                                  "wide/flow.py"))[0]
    sizes = {10: len(json.dumps(narrow)), 10_000: len(json.dumps(wide))}
    print(f"WorkflowTemplate size: {sizes}")
    assert sizes[10_000] - sizes[10] == len("10000") - len("10")  # only the default differs
    assert sizes[10] < 20_000
    # the only per-run growth is the split pod's output: its item indices
    import os
    import tempfile

    from headwater.deployers.deployed_step import FileOutputs

    out = tempfile.mkdtemp()
    FileOutputs(out).write("WideFlow/argo-x/start", list(range(10_000)), "work")
    assert len(open(os.path.join(out, "foreach-items")).read()) < 60_000


def test_secrets_never_reach_the_template(flow_file, compile_argo):
    env = shared_env(METAFLOW_SERVICE_AUTH_KEY="sk-very-secret",
                     AWS_SECRET_ACCESS_KEY="aws-very-secret")
    text = json.dumps(compile_argo(flow_file("linear"), env=env))
    assert "very-secret" not in text


def test_project_names_the_template(flow_file, compile_argo):
    source = SHAPES["linear"].replace("class LinearFlow", "@project(name='fraud')\nclass LinearFlow"
                                      ).replace("import FlowSpec", "import FlowSpec, project")
    template = compile_argo(flow_file(source))[0]
    assert template["metadata"]["name"] == "fraud-user-tester-linearflow"


def test_name_option_renames_the_deployment_and_not_a_project(flow_file):
    """``argo-workflows --name`` (Metaflow's group option) names the WorkflowTemplate and its
    CronWorkflow; a @project flow's name is its project's and branch's, so it is refused."""
    import os
    import subprocess
    import sys

    def create(path: Path, name: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(path), "argo-workflows", "--name", name,
                               "create", "--only-json"], env={**os.environ, **shared_env()},
                              capture_output=True, text=True, timeout=60)

    scheduled = SHAPES["linear"].replace("class LinearFlow", "@schedule(hourly=True)\nclass "
                                         "LinearFlow").replace("import FlowSpec",
                                                               "import FlowSpec, schedule")
    template, cron = json.loads(create(flow_file(scheduled), "Nightly Scoring").stdout)
    assert template["metadata"]["name"] == "nightly-scoring"
    assert cron["spec"]["workflowSpec"]["workflowTemplateRef"]["name"] == "nightly-scoring"
    project = SHAPES["linear"].replace("class LinearFlow", "@project(name='fraud')\nclass "
                                       "LinearFlow").replace("import FlowSpec",
                                                             "import FlowSpec, project")
    refused = create(flow_file(project, "project_flow.py"), "other")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.splitlines()[0] == (
        "Configuration error: argo-workflows --name cannot rename a @project flow's deployment")
    empty = create(flow_file("linear", "plain_flow.py"), " ")
    assert empty.returncode == 1 and empty.stderr.splitlines() == [
        "Configuration error: argo-workflows --name is empty",
        "  Fix: give a name, or leave it out"]


def test_project_labels_and_annotations_follow_metaflow(flow_file, compile_argo):
    """Metaflow's ``metaflow/*`` annotations (exact values) on the template, the workflows
    it starts and every pod; project and branch also as labels (selectable)."""
    source = SHAPES["linear"].replace(
        "class LinearFlow", "@project(name='fraud', branch='nightly')\n"
        "@schedule(cron='0 1 * * *')\nclass LinearFlow"
    ).replace("import FlowSpec", "import FlowSpec, project, schedule")
    template, cron = compile_argo(flow_file(source))
    WorkflowTemplate.model_validate(template)
    expected = {"metaflow/flow_name": "LinearFlow", "metaflow/owner": "tester",
                "metaflow/project_name": "fraud", "metaflow/branch_name": "test.nightly",
                "metaflow/project_flow_name": "fraud.test.nightly.LinearFlow"}
    labels = {"metaflow/project_name": "fraud", "metaflow/branch_name": "test.nightly"}
    assert template["metadata"]["name"] == "fraud-test-nightly-linearflow"
    for meta in [template["metadata"], template["spec"]["workflowMetadata"],
                 cron["metadata"]] + [t["metadata"] for t in template["spec"]["templates"]
                                      if "container" in t]:
        assert expected.items() <= meta["annotations"].items()
        assert labels.items() <= meta["labels"].items()
    plain = compile_argo(flow_file("linear"))[0]
    assert plain["metadata"]["annotations"]["metaflow/flow_name"] == "LinearFlow"
    assert "metaflow/project_name" not in plain["metadata"]["annotations"]
    assert "metaflow/project_name" not in plain["metadata"]["labels"]


def test_label_values_are_valid_kubernetes_labels():
    from headwater.deployers.project import label_value

    assert label_value("user.jane@example.com") == "user.jane-example.com"
    assert label_value("user._x_") == "user._x"
    assert len(label_value("test." + "b" * 80)) == 63


def test_schedule_adds_a_cron_workflow(flow_file, compile_argo):
    source = SHAPES["linear"].replace(
        "class LinearFlow", "@schedule(cron='0 2 * * *', timezone='Europe/Berlin')\nclass LinearFlow"
    ).replace("import FlowSpec", "import FlowSpec, schedule")
    objects = compile_argo(flow_file(source))
    cron = objects[1]
    CronWorkflow.model_validate(cron)
    assert cron["spec"]["schedules"] == ["0 2 * * *"]
    assert cron["spec"]["timezone"] == "Europe/Berlin"
    assert cron["spec"]["workflowSpec"]["workflowTemplateRef"]["name"] == "linearflow"


@pytest.mark.parametrize("env,message", [
    ({"METAFLOW_DEFAULT_DATASTORE": "local"}, "need a shared datastore"),
    ({"METAFLOW_DEFAULT_METADATA": "local"}, "need the metadata service"),
    ({"METAFLOW_KUBERNETES_CONTAINER_IMAGE": ""}, "no container image"),
])
def test_deploy_refuses_what_production_cannot_run(env, message, flow_file, compile_argo):
    proc = compile_argo(flow_file("linear"), env=shared_env(**env), check=False)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2


def test_namespace_after_the_deploy_command_is_kubernetes(flow_file, compile_argo):
    """``argo-workflows create --namespace NS`` (the documents' habit) is the Kubernetes
    namespace, not the flow-wide run namespace that ``run --namespace`` sets."""
    template = compile_argo(flow_file("linear"), "--namespace", "production-ml")[0]
    assert template["metadata"]["namespace"] == "production-ml"
    assert compile_argo(flow_file("linear"))[0]["metadata"]["namespace"] == "flows"


def test_a_batch_step_is_refused_on_argo(flow_file, compile_argo):
    source = SHAPES["linear"].replace("    @step\n    def middle", "    @batch(cpu=2)\n    @step\n    def middle"
                                      ).replace("import FlowSpec", "import batch, FlowSpec")
    proc = compile_argo(flow_file(source), check=False)
    assert proc.returncode == 1 and "step 'middle' has @batch" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_kubernetes_settings_shape_the_step_templates(flow_file, compile_argo):
    """A step's @kubernetes (over the profile, sizes combined with @resources) gives its
    Argo template the same container and pod settings a --with kubernetes Job gets."""
    source = SHAPES["linear"].replace(
        "    @step\n    def middle",
        "    @kubernetes(cpu=3, memory=8000, secrets=['model-keys'], node_selector={'pool': 'big'},"
        " tolerations=[{'key': 'big', 'operator': 'Exists', 'effect': 'NoSchedule'}])\n"
        "    @resources(memory=16000)\n    @step\n    def middle").replace(
        "import FlowSpec", "import kubernetes, resources, FlowSpec")
    env = shared_env(METAFLOW_KUBERNETES_SERVICE_ACCOUNT="headwater-tasks",
                     METAFLOW_KUBERNETES_SECRETS="task-env")
    template = compile_argo(flow_file(source), env=env)[0]
    check_workflow_template(template)
    steps = {t["name"]: t for t in template["spec"]["templates"]}
    middle, start = steps["step-middle"], steps["step-start"]
    assert middle["container"]["resources"]["requests"]["cpu"] == "3"
    assert middle["container"]["resources"]["limits"]["memory"] == "16000M"  # the larger
    assert middle["container"]["envFrom"] == [{"secretRef": {"name": "model-keys"}},
                                              {"secretRef": {"name": "task-env"}}]
    assert middle["nodeSelector"] == {"pool": "big"}
    assert middle["tolerations"][0]["key"] == "big"
    assert middle["serviceAccountName"] == start["serviceAccountName"] == "headwater-tasks"
    assert "nodeSelector" not in start
