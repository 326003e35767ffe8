"""The graph parser: every valid shape, and every structural mistake as one GraphError that
names the file, the line and the fix."""

from __future__ import annotations

import pytest

from headwater.exceptions import GraphError
from headwater.graph import FlowGraph

from .flow_files import import_flow_module, line_of

HEADER = "from headwater import Config, FlowSpec, Parameter, step\n"


def graph_of(tmp_path, body: str, name: str = "TheFlow") -> FlowGraph:
    module = import_flow_module(tmp_path, HEADER + body)
    return FlowGraph(getattr(module, name))


def shape(graph: FlowGraph) -> dict:
    """step -> (type, out, join kind, split stack) for compact assertions."""
    return {n.name: (n.kind, n.out, n.join_kind, n.split_stack) for n in graph}


# --- valid shapes ---------------------------------------------------------------------------


def test_linear(tmp_path):
    graph = graph_of(tmp_path, '''
class TheFlow(FlowSpec):
    """Three steps in a row."""
    alpha = Parameter("alpha", default=1)
    config = Config("config", default_value={"a": 1})  # not a step, though it answers any name

    @step
    def start(self):
        """Begin."""
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass
''')
    assert graph.order == ["start", "middle", "end"]
    assert shape(graph) == {"start": ("linear", ["middle"], None, []),
                            "middle": ("linear", ["end"], None, []),
                            "end": ("end", [], None, [])}
    assert graph["middle"].in_funcs == ["start"]
    assert not any(n.is_join for n in graph)
    described = graph.describe()
    assert [d["name"] for d in described] == ["start", "middle", "end"]
    assert described[0]["doc"] == "Begin." and described[0]["line"] == graph["start"].line


def test_static_split_and_join_with_inputs(tmp_path):
    graph = graph_of(tmp_path, '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train_a, self.train_b)

    @step
    def train_a(self):
        self.score = 1
        self.next(self.pick)

    @step
    def train_b(self):
        self.score = 2
        self.next(self.pick)

    @step
    def pick(self, inputs):
        self.best = max(inputs.train_a.score, inputs.train_b.score)
        self.next(self.end)

    @step
    def end(self):
        pass
''')
    assert shape(graph) == {
        "start": ("split", ["train_a", "train_b"], None, []),
        "train_a": ("linear", ["pick"], None, [("start", "static")]),
        "train_b": ("linear", ["pick"], None, [("start", "static")]),
        "pick": ("linear", ["end"], "static", []),
        "end": ("end", [], None, []),
    }
    assert graph["pick"].is_join and graph["pick"].takes_inputs
    assert sorted(graph["pick"].in_funcs) == ["train_a", "train_b"]
    assert graph.order.index("pick") > max(graph.order.index("train_a"),
                                           graph.order.index("train_b"))


def test_foreach_and_nested_foreach(tmp_path):
    graph = graph_of(tmp_path, '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.models = ["a", "b"]
        self.next(self.per_model, foreach="models")

    @step
    def per_model(self):
        self.folds = [1, 2, 3]
        self.next(self.per_fold, foreach="folds")

    @step
    def per_fold(self):
        self.next(self.join_folds)

    @step
    def join_folds(self, inputs):
        self.next(self.join_models)

    @step
    def join_models(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
''')
    assert shape(graph) == {
        "start": ("foreach", ["per_model"], None, []),
        "per_model": ("foreach", ["per_fold"], None, [("start", "foreach")]),
        "per_fold": ("linear", ["join_folds"], None,
                     [("start", "foreach"), ("per_model", "foreach")]),
        "join_folds": ("linear", ["join_models"], "foreach", [("start", "foreach")]),
        "join_models": ("linear", ["end"], "foreach", []),
        "end": ("end", [], None, []),
    }
    assert graph["start"].foreach_var == "models"
    assert graph["per_model"].foreach_var == "folds"


def test_conditional_if_elif_else_join_with_inputs_and_merge_without(tmp_path):
    graph = graph_of(tmp_path, '''
class TheFlow(FlowSpec):
    score = Parameter("score", default=0.9)

    @step
    def start(self):
        if self.score > 0.8:
            self.next(self.high)
        elif self.score > 0.5:
            self.next(self.standard)
        else:
            self.next(self.cleaning)

    @step
    def high(self):
        self.next(self.finalize)

    @step
    def standard(self):
        self.next(self.finalize)

    @step
    def cleaning(self):
        self.next(self.finalize)

    @step
    def finalize(self, inputs):
        self.next(self.choose)

    @step
    def choose(self):
        if self.score > 0.5:
            self.next(self.fast)
        else:
            self.next(self.slow)

    @step
    def fast(self):
        self.next(self.merge)

    @step
    def slow(self):
        self.next(self.merge)

    @step
    def merge(self):
        self.next(self.end)

    @step
    def end(self):
        pass
''')
    s = shape(graph)
    assert s["start"] == ("switch", ["high", "standard", "cleaning"], None, [])
    assert s["high"] == ("linear", ["finalize"], None, [("start", "switch")])
    assert s["finalize"] == ("linear", ["choose"], "switch", [])
    assert s["choose"] == ("switch", ["fast", "slow"], None, [])
    # a merge step that does not take inputs still closes the conditional
    assert s["merge"] == ("linear", ["end"], "switch", [])
    assert not graph["merge"].is_join and not graph["merge"].takes_inputs  # nothing waits
    assert graph["start"].condition is None  # decided by Python code, not an attribute


