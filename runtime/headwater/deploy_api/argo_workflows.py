"""The ``Deployer`` facade for Argo Workflows: a WorkflowTemplate deployed by
``argo-workflows create``, Workflows submitted from it, read and changed through the
Kubernetes API (``deployers/argo_client.py``)."""

from __future__ import annotations

import re
from typing import Any, Iterator

from .base import (DeployedFlow, DeployerError, DeployerImpl, DeployerType, TriggeredRun,
                   parameter_text)


class ArgoWorkflowsDeployer(DeployerImpl):
    TYPE = DeployerType.ARGO_WORKFLOWS
    CREATED = re.compile(r"^Applied WorkflowTemplate ([^/\s]+)/(\S+?)\.$", re.MULTILINE)
    namespace: str = "default"

    def _created(self, found: re.Match[str]) -> None:
        self.namespace, self.name = found.group(1), found.group(2)

    @staticmethod
    def deployed_flow_type() -> type[DeployedFlow]:
        return ArgoWorkflowsDeployedFlow

    _api: Any = None

    def api(self) -> Any:
        """The CustomObjectsApi for the profile's cluster (built once)."""
        from ..deployers.argo_client import custom_objects_api

        if self._api is None:
            self._api = custom_objects_api(self.settings.get("METAFLOW_KUBERNETES_CONTEXT"))
        return self._api


