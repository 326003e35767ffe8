"""``for step in flow``: a flow object iterates over its steps in graph order (Metaflow's
``FlowSpec.__iter__``)."""

from __future__ import annotations

from .flow_files import import_flow_module
from .test_parallel import FLOW


def test_iterating_a_flow_object_gives_its_steps_in_graph_order(tmp_path):
    flow = import_flow_module(tmp_path, FLOW).GangFlow(use_cli=False)
    assert [step.__name__ for step in flow] == ["start", "train", "join", "end"]
    # code written for Metaflow reads the step's name from the step function
    assert [step.name for step in flow] == ["start", "train", "join", "end"]
