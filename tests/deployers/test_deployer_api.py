"""The Python ``Deployer`` facade (Metaflow's ``from metaflow import Deployer``) against the
same stand-ins the CLI tests use: the Kubernetes API stand-in holding Argo's objects, and
moto server's Step Functions, Batch and EventBridge. ``create`` runs the flow's own deploy
command; ``trigger``, ``status``, ``terminate``, ``from_deployment`` and ``delete`` talk to
the scheduler directly. No Argo controller or state machine runs the tasks here."""

from __future__ import annotations

import json
import urllib.request

import pytest

from headwater import DeployedFlow, Deployer
from headwater.deploy_api import DeployerError
from headwater.deploy_api.argo_workflows import ArgoWorkflowsDeployedFlow
from headwater.deploy_api.step_functions import StepFunctionsDeployedFlow

from .test_argo_cli import kube_api, shared_s3_env  # noqa: F401  (fixtures)
from .test_step_functions import moto_sfn, shared  # noqa: F401  (fixtures)


def test_argo_create_trigger_terminate_lookup_delete(kube_api, flow_file,  # noqa: F811
                                                     shared_s3_env, monkeypatch):  # noqa: F811
    path = flow_file("linear")
    deployed = Deployer(str(path), show_output=False).argo_workflows().create(
        namespace="flows", tags=["team-ml"], max_workers=3)
    assert isinstance(deployed, ArgoWorkflowsDeployedFlow)
    assert (deployed.name, deployed.flow_name) == ("linearflow", "LinearFlow")
    assert deployed.metadata.startswith("service@")
    stored = kube_api.custom_objects[("flows", "workflowtemplates", "linearflow")]
    assert stored["spec"]["parallelism"] == 3
    assert deployed.workflow_template["metadata"]["name"] == "linearflow"

    triggered = deployed.trigger(alpha=7)
    workflow = kube_api.custom_objects[("flows", "workflows", triggered.name)]
    assert workflow["spec"]["arguments"]["parameters"] == [{"name": "alpha", "value": "7"}]
    assert triggered.pathspec == f"LinearFlow/argo-{triggered.name}"
    assert triggered.run is None  # nothing runs the workflow here: no run yet
    assert triggered.status == "Pending" and triggered.is_running
    workflow["status"] = {"phase": "Running"}
    assert triggered.status == "Pending"  # running, but its start task has not begun
    workflow["status"] = {"phase": "Error"}
    assert triggered.status == "Failed" and not triggered.is_running
    assert triggered.terminate()
    assert kube_api.custom_objects[("flows", "workflows", triggered.name)]["spec"][
        "shutdown"] == "Terminate"

    renamed = Deployer(str(path), show_output=False).argo_workflows(name="Scoring").create(
        namespace="flows")
    assert (renamed.name, renamed.flow_name) == ("scoring", "LinearFlow")
    assert ("flows", "workflowtemplates", "scoring") in kube_api.custom_objects
    assert renamed.delete()

    found = DeployedFlow.from_deployment("flows/linearflow")
    assert isinstance(found, ArgoWorkflowsDeployedFlow) and found.flow_name == "LinearFlow"
    again = DeployedFlow.get_triggered_run("flows/linearflow", f"argo-{triggered.name}")
    assert again.status == "Failed"
    monkeypatch.setenv("METAFLOW_KUBERNETES_NAMESPACE", "flows")
    assert [d.name for d in DeployedFlow.list_deployed_flows("LinearFlow")] == ["linearflow"]
    assert [d.name for d in DeployedFlow.list_deployed_flows("OtherFlow")] == []

    with pytest.raises(DeployerError, match="(?s)no parameter 'beta'.*parameters: alpha, name"):
        found.trigger(beta=1)
    assert found.delete()
    assert not found.delete()
    assert not [k for k in kube_api.custom_objects if k[1] == "workflowtemplates"]
    with pytest.raises(DeployerError, match="no WorkflowTemplate flows/linearflow"):
        DeployedFlow.from_deployment("flows/linearflow")


