"""``@parallel`` with ``self.next(step, num_parallel=N)``, locally: N tasks of the step,
each with ``current.parallel`` (node index, number of nodes, main address) and Metaflow's
``MF_PARALLEL_*`` variables, joined like a foreach. Proves the local fan-out and what the
tasks see; it does not prove that the processes can reach each other as a gang would."""

from __future__ import annotations

import pytest

from headwater.decorators import DecoratorError
from headwater.graph import FlowGraph
from headwater.exceptions import GraphError

from .flow_files import import_flow_module

FLOW = """
    import os
    from headwater import FlowSpec, current, parallel, step

    class GangFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.train, num_parallel=3)

        @parallel
        @step
        def train(self):
            p = current.parallel
            self.seen = (p.node_index, p.num_nodes, p.main_ip, self.input,
                         os.environ["MF_PARALLEL_NODE_INDEX"])
            self.next(self.join)

        @step
        def join(self, inputs):
            self.all_seen = sorted(i.seen for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        GangFlow()
"""


def test_num_parallel_starts_n_tasks_that_know_their_place(flow_runner, flow_class):
    run = flow_runner.run(flow_class(FLOW))
    assert len(list(run["train"])) == 3
    assert run["join"].task.data.all_seen == [(i, 3, "127.0.0.1", i, str(i))
                                              for i in range(3)]
    assert sorted(t.index for t in run["train"]) == [0, 1, 2]


def test_parallel_without_num_parallel_is_refused(tmp_path):
    from headwater.cli.flow_cli import FlowContext

    source = FLOW.replace("self.next(self.train, num_parallel=3)", "self.next(self.train)")
    source = source.replace("def join(self, inputs):", "def join(self):").replace(
        "sorted(i.seen for i in inputs)", "[]")
    module = import_flow_module(tmp_path, source)
    with pytest.raises(DecoratorError) as info:
        FlowContext(module.GangFlow).prepare()
    assert info.value.message == "@parallel step 'train' is not started with num_parallel="


def test_num_parallel_with_foreach_is_a_graph_error(tmp_path):
    module = import_flow_module(tmp_path, FLOW.replace(
        "self.next(self.train, num_parallel=3)",
        "self.next(self.train, num_parallel=3, foreach='x')"))
    with pytest.raises(GraphError) as info:
        FlowGraph(module.GangFlow)
    assert "num_parallel= in step 'start' fans out to exactly one step" in info.value.message
    graph = FlowGraph(import_flow_module(tmp_path, FLOW).GangFlow)
    assert graph["start"].kind == "foreach" and graph["start"].parallel
    assert graph["start"].foreach_var is None and graph["join"].join_kind == "foreach"



_NEXT = "            self.next(self.join)\n"


def test_a_worker_may_leave_self_next_to_the_control_task(flow_runner, flow_class):
    # as in Metaflow: the gang goes where node 0 says, so a worker may return early
    source = FLOW.replace(_NEXT, "            if p.node_index != 0:\n"
                                 "                return\n" + _NEXT)
    assert source != FLOW
    run = flow_runner.run(flow_class(source))
    assert len(run["join"].task.data.all_seen) == 3


def test_the_control_task_must_still_call_self_next(flow_runner, flow_class):
    from headwater.exceptions import RunFailed

    source = FLOW.replace(_NEXT, "            if p.node_index == 0:\n"
                                 "                return\n" + _NEXT)
    assert source != FLOW
    with pytest.raises(RunFailed, match="finished without calling self.next"):
        flow_runner.run(flow_class(source))


def test_control_tasks_are_node_0_of_each_gang(flow_runner, flow_class):
    run = flow_runner.run(flow_class(FLOW))
    control = run["train"].control_tasks()
    assert [t.index for t in control] == [0] and control[0].data.seen[0] == 0
    assert run["start"].control_tasks() == [] and run["join"].control_tasks() == []