def _argo_get(api: Any, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
    from kubernetes.client.exceptions import ApiException

    from ..deployers.argo_client import GROUP, VERSION, ArgoApiError

    try:
        return api.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise ArgoApiError(f"reading {plural} {namespace}/{name}: {exc.reason}",
                           "check that the cluster is reachable (kubectl get nodes)") from None


class ArgoWorkflowsTriggeredRun(TriggeredRun):
    """A Workflow submitted from the deployed WorkflowTemplate (run id ``argo-<name>``)."""

    deployer: ArgoWorkflowsDeployer

    def _workflow(self) -> tuple[Any, dict[str, Any] | None]:
        api = self.deployer.api()
        return api, _argo_get(api, self.deployer.namespace, "workflows", self.name)

    @property
    def status(self) -> str | None:
        """The Workflow's phase (``Pending``, ``Running``, ``Succeeded``, ``Failed``), as
        Metaflow reports it: ``Error`` counts as ``Failed``, and a Workflow whose run has
        not started yet is ``Pending``. None when the Workflow is gone."""
        _, workflow = self._workflow()
        if workflow is None:
            return None
        phase = (workflow.get("status") or {}).get("phase") or "Pending"
        phase = {"Error": "Failed"}.get(phase, phase)
        if phase == "Running" and self.run is None:
            return "Pending"
        return phase

    def _set_spec(self, **fields: Any) -> bool:
        from kubernetes.client.exceptions import ApiException

        from ..deployers.argo_client import GROUP, VERSION, ArgoApiError

        api, workflow = self._workflow()
        if workflow is None:
            return False
        workflow["spec"].update(fields)
        try:
            api.replace_namespaced_custom_object(GROUP, VERSION, self.deployer.namespace,
                                                 "workflows", self.name, workflow)
        except ApiException as exc:
            raise ArgoApiError(f"updating workflow {self.name}: {exc.reason}",
                               "retry; another client changed the workflow meanwhile") from None
        return True

    def terminate(self, **kwargs: Any) -> bool:
        """Stop the Workflow now (Argo's ``shutdown: Terminate``); False when it is gone."""
        return self._set_spec(shutdown="Terminate")

    def suspend(self, **kwargs: Any) -> bool:
        """Pause the Workflow: no new pods start until ``unsuspend``."""
        return self._set_spec(suspend=True)

    def unsuspend(self, **kwargs: Any) -> bool:
        return self._set_spec(suspend=False)


class ArgoWorkflowsDeployedFlow(DeployedFlow):
    """A WorkflowTemplate (and its CronWorkflow for ``@schedule``)."""

    TYPE = DeployerType.ARGO_WORKFLOWS
    deployer: ArgoWorkflowsDeployer

    def _template(self) -> dict[str, Any]:
        template = _argo_get(self.deployer.api(), self.deployer.namespace,
                             "workflowtemplates", self.name)
        if template is None:
            raise DeployerError(f"no WorkflowTemplate {self.deployer.namespace}/{self.name} "
                                "is deployed", "create it first: Deployer(...).argo_workflows()"
                                ".create()")
        return template

    def trigger(self, **params: Any) -> ArgoWorkflowsTriggeredRun:
        """Submit a Workflow with ``params`` (the flow's parameters, by name)."""
        from ..deployers.argo_client import submit

        declared = [p["name"] for p in self._template()["spec"].get("arguments", {}).get(
            "parameters", [])]
        given: dict[str, str] = {}
        for key, value in params.items():
            name = key if key in declared else key.replace("_", "-")
            if name not in declared:
                raise DeployerError(f"{self.flow_name} has no parameter {key!r}",
                                    f"known parameters: {', '.join(declared) or 'none'}")
            given[name] = parameter_text(value)
        workflow = submit(self.deployer.api(), self.deployer.namespace, self.name, given)
        return self._triggered(f"argo-{workflow}")

    def _triggered(self, run_id: str) -> ArgoWorkflowsTriggeredRun:
        return ArgoWorkflowsTriggeredRun(self.deployer, f"{self.flow_name}/{run_id}",
                                         run_id.removeprefix("argo-"), self.metadata)

    def delete(self, **kwargs: Any) -> bool:
        """Remove the WorkflowTemplate and its schedule; False when nothing was deployed."""
        from ..deployers.argo_client import delete

        return bool(delete(self.deployer.api(), self.deployer.namespace, self.name))

    @property
    def workflow_template(self) -> dict[str, Any]:
        """The WorkflowTemplate as the cluster stores it."""
        return self._template()

    @classmethod
    def _lookup(cls, identifier: str, metadata: str | None) -> DeployedFlow:
        probe = ArgoWorkflowsDeployer(None)
        namespace, _, name = identifier.rpartition("/")
        namespace = namespace or probe.settings.get("METAFLOW_KUBERNETES_NAMESPACE") or "default"
        template = _argo_get(probe.api(), namespace, "workflowtemplates", name)
        if template is None:
            raise DeployerError(f"no WorkflowTemplate {namespace}/{name} is deployed",
                                "check the name (list_deployed_flows() lists them) and "
                                "METAFLOW_KUBERNETES_NAMESPACE, or pass 'namespace/name'")
        return cls._from_template(template, metadata)

    @classmethod
    def _from_template(cls, template: dict[str, Any], metadata: str | None) -> DeployedFlow:
        from ..deployers.argo import LABEL_PREFIX

        meta = template["metadata"]
        flow_name = meta.get("annotations", {}).get(f"{LABEL_PREFIX}/flow-name")
        if not flow_name:
            raise DeployerError(f"WorkflowTemplate {meta['name']} was not deployed by Headwater",
                                "name a template that `argo-workflows create` made")
        return cls._found(ArgoWorkflowsDeployer, meta["name"], flow_name, metadata,
                          namespace=meta.get("namespace") or "default")

    @classmethod
    def _list(cls, flow_name: str | None) -> Iterator[DeployedFlow]:
        from ..deployers.argo import LABEL_PREFIX, k8s_name
        from ..deployers.argo_client import GROUP, VERSION

        probe = ArgoWorkflowsDeployer(None)
        namespace = probe.settings.get("METAFLOW_KUBERNETES_NAMESPACE") or "default"
        selector = f"{LABEL_PREFIX}/flow={k8s_name(flow_name)}" if flow_name else None
        found = probe.api().list_namespaced_custom_object(
            GROUP, VERSION, namespace, "workflowtemplates", label_selector=selector)
        for template in found.get("items", []):
            annotations = template["metadata"].get("annotations", {})
            if annotations.get(f"{LABEL_PREFIX}/flow-name") and (
                    flow_name is None or annotations[f"{LABEL_PREFIX}/flow-name"] == flow_name):
                yield cls._from_template(template, None)
