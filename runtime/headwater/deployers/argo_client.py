"""Applying Argo objects through the official ``kubernetes`` client (CustomObjectsApi):
create-or-replace templates, submit a Workflow from a template, delete, list runs."""

from __future__ import annotations

import os
from typing import Any

from ..exceptions import HeadwaterException

GROUP, VERSION = "argoproj.io", "v1alpha1"
PLURALS = {"WorkflowTemplate": "workflowtemplates", "CronWorkflow": "cronworkflows",
           "Workflow": "workflows"}
TEMPLATE_LABEL = "workflows.argoproj.io/workflow-template"


class ArgoApiError(HeadwaterException):
    headline = "Argo Workflows error"


def custom_objects_api(context: str | None = None) -> Any:
    """A CustomObjectsApi from the kubeconfig (``context`` or the current one), else the
    in-cluster service account."""
    try:
        from kubernetes import client, config
    except ModuleNotFoundError:
        raise ArgoApiError("the kubernetes client is not installed",
                           "pip install 'headwater[k8s]'") from None
    try:
        # the client reads $KUBECONFIG once, when imported: read it on every call
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or "~/.kube/config",
                                context=context)
    except Exception as kube_error:  # no kubeconfig: maybe we run inside the cluster
        try:
            config.load_incluster_config()
        except Exception:
            raise ArgoApiError(f"no Kubernetes cluster configured ({kube_error})",
                               "set KUBECONFIG or run `az aks get-credentials` / "
                               "`aws eks update-kubeconfig`") from None
    return client.CustomObjectsApi()


def _explain(exc: Exception, what: str) -> ArgoApiError:
    status = getattr(exc, "status", None)
    if status == 404:
        return ArgoApiError(f"{what}: not found (is Argo Workflows installed in the namespace?)",
                            "check the namespace (--namespace) and that the Argo CRDs exist")
    if status == 403:
        return ArgoApiError(f"{what}: permission denied",
                            "your identity needs create/update rights on Argo objects in the "
                            "flows namespace")
    return ArgoApiError(f"{what}: {getattr(exc, 'reason', None) or exc}",
                        "check that the cluster is reachable (kubectl get nodes)")


def apply(api: Any, obj: dict[str, Any]) -> None:
    """Create ``obj``, or replace it in place when it exists."""
    from kubernetes.client.exceptions import ApiException

    kind, meta = obj["kind"], obj["metadata"]
    plural, ns, name = PLURALS[kind], meta["namespace"], meta["name"]
    try:
        api.create_namespaced_custom_object(GROUP, VERSION, ns, plural, obj)
        return
    except ApiException as exc:
        if exc.status != 409:
            raise _explain(exc, f"creating {kind} {ns}/{name}") from None
    try:
        current = api.get_namespaced_custom_object(GROUP, VERSION, ns, plural, name)
        body = dict(obj, metadata=dict(meta, resourceVersion=current["metadata"][
            "resourceVersion"]))
        api.replace_namespaced_custom_object(GROUP, VERSION, ns, plural, name, body)
    except ApiException as exc:
        raise _explain(exc, f"updating {kind} {ns}/{name}") from None


def submit(api: Any, namespace: str, template: str, parameters: dict[str, str]) -> str:
    """Start a Workflow from ``template``; returns the Workflow's name."""
    from kubernetes.client.exceptions import ApiException

    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Workflow",
            "metadata": {"generateName": f"{template}-", "namespace": namespace,
                         "labels": {TEMPLATE_LABEL: template}},
            "spec": {"workflowTemplateRef": {"name": template},
                     "arguments": {"parameters": [{"name": k, "value": v}
                                                  for k, v in parameters.items()]}}}
    try:
        created = api.create_namespaced_custom_object(GROUP, VERSION, namespace, "workflows",
                                                      body)
    except ApiException as exc:
        raise _explain(exc, f"submitting a workflow from {namespace}/{template}") from None
    return created["metadata"]["name"]


def delete(api: Any, namespace: str, name: str) -> list[str]:
    """Delete the template and its CronWorkflow; returns what was deleted."""
    from kubernetes.client.exceptions import ApiException

    deleted = []
    for kind in ("CronWorkflow", "WorkflowTemplate"):
        try:
            api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS[kind], name)
            deleted.append(kind)
        except ApiException as exc:
            if exc.status != 404:
                raise _explain(exc, f"deleting {kind} {namespace}/{name}") from None
    return deleted


def list_runs(api: Any, namespace: str, template: str) -> list[dict[str, Any]]:
    """The Workflows started from ``template``, newest first."""
    from kubernetes.client.exceptions import ApiException

    try:
        found = api.list_namespaced_custom_object(GROUP, VERSION, namespace, "workflows",
                                                  label_selector=f"{TEMPLATE_LABEL}={template}")
    except ApiException as exc:
        raise _explain(exc, f"listing workflows of {namespace}/{template}") from None
    items = found.get("items", [])
    items.sort(key=lambda w: w["metadata"].get("creationTimestamp") or "", reverse=True)
    return items
