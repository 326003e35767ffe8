"""The run state alone: which task specs follow from each finished attempt, for every graph
shape and every retry / @catch / resume case. No process is started and nothing is stored:
task ids come from a counter and results are scripted, so these prove the scheduling rules,
not that tasks run (``test_run.py``, ``test_resume.py`` and ``test_decorators_run.py`` do)."""

from __future__ import annotations

import collections
import itertools
from typing import Callable

import pytest

from headwater.graph import FlowGraph
from headwater.run_state import (NextTask, OriginRun, RunInfo, RunState, Verdict, stack_key)
from headwater.task import InputRef, TaskResult, TaskSpec

from .flow_files import import_flow_module

HEADER = "from headwater import FlowSpec, catch, retry, step\n"

LINEAR = '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

SPLIT = '''
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
        self.next(self.end)

    @step
    def end(self):
        pass
'''

FOREACH = '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

NESTED = '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.outer = [1, 2]
        self.next(self.fan, foreach="outer")

    @step
    def fan(self):
        self.inner = [1, 2, 3]
        self.next(self.work, foreach="inner")

    @step
    def work(self):
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

SWITCH = '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.route = "b"
        self.next({"a": self.a, "b": self.b}, condition="route")

    @step
    def a(self):
        self.next(self.merge)

    @step
    def b(self):
        self.next(self.merge)

    @step
    def merge(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

SWITCH_IN_FOREACH = '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.pick, foreach="items")

    @step
    def pick(self):
        self.route = "a"
        self.next({"a": self.a, "b": self.b}, condition="route")

    @step
    def a(self):
        self.next(self.merge)

    @step
    def b(self):
        self.next(self.merge)

    @step
    def merge(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def graph_of(tmp_path, body: str, decorate: dict[str, str] | None = None) -> FlowGraph:
    """The flow ``body`` with decorator lines (``{"middle": "@retry(times=2)"}``) added."""
    for step_name, lines in (decorate or {}).items():
        body = body.replace(f"    @step\n    def {step_name}(",
                            f"    @step\n    {lines}\n    def {step_name}(", 1)
    return FlowGraph(import_flow_module(tmp_path, HEADER + body).TheFlow)


def ok(spec: TaskSpec, graph: FlowGraph, foreach: int = 3, route: str | None = None
       ) -> TaskResult:
    """The result a successful attempt of ``spec`` records."""
    node = graph[spec.step_name]
    if node.kind == "foreach":
        return TaskResult(ok=True, targets=list(node.out), foreach_count=foreach,
                          foreach_var=node.foreach_var)
    if node.kind == "switch":
        return TaskResult(ok=True, targets=[route or node.out[-1]])
    return TaskResult(ok=True, targets=list(node.out))


class Driver:
    """Runs a RunState to its end: takes the next tasks in order, asks ``outcome(spec)`` for
    each result (a TaskResult, or a str: the attempt crashed with that reason), and keeps
    every spec started and every outcome."""

    def __init__(self, graph: FlowGraph, outcome: Callable[[TaskSpec], TaskResult | str],
                 max_num_splits: int = 100, origin: OriginRun | None = None):
        ids = itertools.count(1)
        self.allocated: list[str] = []

        def new_task_id(step: str) -> str:
            self.allocated.append(step)
            return str(next(ids))

        self.state = RunState(graph, RunInfo("TheFlow", "7", "tester", None, ["t"]),
                              new_task_id, max_num_splits, origin)
        self.graph, self.outcome = graph, outcome
        self.started: list[TaskSpec] = []
        self.cloned: list[tuple[TaskSpec, tuple[str, int]]] = []
        self.outcomes: list = []
        self.delays: list[float] = []

    def run(self) -> "Driver":
        todo = collections.deque(self.state.start(InputRef("_parameters", "0", 0)))
        while todo:
            task: NextTask = todo.popleft()
            if task.clone is not None:
                self.cloned.append((task.spec, task.clone))
                result = ok(task.spec, self.graph)
                outcome = self.state.finished(task.spec, result)
            else:
                self.delays.append(task.delay)
                self.started.append(task.spec)
                result = self.outcome(task.spec)
                if isinstance(result, str):
                    outcome = self.state.finished(task.spec, None, result)
                else:
                    outcome = self.state.finished(task.spec, result)
            self.outcomes.append((task.spec.step_name, task.spec.attempt, outcome.verdict))
            todo.extend(outcome.next)
        return self

    def steps(self) -> list[str]:
        return [s.step_name for s in self.started]


def all_ok(graph: FlowGraph, **kwargs) -> Callable[[TaskSpec], TaskResult]:
    return lambda spec: ok(spec, graph, **kwargs)


# --- graph shapes ---------------------------------------------------------------------------


def test_linear_runs_each_step_once_reading_its_parent(tmp_path):
    graph = graph_of(tmp_path, LINEAR)
    d = Driver(graph, all_ok(graph)).run()
    assert d.steps() == ["start", "middle", "end"]
    assert d.state.succeeded and d.state.failure is None
    start, middle, end = d.started
    assert start.inputs == [InputRef("_parameters", "0", 0)]
    assert middle.inputs == [InputRef("start", start.task_id, 0)]
    assert end.inputs == [InputRef("middle", middle.task_id, 0)]
    assert all(s.stack == [] and s.attempt == 0 and s.run_id == "7" and s.tags == ["t"]
               for s in d.started)
    assert d.state.progress("middle") is None


def test_static_split_joins_once_both_branches_arrived(tmp_path):
    graph = graph_of(tmp_path, SPLIT)
    d = Driver(graph, all_ok(graph)).run()
    assert d.steps() == ["start", "a", "b", "join", "end"]
    by_step = {s.step_name: s for s in d.started}
    assert [(f.kind, f.index, f.count) for f in by_step["b"].stack] == [("static", 1, 2)]
    assert by_step["join"].inputs == [InputRef("a", by_step["a"].task_id, 0),
                                      InputRef("b", by_step["b"].task_id, 0)]
    assert by_step["join"].stack == [] and d.state.arrivals == {}


def test_foreach_fans_out_one_task_per_item_and_joins_all(tmp_path):
    graph = graph_of(tmp_path, FOREACH)
    d = Driver(graph, all_ok(graph, foreach=4)).run()
    assert d.steps() == ["start"] + ["work"] * 4 + ["join", "end"]
    work = [s for s in d.started if s.step_name == "work"]
    assert [(f.step, f.kind, f.index, f.count, f.var) for s in work for f in s.stack] == [
        ("start", "foreach", i, 4, "items") for i in range(4)]
    join = next(s for s in d.started if s.step_name == "join")
    assert join.inputs == [InputRef("work", w.task_id, 0) for w in work]
    assert d.state.progress("work") == (4, 4)


def test_join_waits_for_every_foreach_input_whatever_their_order(tmp_path):
    graph = graph_of(tmp_path, FOREACH)
    state = Driver(graph, all_ok(graph)).state
    (start,) = state.start(InputRef("_parameters", "0", 0))
    works = state.finished(start.spec, ok(start.spec, graph, foreach=3)).next
    assert [w.spec.step_name for w in works] == ["work"] * 3
    assert state.progress("work") == (0, 3)
    for w in (works[2], works[0]):
        assert state.finished(w.spec, ok(w.spec, graph)).next == []
    (join,) = state.finished(works[1].spec, ok(works[1].spec, graph)).next
    # inputs in item order, not arrival order
    assert [i.task_id for i in join.spec.inputs] == [w.spec.task_id for w in works]


def test_nested_foreach_joins_each_inner_fan_out_separately(tmp_path):
    graph = graph_of(tmp_path, NESTED)
    d = Driver(graph, lambda s: ok(s, graph, foreach=2 if s.step_name == "start" else 3)).run()
    steps = collections.Counter(d.steps())
    assert steps == {"start": 1, "fan": 2, "work": 6, "inner_join": 2, "outer_join": 1,
                     "end": 1}
    inner = [s for s in d.started if s.step_name == "inner_join"]
    assert sorted(stack_key(s.stack) for s in inner) == [(("start", 0),), (("start", 1),)]
    for join in inner:  # each inner join reads the three work tasks of its own outer item
        parents = {i.task_id for i in join.inputs}
        works = [s for s in d.started if s.task_id in parents]
        assert {stack_key(w.stack)[0] for w in works} == {stack_key(join.stack)[0]}
        assert len(works) == 3
    assert d.state.succeeded


def test_switch_runs_the_chosen_branch_only(tmp_path):
    graph = graph_of(tmp_path, SWITCH)
    d = Driver(graph, lambda s: ok(s, graph, route="a")).run()
    assert d.steps() == ["start", "a", "merge", "end"]
    branch, merge = d.started[1], d.started[2]
    assert branch.stack == []  # one branch runs: nothing to wait for, so no split frame
    assert merge.inputs == [InputRef("a", branch.task_id, 0)] and merge.stack == []
    assert d.state.succeeded


def test_switch_inside_a_foreach(tmp_path):
    graph = graph_of(tmp_path, SWITCH_IN_FOREACH)
    d = Driver(graph, lambda s: ok(s, graph, foreach=2, route="b")).run()
    assert collections.Counter(d.steps()) == {"start": 1, "pick": 2, "b": 2, "merge": 2,
                                              "join": 1, "end": 1}
    for s in d.started:
        if s.step_name in ("b", "merge"):
            assert [f.kind for f in s.stack] == ["foreach"]
    assert d.state.succeeded


def test_too_many_splits_fails_the_run_naming_the_limit(tmp_path):
    graph = graph_of(tmp_path, FOREACH)
    d = Driver(graph, all_ok(graph, foreach=5), max_num_splits=4).run()
    assert d.steps() == ["start"]
    assert d.outcomes[-1][2] is Verdict.INVALID
    assert "would start 5 tasks, more than --max-num-splits (4)" in d.state.failure
    assert not d.state.succeeded


# --- failures, retries, @catch --------------------------------------------------------------


def failing(graph, step: str, attempts: set[int], crash: str | None = None):
    """Attempts ``attempts`` of ``step`` fail (or crash with reason ``crash``)."""
    def outcome(spec):
        if spec.step_name == step and spec.attempt in attempts:
            return crash if crash else TaskResult(ok=False, error="ValueError: boom")
        return ok(spec, graph)
    return outcome


def test_a_failure_without_retries_fails_the_run(tmp_path):
    graph = graph_of(tmp_path, LINEAR)
    d = Driver(graph, failing(graph, "middle", {0})).run()
    assert d.steps() == ["start", "middle"]
    assert d.outcomes[-1] == ("middle", 0, Verdict.FAILED)
    assert d.state.failure == "step 'middle' (task 7/middle/2) failed: ValueError: boom"


def test_retries_start_the_same_task_again_then_go_on(tmp_path):
    graph = graph_of(tmp_path, LINEAR, {"middle": "@retry(times=2)"})
    d = Driver(graph, failing(graph, "middle", {0, 1})).run()
    middle = [s for s in d.started if s.step_name == "middle"]
    assert [(s.task_id, s.attempt, s.max_retries) for s in middle] == [
        ("2", 0, 2), ("2", 1, 2), ("2", 2, 2)]
    assert [v for step, _, v in d.outcomes if step == "middle"] == [
        Verdict.RETRY, Verdict.RETRY, Verdict.SUCCEEDED]
    # item 20: no minutes_between_retries given, so no wait
    assert d.delays == [0.0] * 5
    assert d.state.succeeded and d.allocated.count("middle") == 1


def test_retry_delay_comes_from_the_decorator(tmp_path):
    graph = graph_of(tmp_path, LINEAR, {"middle": "@retry(times=1, minutes_between_retries=2)"})
    state = Driver(graph, all_ok(graph)).state
    (start,) = state.start(InputRef("_parameters", "0", 0))
    (middle,) = state.finished(start.spec, ok(start.spec, graph)).next
    outcome = state.finished(middle.spec, TaskResult(ok=False, error="E: x"))
    assert outcome.verdict is Verdict.RETRY and outcome.delay == 120.0
    assert outcome.next[0].delay == 120.0 and outcome.error == "E: x"


def test_retries_exhausted_fail_the_run(tmp_path):
    graph = graph_of(tmp_path, LINEAR, {"middle": "@retry(times=1)"})
    d = Driver(graph, failing(graph, "middle", {0, 1})).run()
    assert [(s, a, v) for s, a, v in d.outcomes if s == "middle"] == [
        ("middle", 0, Verdict.RETRY), ("middle", 1, Verdict.FAILED)]
    assert not d.state.succeeded


def test_a_crash_is_retried_like_a_failure(tmp_path):
    graph = graph_of(tmp_path, LINEAR, {"middle": "@retry(times=1)"})
    d = Driver(graph, failing(graph, "middle", {0}, crash="was killed by signal SIGKILL")).run()
    assert [(s, a, v) for s, a, v in d.outcomes if s == "middle"] == [
        ("middle", 0, Verdict.RETRY), ("middle", 1, Verdict.SUCCEEDED)]


def test_a_crash_without_catch_fails_naming_the_reason(tmp_path):
    graph = graph_of(tmp_path, LINEAR)
    d = Driver(graph, failing(graph, "middle", {0}, crash="exited with code 3")).run()
    assert d.state.failure.endswith("failed: the task process exited with code 3")


def test_catch_runs_a_fallback_after_every_attempt_crashed(tmp_path):
    graph = graph_of(tmp_path, LINEAR, {"middle": "@catch(var='error')\n    @retry(times=1)"})
    d = Driver(graph, failing(graph, "middle", {0, 1}, crash="was killed by signal SIGKILL")
               ).run()
    middle = [s for s in d.started if s.step_name == "middle"]
    assert [(s.attempt, s.crashed) for s in middle] == [
        (0, None), (1, None), (2, "was killed by signal SIGKILL")]
    assert [v for s, _, v in d.outcomes if s == "middle"] == [
        Verdict.RETRY, Verdict.FALLBACK, Verdict.SUCCEEDED]
    assert d.state.succeeded


def test_a_crashing_fallback_fails_the_run(tmp_path):
    graph = graph_of(tmp_path, LINEAR, {"middle": "@catch"})
    d = Driver(graph, failing(graph, "middle", {0, 1}, crash="exited with code 1")).run()
    assert [v for s, _, v in d.outcomes if s == "middle"] == [Verdict.FALLBACK,
                                                              Verdict.FAILED]


def test_catch_does_not_turn_a_recorded_failure_into_a_fallback(tmp_path):
    # A step that raised recorded its own result: @catch handled it in the task already.
    graph = graph_of(tmp_path, LINEAR, {"middle": "@catch"})
    d = Driver(graph, failing(graph, "middle", {0})).run()
    assert d.outcomes[-1] == ("middle", 0, Verdict.FAILED)


def test_after_a_failure_other_outcomes_are_ignored(tmp_path):
    graph = graph_of(tmp_path, FOREACH)
    state = Driver(graph, all_ok(graph)).state
    (start,) = state.start(InputRef("_parameters", "0", 0))
    works = state.finished(start.spec, ok(start.spec, graph)).next
    assert state.finished(works[0].spec, TaskResult(ok=False, error="E: x")).verdict \
        is Verdict.FAILED
    assert state.finished(works[1].spec, ok(works[1].spec, graph)).verdict is Verdict.IGNORED
    assert state.finished(works[2].spec, None, "was killed by signal SIGTERM").verdict \
        is Verdict.IGNORED


# --- resume ---------------------------------------------------------------------------------


def origin_of(tasks: dict, rerun: set[str]) -> OriginRun:
    return OriginRun("3", tasks, rerun)


def test_resume_clones_what_the_origin_completed_and_runs_the_rest(tmp_path):
    graph = graph_of(tmp_path, LINEAR)
    origin = origin_of({("start", ()): ("11", 0), ("middle", ()): ("12", 1)}, {"middle", "end"})
    d = Driver(graph, all_ok(graph), origin=origin).run()
    assert [(s.step_name, src) for s, src in d.cloned] == [("start", ("11", 0))]
    assert d.steps() == ["middle", "end"]
    assert d.started[0].inputs == [InputRef("start", d.cloned[0][0].task_id, 0)]


def test_resume_clones_foreach_tasks_by_their_place(tmp_path):
    graph = graph_of(tmp_path, FOREACH)
    # The origin finished items 0 and 2 of the foreach; item 1 failed.
    tasks = {("start", ()): ("1", 0), ("work", (("start", 0),)): ("2", 0),
             ("work", (("start", 2),)): ("4", 0)}
    d = Driver(graph, all_ok(graph), origin=origin_of(tasks, {"work", "join", "end"})).run()
    assert [s.step_name for s, _ in d.cloned] == ["start"]
    # `work` is rerun: every item runs again (a rerun step is never cloned)
    assert d.steps() == ["work"] * 3 + ["join", "end"]

    d = Driver(graph, all_ok(graph), origin=origin_of(tasks, {"join", "end"})).run()
    assert [(stack_key(s.stack), src) for s, src in d.cloned if s.step_name == "work"] == [
        ((("start", 0),), ("2", 0)), ((("start", 2),), ("4", 0))]
    assert d.steps() == ["work", "join", "end"]
    assert stack_key(d.started[0].stack) == (("start", 1),)


def test_resume_with_nothing_to_rerun_clones_everything(tmp_path):
    graph = graph_of(tmp_path, SPLIT)
    tasks = {(s, ()): (str(i), 0) for i, s in enumerate(["start", "join", "end"])}
    tasks.update({("a", (("start", 0),)): ("a1", 0), ("b", (("start", 1),)): ("b1", 0)})
    d = Driver(graph, all_ok(graph), origin=origin_of(tasks, set())).run()
    assert d.started == [] and d.state.succeeded
    assert [s.step_name for s, _ in d.cloned] == ["start", "a", "b", "join", "end"]


def test_resumed_tasks_carry_the_origin_run_id(tmp_path):
    graph = graph_of(tmp_path, LINEAR)
    state = RunState(graph, RunInfo("TheFlow", "8", "u", "user:u", [], origin_run_id="3"),
                     lambda step: "1", origin=origin_of({}, {"start", "middle", "end"}))
    (start,) = state.start(InputRef("_parameters", "0", 0))
    assert start.clone is None and start.spec.origin_run_id == "3"
    assert start.spec.namespace == "user:u"


@pytest.mark.parametrize("body", [LINEAR, SPLIT, FOREACH, NESTED, SWITCH, SWITCH_IN_FOREACH])
def test_every_task_id_is_allocated_once(tmp_path, body):
    graph = graph_of(tmp_path, body)
    d = Driver(graph, lambda s: ok(s, graph, foreach=2, route="a")).run()
    ids = [s.task_id for s in d.started]
    assert len(ids) == len(set(ids)) == len(d.allocated)
    assert d.state.succeeded
