"""Recursive switch: a switch that goes back to an earlier step, a loop that ends when its
condition picks the way out. The graph accepts only that kind of cycle; the run state
starts the loop's steps again (new tasks, same place), fails a runaway loop after
``MAX_LOOP_ITERATIONS``, and never clones loop steps in a resume; a real run, its Client
view and its resume."""

from __future__ import annotations

import pytest

from headwater import Flow
from headwater.exceptions import GraphError, RunFailed
from headwater.graph import FlowGraph
from headwater.run_state import MAX_LOOP_ITERATIONS, Verdict

from .flow_files import import_flow_module
from .test_run_state import Driver, ok

HEADER = "from headwater import FlowSpec, step\n"

LOOP = '''
import os
from headwater import FlowSpec, step

class LoopFlow(FlowSpec):
    @step
    def start(self):
        self.count = 0
        self.next(self.body)

    @step
    def body(self):
        self.count += 1
        self.next(self.check)

    @step
    def check(self):
        self.again = "yes" if self.count < 3 else "no"
        self.next({"yes": self.body, "no": self.after}, condition="again")

    @step
    def after(self):
        if os.environ.get("FAIL_AFTER"):
            raise RuntimeError("after fails until fixed")
        self.final = self.count
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    LoopFlow()
'''

SELF_LOOP = '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.again)

    @step
    def again(self):
        if self.more:
            self.next(self.again)
        else:
            self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_graph_keeps_the_back_edge_apart(tmp_path):
    module = import_flow_module(tmp_path, LOOP)
    graph = FlowGraph(module.LoopFlow)
    assert graph["check"].kind == "switch" and graph["check"].loops_to == ["body"]
    assert graph["body"].in_funcs == ["start"]
    assert graph.order == ["start", "body", "check", "after", "end"]
    assert graph.loop_steps == {"body", "check", "after", "end"}
    self_loop = FlowGraph(import_flow_module(tmp_path, HEADER + SELF_LOOP).TheFlow)
    assert self_loop["again"].loops_to == ["again"]


@pytest.mark.parametrize("body,message", [
    ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next({"again": self.a, "done": self.end}, condition="choice")

    @step
    def end(self):
        pass
''', "the loop from step 'join' back to 'a' crosses a split or a join"),
    ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.decide)

    @step
    def decide(self):
        self.next({"again": self.join, "done": self.end}, condition="choice")

    @step
    def end(self):
        pass
''', "step 'decide' goes back to the join 'join'"),
])
def test_loops_that_cannot_run_are_graph_errors(tmp_path, body, message):
    module = import_flow_module(tmp_path, HEADER + body)
    with pytest.raises(GraphError) as info:
        FlowGraph(module.TheFlow)
    assert message in info.value.message


def _loop_graph(tmp_path):
    return FlowGraph(import_flow_module(tmp_path, LOOP).LoopFlow)


def test_run_state_goes_round_the_loop_until_the_condition_changes(tmp_path):
    graph = _loop_graph(tmp_path)
    rounds = {"n": 0}

    def outcome(spec):
        if spec.step_name == "check":
            rounds["n"] += 1
            return ok(spec, graph, route="body" if rounds["n"] < 3 else "after")
        return ok(spec, graph)

    d = Driver(graph, outcome).run()
    assert d.steps() == ["start"] + ["body", "check"] * 3 + ["after", "end"]
    bodies = [s for s in d.started if s.step_name == "body"]
    assert len({s.task_id for s in bodies}) == 3  # a new task each time round
    checks = [s for s in d.started if s.step_name == "check"]
    assert [b.inputs[0].task_id for b in bodies[1:]] == [c.task_id for c in checks[:2]]
    assert d.state.succeeded


def test_a_runaway_loop_fails_the_run_after_the_limit(tmp_path):
    graph = _loop_graph(tmp_path)
    d = Driver(graph, lambda s: ok(s, graph, route="body"))
    d.state.max_loop_iterations = 4
    d.run()
    assert d.steps().count("body") == 5  # the first pass and four times back
    assert d.outcomes[-1][2] is Verdict.INVALID
    assert d.state.failure == ("step 'check' went back to 'body' more than 4 times: its "
                               "condition never chose the way out of the loop")
    assert MAX_LOOP_ITERATIONS == 1000


def test_a_real_loop_run_its_client_view_and_resume(flow_runner, flow_class, monkeypatch):
    flow = flow_class(LOOP)
    monkeypatch.setenv("FAIL_AFTER", "1")
    with pytest.raises(RunFailed):
        flow_runner.run(flow)
    monkeypatch.delenv("FAIL_AFTER")
    origin = Flow("LoopFlow").latest_run
    bodies = list(origin["body"])
    assert len(bodies) == 3
    assert sorted(t.data.count for t in bodies) == [1, 2, 3]
    first = min(bodies, key=lambda t: t.data.count)
    assert [p.id for p in first.parent_tasks] == [origin["start"].task.id]
    assert [c.pathspec.split("/")[2] for c in first.child_tasks] == ["check"]

    run = flow_runner.resume(flow)
    assert run.successful and run.data.final == 3
    assert run["start"].task.origin_pathspec is not None  # before the loop: reused
    assert all(t.origin_pathspec is None for t in run["body"])  # the loop ran again
    assert len(list(run["body"])) == 3
