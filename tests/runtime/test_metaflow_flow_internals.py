"""What code written for Metaflow reads from a flow object besides artifacts: the step
functions' ``.name``, ``flow._graph`` (Metaflow's node attributes), ``_current_step``,
``_foreach_stack``; and class-level constants, which a run stores as artifacts."""

from __future__ import annotations

import pytest

FLOW = """
    import threading
    from headwater import FlowSpec, current, parallel, step

    class InternalsFlow(FlowSpec):
        THRESHOLD = 3
        LABELS = ["a", "b"]
        LOCK = threading.Lock()  # cannot be stored: steps read it from the class

        @step
        def start(self):
            self.seen = {"start": (self._current_step, self._graph["start"].type)}
            self.xs = [10, 20]
            self.next(self.fan, foreach="xs")

        @step
        def fan(self):
            frame = self._foreach_stack[-1]
            self.frame = (frame.step, frame.var, frame.num_splits, frame.index, frame.value)
            self.depth = len(self._foreach_stack)
            self.next(self.gather)

        @step
        def gather(self, inputs):
            self.frames = sorted(i.frame for i in inputs)
            self.gather_type = self._graph[self._current_step].type
            self.locked = self.LOCK.locked()
            self.next(self.left, self.right)

        @step
        def left(self):
            self.next(self.both)

        @step
        def right(self):
            self.next(self.both)

        @step
        def both(self, inputs):
            self.next(self.gang, num_parallel=2)

        @parallel
        @step
        def gang(self):
            self.next(self.gang_join)

        @step
        def gang_join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            self.depth_at_end = len(self._foreach_stack)

    if __name__ == "__main__":
        InternalsFlow()
"""


@pytest.fixture
def flow_cls(flow_class):
    return flow_class(FLOW)


def test_graph_view_has_metaflow_node_types_and_edges(flow_cls):
    graph = flow_cls(use_cli=False)._graph
    types = {node.name: node.type for node in graph}
    assert types == {"start": "foreach", "fan": "linear", "gather": "split", "left": "linear",
                     "right": "linear", "both": "foreach", "gang": "linear",
                     "gang_join": "join", "end": "end"}
    assert graph["gather"].in_funcs == {"fan"} and graph["gather"].out_funcs == ["left", "right"]
    assert graph["both"].in_funcs == {"left", "right"}
    assert graph["start"].foreach_param == "xs"
    assert graph["gang"].parallel_step and not graph["left"].parallel_step
    assert graph["both"].parallel_foreach and "end" in graph


def test_a_linear_start_is_typed_start(flow_class):
    cls = flow_class("""
        from headwater import FlowSpec, step

        class TwoStepFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    assert [n.type for n in cls(use_cli=False)._graph] == ["start", "end"]


def test_running_steps_read_current_step_and_foreach_stack(flow_runner, flow_cls):
    run = flow_runner.run(flow_cls)
    assert run["start"].task.data.seen == {"start": ("start", "foreach")}
    assert run["gather"].task.data.frames == [("start", "xs", 2, 0, 10),
                                               ("start", "xs", 2, 1, 20)]
    assert run["gather"].task.data.gather_type == "split"
    assert {t.data.depth for t in run["fan"]} == {1}
    assert run["end"].task.data.depth_at_end == 0


def test_class_constants_are_artifacts_of_every_task(flow_runner, flow_cls):
    run = flow_runner.run(flow_cls)
    for step in run:
        for task in step:
            assert task["THRESHOLD"].data == 3 and task["LABELS"].data == ["a", "b"]
            assert "LOCK" not in task  # not storable; the step still read it
    assert run["gather"].task.data.locked is False


def test_a_step_still_cannot_assign_a_constant(flow_runner, flow_class):
    from headwater.exceptions import RunFailed

    cls = flow_class("""
        from headwater import FlowSpec, step

        class AssignFlow(FlowSpec):
            LIMIT = 1

            @step
            def start(self):
                self.LIMIT = 2
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    with pytest.raises(RunFailed, match="LIMIT"):
        flow_runner.run(cls)
