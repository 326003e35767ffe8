"""``flow._graph``: the flow's graph in the shape Metaflow's flow objects give it.

Code written for Metaflow (step code, checks, decorators) reads ``flow._graph[name].type``,
``.in_funcs``, ``.out_funcs`` or ``.parallel_step``. This view answers those from
Headwater's own ``FlowGraph`` (``graph.py``), which keeps its own vocabulary.
"""

from __future__ import annotations

from typing import Any, Iterator

from .graph import FlowGraph, StepKind, StepNode


class MetaflowStepNode:
    """One step, with Metaflow's attribute names."""

    def __init__(self, node: StepNode, graph: FlowGraph):
        self.name = node.name
        self.func = node.func
        self.doc = node.doc
        self.func_lineno = node.line
        self.out_funcs = list(node.out)
        self.in_funcs = set(node.in_funcs)
        self.foreach_param = node.foreach_var
        self.condition = node.condition
        self.parallel_foreach = node.parallel
        self.parallel_step = graph.starts_gang(node.name)
        self.type = _metaflow_type(node, graph)

    @property
    def decorators(self) -> list:
        return getattr(self.func, "decorators", [])

    def __repr__(self) -> str:
        return f"<step {self.name} ({self.type})>"


def _metaflow_type(node: StepNode, graph: FlowGraph) -> str:
    if node.kind is StepKind.END:
        return "end"
    if node.kind is StepKind.SWITCH:
        return "split-switch"
    if node.kind is StepKind.FOREACH:
        return "foreach"
    if node.kind is StepKind.SPLIT:
        return "split"
    if node.takes_inputs:
        return "join"
    return "start" if node.name == "start" else "linear"


class MetaflowGraphView:
    """The steps by name (``view["train"]``) and in graph order (``for node in view``)."""

    def __init__(self, graph: FlowGraph):
        self.name = graph.name
        self.nodes = {node.name: MetaflowStepNode(node, graph) for node in graph}
        self.sorted_nodes = list(self.nodes)

    def __getitem__(self, name: str) -> MetaflowStepNode:
        return self.nodes[name]

    def __contains__(self, name: Any) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[MetaflowStepNode]:
        return iter(self.nodes.values())