def test_conditional_branch_that_goes_straight_to_end(tmp_path):
    graph = graph_of(tmp_path, '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        if self.skip:
            self.next(self.end)
        else:
            self.next(self.extra)

    @step
    def extra(self):
        self.next(self.end)

    @step
    def end(self):
        pass
''')
    assert graph["start"].kind == "switch" and graph["start"].out == ["end", "extra"]
    assert graph["end"].join_kind == "switch" and graph["end"].split_stack == []
    assert graph.order == ["start", "extra", "end"]


def test_switch_form(tmp_path):
    graph = graph_of(tmp_path, '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.route = "fast"
        self.next({"fast": self.fast, "slow": self.slow, "quick": self.fast},
                  condition="route")

    @step
    def fast(self):
        self.next(self.merge)

    @step
    def slow(self):
        self.next(self.merge)

    @step
    def merge(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
''')
    start = graph["start"]
    assert (start.kind, start.out, start.condition) == ("switch", ["fast", "slow"], "route")
    assert graph["merge"].join_kind == "switch"
    assert graph["fast"].split_stack == [("start", "switch")]


def test_switch_nested_in_a_foreach(tmp_path):
    graph = graph_of(tmp_path, '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        if self.input > 1:
            self.next(self.big)
        else:
            self.next(self.small)

    @step
    def big(self):
        self.next(self.decided)

    @step
    def small(self):
        self.next(self.decided)

    @step
    def decided(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
''')
    assert graph["big"].split_stack == [("start", "foreach"), ("each", "switch")]
    assert graph["decided"].join_kind == "switch"
    assert graph["decided"].split_stack == [("start", "foreach")]
    assert graph["join"].join_kind == "foreach"


SWITCH_TO_A_FOREACH_JOIN = '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.kind = "big" if self.input > 1 else "small"
        self.next({"big": self.big, "small": self.small}, condition="kind")

    @step
    def big(self):
        self.label = f"big {self.input}"
        self.next(self.join)

    @step
    def small(self):
        self.label = f"small {self.input}"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.labels = sorted(i.label for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_the_branches_of_a_switch_in_a_foreach_may_end_at_the_foreach_join(tmp_path):
    graph = graph_of(tmp_path, SWITCH_TO_A_FOREACH_JOIN)
    assert graph["join"].is_join and graph["join"].join_kind == "foreach"
    assert graph["join"].split_stack == [] and graph["end"].split_stack == []


def test_a_foreach_join_fed_by_a_switch_gets_every_item(flow_runner, flow_class):
    run = flow_runner.run(flow_class(HEADER + SWITCH_TO_A_FOREACH_JOIN))
    assert run["join"].task.data.labels == ["big 2", "big 3", "small 1"]


NESTED_SWITCHES = '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next({"a": self.a, "b": self.b}, condition="first")

    @step
    def a(self):
        self.next({"c": self.c, "d": self.d}, condition="second")

    @step
    def b(self):
        self.next(self.end)

    @step
    def c(self):
        self.next(self.end)

    @step
    def d(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_a_switch_whose_branch_is_another_switch_all_ending_in_end(tmp_path):
    # runs in Metaflow: exactly one of b, c, d runs, and end follows it
    graph = graph_of(tmp_path, NESTED_SWITCHES)
    s = shape(graph)
    assert s["a"] == ("switch", ["c", "d"], None, [("start", "switch")])
    assert s["c"] == ("linear", ["end"], None, [("start", "switch"), ("a", "switch")])
    assert s["end"] == ("end", [], "switch", [])
    assert not graph["end"].is_join  # nothing waits: the one branch taken arrives


SWITCH_IN_A_STATIC_BRANCH = '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next({"x": self.x, "y": self.y}, condition="pick")

    @step
    def x(self):
        self.next(self.join)

    @step
    def y(self):
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


def test_a_switch_inside_a_static_branch(tmp_path):
    # the join waits for branch a (through x or y, whichever ran) and branch b
    graph = graph_of(tmp_path, SWITCH_IN_A_STATIC_BRANCH)
    s = shape(graph)
    assert s["x"] == ("linear", ["join"], None, [("start", "static"), ("a", "switch")])
    assert s["join"] == ("linear", ["end"], "static", [])
    assert graph["join"].is_join


def test_a_switch_branch_that_escapes_its_static_branch_is_refused(tmp_path):
    body = SWITCH_IN_A_STATIC_BRANCH.replace("""    def y(self):
        self.next(self.join)""", """    def y(self):
        self.next(self.end)""")
    with pytest.raises(GraphError, match="different splits"):
        graph_of(tmp_path, body)


def test_steps_inherited_from_a_base_flow(tmp_path):
    module = import_flow_module(tmp_path, HEADER + '''
class BaseFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.prepare)

    @step
    def prepare(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class ChildFlow(BaseFlow):
    @step
    def prepare(self):  # overrides the base step with a different transition
        self.next(self.train)

    @step
    def train(self):
        self.next(self.end)


class NoTrainFlow(ChildFlow):
    train = None  # a non-step attribute hides the inherited step

    @step
    def prepare(self):
        self.next(self.end)
''')
    child = FlowGraph(module.ChildFlow)
    assert child.order == ["start", "prepare", "train", "end"]
    assert child["start"].func is module.BaseFlow.start
    assert child["prepare"].func is module.ChildFlow.prepare
    assert child["prepare"].line == line_of(module, "overrides the base step")
    assert FlowGraph(module.NoTrainFlow).order == ["start", "prepare", "end"]
    assert FlowGraph(module.BaseFlow).order == ["start", "prepare", "end"]


# --- every structural mistake ---------------------------------------------------------------

LINEAR_END = '''
    @step
    def end(self):
        pass
'''

BAD_FLOWS = {
    "missing start": ('''
class TheFlow(FlowSpec):  # HERE
    @step
    def begin(self):
        self.next(self.end)
''' + LINEAR_END, "has no 'start' step", "add a step named 'start'"),

    "missing end": ('''
class TheFlow(FlowSpec):  # HERE
    @step
    def start(self):
        self.next(self.finish)

    @step
    def finish(self):
        pass
''', "has no 'end' step", "add a step named 'end'"),

    "no self.next": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):  # HERE
        self.x = 1
''' + LINEAR_END, "step 'start' never calls self.next()", "self.next(self.end)"),

    "end calls self.next": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.next(self.start)  # HERE
''', "the end step must not call self.next()", "remove the call"),

    "next to a method that is not a step": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):  # HERE
        self.next(self.helper)

    def helper(self):
        pass
''' + LINEAR_END, "goes to 'helper', which is a method that is not decorated with @step",
        "define 'def helper(self)' with @step"),

    "next to an undefined name": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):  # HERE
        self.next(self.trian)
