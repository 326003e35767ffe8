"""Reads the runs back with Metaflow's Client API only and prints what it found as JSON."""

import json

from metaflow import Flow, Metaflow, Run, Task, default_namespace, get_namespace, namespace
from metaflow.exception import MetaflowNamespaceMismatch, MetaflowNotFound

out = {}
run = Flow("SurfaceFlow").latest_run
out["successful"] = run.successful
out["summary"] = run.data.summary
out["steps"] = sorted(s.id for s in run)
out["square_tasks"] = len(list(run["square"]))
out["index_values"] = sorted(t.index for t in run["square"])
out["tagged"] = [r.id for r in Flow("SurfaceFlow").runs("parity-tag")]
out["by_pathspec"] = Run(run.pathspec).id == run.id
gather = run["gather"].task
out["gather_parents"] = sorted(t.pathspec for t in gather.parent_tasks) == sorted(
    t.pathspec for t in run["square"])
out["end_task"] = run.end_task.pathspec == run["end"].task.pathspec
out["task_by_pathspec"] = Task(gather.pathspec).data.total
out["flows"] = sorted(f.id for f in Metaflow().flows)
out["namespace"] = get_namespace() == default_namespace()
try:
    Flow("NoSuchFlow")
except MetaflowNotFound:
    out["not_found"] = True
namespace("user:someone-else")
try:
    Run(run.pathspec)
except MetaflowNamespaceMismatch:
    out["mismatch"] = True
namespace(None)
out["global_sees"] = Run(run.pathspec).id == run.id

faults = Flow("MfFaultsFlow").latest_run
out["faults_successful"] = faults.successful
out["attempts_seen"] = faults["start"].task.data.attempts_seen
out["start_attempt"] = faults["start"].task.current_attempt
problem = faults["fragile"].task.data.problem
out["problem"] = [problem.type, problem.exception, "always fails" in problem.stacktrace]
out["had_problem"] = faults.data.had_problem
print(json.dumps(out))
