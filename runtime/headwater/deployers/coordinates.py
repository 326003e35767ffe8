"""Where a deployed task stands in its run, and the task spec that follows from it.

A production scheduler (Argo Workflows, Step Functions) runs each task as its own container
with no Headwater scheduler beside it. Such a task knows only its *coordinates*: the run id
the scheduler gave the run, its step, and its *foreach path* (the item index of every foreach
it is inside, outermost first). Everything else follows from the graph and from what earlier
tasks recorded in the datastore:

- its task id is a pure function of step and path (``task_id_for``), so the scheduler, the
  metadata service and the Client API show the same ids, and a retried pod reuses its task;
- its parents are found the same way (a join of a 10,000-way foreach reads the count its
  split step recorded, so no template or payload grows with the number of items);
- its split stack is its parent's stack with one frame pushed (after a split) or popped (a
  join), exactly as the local scheduler builds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import attempt as attempt_record
from ..exceptions import HeadwaterException
from ..flowspec import SplitFrame
from ..graph import SplitKind, StepKind
from ..task import InputRef, TaskSpec
from .structure import branch_groups, closed_split

if TYPE_CHECKING:
    from ..graph import FlowGraph, StepNode
    from ..task import RunEnvironment

PARAMETERS_STEP = "_parameters"


class DeployedTaskError(HeadwaterException):
    headline = "Deployed task error"


def task_id_for(path: tuple[int, ...]) -> str:
    """The task id of the task at ``path`` (unique within its step; never all digits, so
    the metadata service stores it as a client-chosen id)."""
    return "-".join(["t", *map(str, path)])


def parse_path(text: str) -> tuple[int, ...]:
    """``"/0/3"`` (as the deployers pass it; empty at top level) -> ``(0, 3)``."""
    try:
        return tuple(int(p) for p in text.split("/") if p != "")
    except ValueError:
        raise DeployedTaskError(f"foreach path {text!r} is not a list of indices",
                                "the deployer passes e.g. /0/3; redeploy the flow") from None


@dataclass(frozen=True)
class Recorded:
    """A finished task as the datastore holds it."""

    ref: InputRef
    stack: list[SplitFrame]
    foreach_count: int | None
    targets: list[str]


def latest_success(env: "RunEnvironment", flow: str, run_id: str, step: str, task_id: str,
                   attempts: int) -> Recorded | None:
    """The newest successful attempt of a task among its first ``attempts`` attempts."""
    found = attempt_record.latest_success(env, flow, run_id, step, task_id, attempts)
    if found is None:
        return None
    attempt, stack, result = found
    return Recorded(InputRef(step, task_id, attempt), stack, result.foreach_count,
                    result.targets)


class TaskLocator:
    """Finds, from a task's coordinates, its parents and its split stack."""

    def __init__(self, graph: "FlowGraph", env: "RunEnvironment", flow: str, run_id: str):
        self.graph, self.env, self.flow, self.run_id = graph, env, flow, run_id

    def _attempts(self, step: str) -> int:
        if step == PARAMETERS_STEP:
            return 1
        return 1 + sum(d.retries() for d in self.graph[step].decorators)

    def _find(self, step: str, path: tuple[int, ...]) -> Recorded | None:
        return latest_success(self.env, self.flow, self.run_id, step, task_id_for(path),
                              self._attempts(step))

    def _require(self, step: str, path: tuple[int, ...], why: str) -> Recorded:
        found = self._find(step, path)
        if found is None:
            raise DeployedTaskError(
                f"task {self.run_id}/{step}/{task_id_for(path)} has no successful attempt "
                f"({why})", "the scheduler started this task out of order; check the "
                "workflow's earlier steps")
        return found

    def spec(self, step: str, path: tuple[int, ...], attempt: int, user: str,
             namespace: str | None, tags: list[str]) -> TaskSpec:
        node = self.graph[step]
        inputs, stack = self._inputs_and_stack(node, path)
        return TaskSpec(flow_name=self.flow, run_id=self.run_id, step_name=step,
                        task_id=task_id_for(path), attempt=attempt, inputs=inputs,
                        stack=stack, max_retries=self._attempts(step) - 1, user=user,
                        namespace=namespace, tags=list(tags))

    def _inputs_and_stack(self, node: "StepNode", path: tuple[int, ...]
                          ) -> tuple[list[InputRef], list[SplitFrame]]:
        if node.name == "start":
            params = self._require(PARAMETERS_STEP, (), "the run's parameters")
            return [params.ref], []
        parents = list(dict.fromkeys(node.in_funcs))
        if not node.is_join:
            if self.graph[parents[0]].kind == StepKind.FOREACH:
                if not path:
                    raise DeployedTaskError(f"step {node.name!r} runs inside a foreach but "
                                            f"got no foreach index", "redeploy the flow")
                parent = self._require(parents[0], path[:-1], "the foreach it belongs to")
            else:  # one parent, or the branches of a conditional meeting: one of them ran
                parent = self._taken(parents, path, node.name, "its parent")
            return [parent.ref], self._arriving_stack(parent, node.name, path)
        if node.join_kind == SplitKind.FOREACH:
            split = closed_split(self.graph, node)
            count = self._require(split, path, "the foreach this step joins").foreach_count or 0
            found = [self._taken(parents, path + (i,), node.name, f"item {i} of the foreach")
                     for i in range(count)]
        else:
            found = [self._taken(group, path, node.name, "a branch this step joins")
                     for group in branch_groups(self.graph, node)]
        arriving = [self._arriving_stack(f, node.name, path) for f in found]
        order = sorted(range(len(found)), key=lambda i: arriving[i][-1].index)
        return [found[i].ref for i in order], arriving[order[0]][:-1]

    def _taken(self, candidates: list[str], path: tuple[int, ...], step: str,
               why: str) -> Recorded:
        """The one of ``candidates`` that finished and led to ``step`` (a conditional
        records the branch it took; the others never ran)."""
        found = [f for f in (self._find(c, path) for c in candidates)
                 if f is not None and (not f.targets or step in f.targets)]
        if len(found) != 1:
            names = ", ".join(candidates)
            raise DeployedTaskError(
                f"step {step!r} at {task_id_for(path)} expected one finished task among "
                f"{names} ({why}), found {len(found)}",
                "the scheduler started this task out of order; check the workflow's earlier "
                "steps")
        return found[0]

    def _arriving_stack(self, parent: Recorded, step: str, path: tuple[int, ...]
                        ) -> list[SplitFrame]:
        """The stack a task of ``step`` inherits from ``parent``: a split pushes a frame
        (the scheduler's rule), everything else passes the parent's stack on."""
        node = self.graph[parent.ref.step]
        if node.kind == StepKind.FOREACH:
            count = parent.foreach_count or 0
            if path[-1] >= count:
                raise DeployedTaskError(f"foreach index {path[-1]} of step {step!r} is out of "
                                        f"range (the split made {count})", "redeploy the flow")
            return parent.stack + [SplitFrame(node.name, SplitKind.FOREACH, path[-1], count,
                                              node.foreach_var)]
        if node.kind == StepKind.SPLIT:
            return parent.stack + [SplitFrame(node.name, SplitKind.STATIC, node.out.index(step),
                                              len(node.out))]
        return parent.stack  # a conditional pushes no frame: nothing waits for its branches
