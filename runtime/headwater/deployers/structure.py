"""What the deployers read from a flow's graph beyond the scheduler's view: which split a
join closes, which of its parents belong to which branch, and where the branches of a
conditional meet (a *switch merge*: a step several branches lead to without waiting, since
only the branch taken runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..graph import SplitKind, StepKind

if TYPE_CHECKING:
    from ..graph import FlowGraph, StepNode


def is_switch_merge(node: "StepNode") -> bool:
    return node.join_kind == SplitKind.SWITCH and not node.is_join


def closed_split(graph: "FlowGraph", join: "StepNode") -> str:
    """The static split or foreach that ``join`` closes: the innermost one around its
    parents (conditionals on the way do not count)."""
    parent = join.in_funcs[0]
    frames = [s for s, kind in graph[parent].split_stack if kind != SplitKind.SWITCH]
    if graph[parent].kind == StepKind.SPLIT and len(frames) == len(
            [s for s, kind in join.split_stack if kind != SplitKind.SWITCH]):
        return parent  # a branch of the split goes straight to its join
    return frames[-1]


def join_of(graph: "FlowGraph", split: "StepNode") -> str:
    """The step that joins the branches (or items) opened by ``split``."""
    for node in graph:
        if node.is_join and node.join_kind in (SplitKind.STATIC, SplitKind.FOREACH) \
                and closed_split(graph, node) == split.name:
            return node.name
    raise ValueError(f"no step joins {split.name!r}")


def branch_groups(graph: "FlowGraph", join: "StepNode") -> list[list[str]]:
    """``join``'s parents grouped by the branch of the static split they end: one group per
    branch, in the split's order; a group has several parents where a conditional inside
    the branch ends in more than one step."""
    split = graph[closed_split(graph, join)]
    groups: list[list[str]] = []
    for head in split.out:
        reach = _reachable(graph, head, stop=join.name)
        members = [p for p in dict.fromkeys(join.in_funcs)
                   if p in reach or (p == split.name and head == join.name)]
        groups.append(members)
    return groups


def _reachable(graph: "FlowGraph", start: str, stop: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name == stop:
            continue
        seen.add(name)
        todo.extend(graph[name].out)
    return seen


def undeployable(flow_cls: type, graph: "FlowGraph") -> str | None:
    """What in the flow no deployer compiles yet (a recursive switch, a ``num_parallel``
    fan-out, an ``IncludeFile``), or None."""
    from ..include_file import IncludeFile
    from ..parameters import flow_parameters

    for node in graph:
        if node.loops_to:
            return (f"step {node.name!r} is a recursive switch (it goes back to "
                    f"{node.loops_to[0]!r})")
        if node.parallel:
            return f"step {node.name!r} starts @parallel tasks (num_parallel=)"
    for param in flow_parameters(flow_cls).values():
        if isinstance(param, IncludeFile):
            return f"parameter {param.name!r} is an IncludeFile"
    return None
