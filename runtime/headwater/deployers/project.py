"""What a deployed object says about the flow it runs: Metaflow's ``metaflow/*`` keys (flow,
owner, and with ``@project`` the project, branch and project flow name, named as
Metaflow's ``@project`` names them: ``user.<name>``, ``test.<branch>``, ``prod[.<branch>]``),
for Argo annotations and labels and for state machine tags."""

from __future__ import annotations

import re

FLOW_NAME = "metaflow/flow_name"
OWNER = "metaflow/owner"
PROJECT_NAME = "metaflow/project_name"
BRANCH_NAME = "metaflow/branch_name"
PROJECT_FLOW_NAME = "metaflow/project_flow_name"


def project_decorator(flow_cls: type):
    """The flow's ``@project``, or None."""
    from ..decorators.project import ProjectDecorator

    return next((d for d in getattr(flow_cls, "_flow_decorators", [])
                 if isinstance(d, ProjectDecorator)), None)


def deployment_metadata(flow_cls: type, user: str) -> dict[str, str]:
    """The ``metaflow/*`` keys and their exact values."""
    out = {FLOW_NAME: flow_cls.__name__, OWNER: user}
    project = project_decorator(flow_cls)
    if project is not None:
        values = project.current_values(flow_cls.__name__, user)
        out.update({PROJECT_NAME: values["project_name"], BRANCH_NAME: values["branch_name"],
                    PROJECT_FLOW_NAME: values["project_flow_name"]})
    return out


def label_value(text: str) -> str:
    """``text`` as a Kubernetes label value (at most 63 of ``[A-Za-z0-9_.-]``, alphanumeric
    at both ends); annotations keep the exact text."""
    clean = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", clean)


def project_labels(metadata: dict[str, str]) -> dict[str, str]:
    """The project and branch as labels, so ``kubectl get -l`` can select them."""
    return {key: label_value(metadata[key]) for key in (PROJECT_NAME, BRANCH_NAME)
            if key in metadata}
