"""The task entry point of a deployed flow: one task, located by its coordinates.

``python flow.py deployed-step --run-id R --step S --path /0/3 --attempt N`` is what every
Argo Workflows pod and Step Functions job runs (inside the container entry point that
unpacks the code package). The start task also registers the run and stores its
parameters; every task writes what the scheduler needs to go on (the foreach items, the
branch a conditional took): files for Argo's output parameters (``--outputs-dir``), an item
in the stacks' DynamoDB table for Step Functions (``--outputs-table``).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from ..atomic import write_atomic
from ..compute.container import SPEC_FILE_VARIABLE
from .coordinates import PARAMETERS_STEP, TaskLocator, latest_success, task_id_for

if TYPE_CHECKING:
    from ..datastore.base import StorageBackend
    from ..graph import FlowGraph
    from ..task import RunEnvironment, TaskResult

FOREACH_ITEMS_FILE = "foreach-items"
NEXT_STEP_FILE = "next-step"
# Records in the Step Functions state table expire after this long (its TTL attribute).
STATE_TTL_SECONDS = 30 * 24 * 3600
# A wide foreach's items for a distributed Map: <datastore>/<WIDE_ITEMS_DIR>/<pathspec>.json
WIDE_ITEMS_DIR = "sfn-foreach"
# Where a foreach's items are (the table item's ``items_in``): the Choice before the Maps.
ITEMS_IN_TABLE, ITEMS_IN_S3 = "table", "s3"


class Outputs:
    """Where a deployed task leaves what the scheduler needs next."""

    def write(self, pathspec: str, items: list[int], next_step: str) -> None:
        raise NotImplementedError


class FileOutputs(Outputs):
    """Argo Workflows: files the pod's output parameters read."""

    def __init__(self, folder: str):
        self.folder = folder

    def write(self, pathspec: str, items: list[int], next_step: str) -> None:
        os.makedirs(self.folder, exist_ok=True)
        with open(os.path.join(self.folder, FOREACH_ITEMS_FILE), "w") as f:
            json.dump(items, f)
        with open(os.path.join(self.folder, NEXT_STEP_FILE), "w") as f:
            f.write(next_step)


class DynamoDBOutputs(Outputs):
    """Step Functions: an item in the stacks' state table, read by a ``getItem`` state
    (keyed by ``Flow/run/step/path``; the payload of an execution stays small). A foreach
    wider than ``inline_limit`` puts its items in the S3 datastore (``wide_store``) instead,
    for the distributed Map's ItemReader."""

    def __init__(self, table: str, inline_limit: int | None = None,
                 wide_store: "StorageBackend | None" = None):
        self.table, self.inline_limit, self.wide_store = table, inline_limit, wide_store

    def write(self, pathspec: str, items: list[int], next_step: str) -> None:
        import time

        import boto3

        where = ITEMS_IN_TABLE
        if self.inline_limit is not None and self.wide_store is not None \
                and len(items) > self.inline_limit:
            self.wide_store.put_bytes(f"{WIDE_ITEMS_DIR}/{pathspec}.json",
                                      json.dumps(items).encode())
            where, items = ITEMS_IN_S3, []
        client = boto3.client("dynamodb")
        client.put_item(TableName=self.table, Item={
            "pathspec": {"S": pathspec},
            "foreach_items": {"L": [{"N": str(i)} for i in items]},
            "items_in": {"S": where},
            "next_step": {"S": next_step},
            "ttl": {"N": str(int(time.time()) + STATE_TTL_SECONDS)}})


def run_deployed_step(flow_cls: type, graph: "FlowGraph", env: "RunEnvironment", *,
                      run_id: str, step: str, path: tuple[int, ...], attempt: int,
                      user: str, namespace: str | None, tags: list[str],
                      system_tags: list[str], parameters: dict[str, Any] | None,
                      outputs: Outputs | None) -> "TaskResult":
    """Run one deployed task and write its outputs for the scheduler."""
    from ..environments.task_environment import enter_environment
    from ..task import TaskRunner

    md, flow = env.metadata, flow_cls.__name__
    if step == "start":
        md.register_flow(flow, user)
        md.new_run(flow, user, tags, system_tags, run_id=run_id)
        if latest_success(env, flow, run_id, PARAMETERS_STEP, task_id_for(()), 1) is None:
            from ..attempt import record_parameters
            from ..flowspec import constant_values
            from ..run_state import RunInfo

            record_parameters(env, RunInfo(flow, run_id, user, namespace, tags),
                              {**constant_values(flow_cls), **(parameters or {})},
                              task_id=task_id_for(()))
    md.register_step(flow, run_id, step, user)
    task_id = task_id_for(path)
    md.new_task(flow, run_id, step, user, task_id=task_id)
    if attempt < 0:  # the scheduler does not count attempts (Step Functions' Retry)
        attempt = next_attempt(env, flow, run_id, step, task_id)
    spec = TaskLocator(graph, env, flow, run_id).spec(step, path, attempt, user, namespace,
                                                      tags)
    # A @pypi/@conda step: build its environment from the snapshot `create` made and run
    # this same command again inside it (everything above is idempotent); returns inside.
    enter_environment(flow_cls, graph, spec, env)
    spec_file = os.environ.get(SPEC_FILE_VARIABLE)
    if spec_file:  # the container entry point stores this attempt's logs
        write_atomic(spec_file, json.dumps(spec.to_json()))
    result = TaskRunner(flow_cls, graph, spec, env).run()
    if outputs is not None and result.ok:
        # The foreach's item indices (Argo fans out over them, as does a Map state) and
        # the branch a conditional took.
        pathspec = f"{flow}/{run_id}/{step}" + "".join(f"/{i}" for i in path)
        outputs.write(pathspec, list(range(result.foreach_count or 0)),
                      result.targets[0] if len(result.targets) == 1 else "")
    return result


def next_attempt(env: "RunEnvironment", flow: str, run_id: str, step: str, task_id: str) -> int:
    """The attempt number a new attempt of this task gets: one past the latest started."""
    from ..attempt import attempt_numbers

    started = attempt_numbers(env.metadata.get_metadata(flow, run_id, step, task_id))
    return started[-1] + 1 if started else 0
