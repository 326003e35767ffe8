"""The task entry point of a deployed flow: one task, located by its coordinates.

``python flow.py deployed-step --run-id R --step S --path /0/3 --attempt N`` is what every
Argo Workflows pod and Step Functions job runs (inside the container entry point that
unpacks the code package). The start task also registers the run and stores its
parameters; every task writes what the scheduler needs to go on (the foreach items, the
branch a conditional took) as small files in ``--outputs-dir``.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from .coordinates import PARAMETERS_STEP, TaskLocator, latest_success, task_id_for

if TYPE_CHECKING:
    from ..graph import FlowGraph
    from ..task import RunEnvironment, TaskResult

FOREACH_ITEMS_FILE = "foreach-items"
NEXT_STEP_FILE = "next-step"


def run_deployed_step(flow_cls: type, graph: "FlowGraph", env: "RunEnvironment", *,
                      run_id: str, step: str, path: tuple[int, ...], attempt: int,
                      user: str, namespace: str | None, tags: list[str],
                      system_tags: list[str], parameters: dict[str, Any] | None,
                      outputs_dir: str | None) -> "TaskResult":
    """Run one deployed task and write its outputs for the scheduler."""
    from ..task import TaskRunner

    md, flow = env.metadata, flow_cls.__name__
    if step == "start":
        md.register_flow(flow, user)
        md.new_run(flow, user, tags, system_tags, run_id=run_id)
        if latest_success(env, flow, run_id, PARAMETERS_STEP, task_id_for(()), 1) is None:
            from ..attempt import record_parameters

            record_parameters(env, flow, run_id, user, dict(parameters or {}),
                              task_id=task_id_for(()))
    md.register_step(flow, run_id, step, user)
    md.new_task(flow, run_id, step, user, task_id=task_id_for(path))
    spec = TaskLocator(graph, env, flow, run_id).spec(step, path, attempt, user, namespace,
                                                      tags)
    result = TaskRunner(flow_cls, graph, spec, env).run()
    if outputs_dir:
        write_outputs(outputs_dir, result)
    return result


def write_outputs(outputs_dir: str, result: "TaskResult") -> None:
    """The scheduler's inputs for what comes next: the foreach's item indices (Argo fans
    out over this list; a Step Functions Map over the same) and the branch taken."""
    os.makedirs(outputs_dir, exist_ok=True)
    items = list(range(result.foreach_count or 0))
    with open(os.path.join(outputs_dir, FOREACH_ITEMS_FILE), "w") as f:
        json.dump(items, f)
    with open(os.path.join(outputs_dir, NEXT_STEP_FILE), "w") as f:
        f.write(result.targets[0] if len(result.targets) == 1 else "")