''' + LINEAR_END, "goes to 'trian', which is not defined in the flow", "fix the name"),

    "static join without inputs": ('''
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
    def join(self):  # HERE
        self.next(self.end)
''' + LINEAR_END, "step 'join' joins the branches of step 'start' and must take them as inputs",
        "def join(self, inputs)"),

    "foreach join without inputs": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.collect)

    @step
    def collect(self):  # one incoming edge and no inputs: not a join
        self.next(self.end)

    @step
    def end(self):  # HERE
        pass
''', "the branches opened in step 'start' are never joined before 'end'", "(self, inputs)"),

    "inputs on a step that joins nothing": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self, inputs):  # HERE
        self.next(self.end)
''' + LINEAR_END, "step 'middle' takes inputs but there is no branch to join",
        "def middle(self)"),

    "unreachable step": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def orphan(self):  # HERE
        self.next(self.end)
''' + LINEAR_END, "step 'orphan' can never run: no step leads to it",
        "add self.next(self.orphan) to a step, or remove it"),

    "a loop": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):  # HERE
        self.next(self.b)

    @step
    def b(self):
        self.next(self.a, self.end)
''' + LINEAR_END, "steps form a loop through 'a'", "flows are acyclic except where a switch"),

    "a loop back to start": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):  # HERE
        self.next(self.start)
''' + LINEAR_END, "step 'a' goes back to 'start'", "flows are acyclic"),

    "static branches reach different joins": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join_a)

    @step
    def b(self):
        self.next(self.join_b)

    @step
    def join_a(self, inputs):  # HERE
        self.next(self.end)

    @step
    def join_b(self, inputs):
        self.next(self.end)
