"""The ``environment`` commands of a flow:

    python flow.py environment show STEP [--run-id RUN]
    python flow.py environment resolve

``resolve`` resolves, snapshots and builds every step's environment without running the
flow (what ``run`` does first): do it before deploying a flow (``argo-workflows create``,
``step-functions create``) whose first scheduled run must find the snapshot.

``show`` prints the lock a step's tasks ran with (recorded in each task's metadata as
``environment-lock``), read from the snapshot in the datastore: every package at its exact
version with its wheel's sha256. Without a run of the step it shows the step's spec and
the lock the snapshot holds for it, if any.
"""

from __future__ import annotations

import click

from ..exceptions import ObjectNotFound


def flow_environment_group() -> click.Group:
    """The ``environment`` group the flow CLI adds."""

    @click.group(help="Inspect the per-step environments (@pypi, @conda).")
    def environment():
        pass

    @environment.command(help="Show the lock STEP ran with (of the latest run, or --run-id).")
    @click.argument("step_name", metavar="STEP")
    @click.option("--run-id", help="Run to read (default: the flow's latest run).")
    @click.pass_obj
    def show(obj, step_name, run_id):
        from ..environments.declared import step_spec
        from ..environments.snapshot import SnapshotStore
        from ..environments.task_environment import METADATA_FIELD

        graph = obj.prepare()
        if step_name not in graph:
            raise ObjectNotFound(f"{obj.flow_name} has no step {step_name!r}",
                                 f"steps: {', '.join(n.name for n in graph)}")
        env = obj.environment()
        store = SnapshotStore(env.backend)
        md = env.metadata
        if run_id is None:
            runs = md.get_runs(obj.flow_name)
            run_id = str(runs[0]["run_number"]) if runs else None
        locks: dict[str, list[str]] = {}
        for task in md.get_tasks(obj.flow_name, run_id, step_name) if run_id else []:
            task_id = str(task["task_id"])
            for row in md.get_metadata(obj.flow_name, run_id, step_name, task_id):
                if row["field_name"] == METADATA_FIELD and row["value"]:
                    locks.setdefault(row["value"], []).append(task_id)
        if locks:
            for lock_hash, tasks in locks.items():
                lock = store.load_lock(lock_hash)
                click.echo(f"{obj.flow_name}/{run_id}/{step_name} (tasks {', '.join(tasks)}): "
                           f"lock {lock_hash}, {lock.spec.kind}, python {lock.spec.python}, "
                           f"{lock.spec.platform}, resolved by {lock.resolver}")
                for line in lock.describe():
                    click.echo(f"    {line}")
            return
        spec = step_spec(obj.flow_cls, graph, step_name)
        where = f"run {run_id}" if run_id else "any run"
        if spec is None:
            click.echo(f"Step {step_name} has no environment (no @pypi/@conda) and none is "
                       f"recorded for it in {where}: it runs in the scheduler's interpreter.")
            return
        snapshot = store.lock_for(spec)
        click.echo(f"Step {step_name} asks for {spec.kind} {spec.describe()}; no task of {where} "
                   f"recorded a lock.")
        if snapshot is None:
            click.echo("    Not resolved yet: the next run resolves it.")
        else:
            click.echo(f"    The snapshot holds lock {snapshot.lock_hash}:")
            for line in snapshot.describe():
                click.echo(f"    {line}")

    @environment.command(help="Resolve, snapshot and build every step's environment now.")
    @click.pass_obj
    def resolve(obj):
        from ..console import Console
        from ..environments.task_environment import prepare_environments

        graph = obj.prepare()
        done = prepare_environments(obj.flow_cls, graph, obj.environment().backend,
                                    Console(quiet=obj.quiet).status)
        if not done:
            click.echo(f"{obj.flow_name} has no step with an environment (@pypi, @conda).")

    return environment