def test_create_failure_and_bad_options_are_one_line(flow_file, shared_s3_env,  # noqa: F811
                                                     monkeypatch, tmp_path):
    path = flow_file("linear")
    with pytest.raises(DeployerError, match="argo-workflows create has no option 'retries'"):
        Deployer(str(path)).argo_workflows().create(retries=2)
    with pytest.raises(DeployerError, match="no option 'only_json'"):
        Deployer(str(path)).argo_workflows().create(only_json=True)
    with pytest.raises(DeployerError, match="(?s)argo-workflows has no option 'authorize'.*"
                                            "known options: name"):
        Deployer(str(path)).argo_workflows(authorize="token")
    with pytest.raises(DeployerError,
                       match="unknown deployer 'airflow'; known: argo_workflows, step_functions"):
        DeployedFlow.from_deployment("x", impl="airflow")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(DeployerError) as failed:
        Deployer(str(path), show_output=False).argo_workflows().create()
    assert "no Kubernetes cluster configured" in str(failed.value)


def test_step_functions_create_trigger_terminate_delete(shared, flow_file,  # noqa: F811
                                                        monkeypatch):
    urllib.request.urlopen(urllib.request.Request(
        f"{shared.endpoint_url}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": False}}).encode(),
        method="POST"))
    path = flow_file("linear")
    env = {"METAFLOW_SFN_IAM_ROLE": "arn:aws:iam::123456789012:role/sfn",
           "METAFLOW_SFN_STATE_MACHINE_PREFIX": "hw-api"}
    deployed = Deployer(str(path), show_output=False, env=env).step_functions().create(
        tags=["team=ml"])
    assert isinstance(deployed, StepFunctionsDeployedFlow)
    assert (deployed.name, deployed.flow_name) == ("hw-api_LinearFlow", "LinearFlow")

    triggered = deployed.trigger(alpha=5)
    assert triggered.pathspec == f"LinearFlow/sfn-{triggered.name}"
    sfn = shared.client("stepfunctions")
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
               if m["name"] == "hw-api_LinearFlow")
    execution = sfn.list_executions(stateMachineArn=arn)["executions"][0]
    assert json.loads(sfn.describe_execution(executionArn=execution["executionArn"])[
        "input"]) == {"Parameters": {"alpha": "5"}}
    assert triggered.status == "RUNNING" and triggered.is_running
    assert triggered.terminate()
    assert triggered.status == "ABORTED" and not triggered.terminate()

    found = DeployedFlow.from_deployment("hw-api_LinearFlow", impl="step_functions")
    assert found.flow_name == "LinearFlow"
    assert DeployedFlow.from_step_functions("hw-api_LinearFlow").name == "hw-api_LinearFlow"
    assert "hw-api_LinearFlow" in [d.name for d in DeployedFlow.list_deployed_flows(
        "LinearFlow", impl="step-functions")]
    assert found.delete()
    with pytest.raises(DeployerError, match="no state machine 'hw-api_LinearFlow'"):
        StepFunctionsDeployedFlow.from_deployment("hw-api_LinearFlow")
    renamed = Deployer(str(path), show_output=False, env=env).step_functions(
        name="nightly").create()
    assert renamed.name == "hw-api_nightly"  # the stacks' rights cover <prefix>_* only
    assert renamed.delete()


def test_nbdeployer_deploys_a_flow_class_from_a_module(kube_api, tmp_path,  # noqa: F811
                                                       shared_s3_env, monkeypatch):  # noqa: F811
    import importlib
    import textwrap

    from headwater import NBDeployer

    from .flows import LINEAR

    (tmp_path / "nbcells.py").write_text(textwrap.dedent(LINEAR).split("if __name__")[0])
    monkeypatch.syspath_prepend(str(tmp_path))
    flow_class = importlib.import_module("nbcells").LinearFlow
    nb = NBDeployer(flow_class, show_output=False, base_dir=str(tmp_path / "nb"))
    assert nb.flow_file == str(tmp_path / "nb" / "linearflow.py")
    deployed = nb.argo_workflows().create(namespace="flows")
    assert (deployed.name, deployed.flow_name) == ("linearflow", "LinearFlow")
    assert ("flows", "workflowtemplates", "linearflow") in kube_api.custom_objects
    nb.cleanup()
    assert not (tmp_path / "nb" / "linearflow.py").exists()
    assert deployed.delete()  # the deployment outlives the file it was made from