''' + LINEAR_END, "join 'join_a' does not receive the branch(es) b of step 'start'",
        "every branch of a static split must reach the same join"),

    "branches never joined": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.end)

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):  # HERE
        pass
''', "step 'end' joins the branches of step 'start' and must take them as inputs",
        "def end(self, inputs)"),

    "foreach never joined": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.end)

    @step
    def end(self):  # HERE
        pass
''', "the branches opened in step 'start' are never joined before 'end'",
        "add a join step"),

    "join of different splits": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.items = [1]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):  # HERE
        self.next(self.end)
''' + LINEAR_END, "step 'join' joins branches of different splits (a, start)",
        "join the inner branches first"),

    "switch without condition": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next({"x": self.a, "y": self.end})  # HERE

    @step
    def a(self):
        self.next(self.end)
''' + LINEAR_END, "self.next({...}) in step 'start' needs condition=", "condition='choice'"),

    "condition without a dict": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, condition="route")  # HERE

    @step
    def a(self):
        self.next(self.end)
''' + LINEAR_END, "condition= in step 'start' needs a dict of steps", "condition='choice'"),

    "foreach with two targets": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1]
        self.next(self.a, self.b, foreach="items")  # HERE

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)
''' + LINEAR_END, "the foreach in step 'start' must fan out to exactly one step",
        "self.next(self.a, foreach='items')"),

    "non-literal foreach": ('''
ITEMS = "items"

class TheFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1]
        self.next(self.each, foreach=ITEMS)  # HERE

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)
''' + LINEAR_END, "foreach= in step 'start' must be a literal attribute name", "foreach='items'"),

    "non-literal condition": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next({"a": self.a}, condition=self.route)  # HERE

    @step
    def a(self):
        self.next(self.end)
''' + LINEAR_END, "condition= in step 'start' must be a literal attribute name",
        "condition='items'"),

    "unknown self.next argument": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end, forEach="items")  # HERE
''' + LINEAR_END, "self.next() in step 'start' got unknown argument 'forEach'",
        "use foreach=, condition= or num_parallel="),

    "self.next with no step": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next()  # HERE
''' + LINEAR_END, "self.next() in step 'start' names no step", "self.next(self.end)"),

    "self.next with a variable": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        target = self.end
        self.next(target)  # HERE
''' + LINEAR_END, "self.next() in step 'start' must name steps as self.<step>",
        "self.next(self.train)"),

    "if/else mixing a foreach": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1]
        if self.items:
            self.next(self.each, foreach="items")  # HERE
        else:
            self.next(self.end)

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)
''' + LINEAR_END, "calls self.next() in several places; each such call must name exactly one "
                  "step", "branch with if/else"),

    "start takes inputs": ('''
class TheFlow(FlowSpec):
    @step
    def start(self, inputs):  # HERE
        self.next(self.end)
''' + LINEAR_END, "the start step cannot take inputs", "def start(self):"),

    "wrong step signature": ('''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self, inputs, extra):  # HERE
        self.next(self.end)
''' + LINEAR_END, "step 'middle' must be 'def middle(self)' or, for a join, "
                  "'def middle(self, inputs)'", None),
}


@pytest.mark.parametrize("case", list(BAD_FLOWS))
def test_bad_flow_is_one_graph_error_naming_file_line_and_fix(tmp_path, case):
    body, message, fix = BAD_FLOWS[case]
    module = import_flow_module(tmp_path, HEADER + body)
    with pytest.raises(GraphError) as info:
        FlowGraph(module.TheFlow)
    err = info.value
    assert message in err.message
    assert err.file == module.__file__
    assert err.line == line_of(module, "# HERE")
    assert err.message.startswith(f"{module.__file__}:{err.line}: ")
    if fix is not None:
        assert fix in err.fix


@pytest.mark.parametrize("name", ["next", "input", "index", "name", "merge_artifacts",
                                  "foreach_stack", "_private"])
def test_reserved_step_names(tmp_path, name):
    module = import_flow_module(tmp_path, HEADER + f'''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def {name}(self):  # HERE
        self.next(self.end)
''' + LINEAR_END)
    with pytest.raises(GraphError) as info:
        FlowGraph(module.TheFlow)
    assert f"{name!r} cannot be a step name (it is reserved)" in info.value.message
    assert info.value.fix == "rename the step"
    assert info.value.line == line_of(module, "# HERE")


def test_flow_without_source_file_is_a_clear_error():
    namespace: dict = {}
    exec(HEADER + '''
class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)
''' + LINEAR_END, namespace)
    with pytest.raises(GraphError) as info:
        FlowGraph(namespace["TheFlow"])
    assert "cannot read the source of step" in info.value.message
    assert "define flows in a .py file" in info.value.fix
