"""Flows of every graph shape the deployers compile (sources written to a temp folder)."""

LINEAR = '''
from headwater import FlowSpec, Parameter, step

class LinearFlow(FlowSpec):
    alpha = Parameter("alpha", default=2, help="a multiplier")
    name = Parameter("name", default="x")

    @step
    def start(self):
        self.value = self.alpha * 10
        self.next(self.middle)

    @step
    def middle(self):
        self.value += 1
        self.next(self.end)

    @step
    def end(self):
        print("value", self.value, self.name)

if __name__ == "__main__":
    LinearFlow()
'''

BRANCH = '''
from headwater import FlowSpec, step

class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.a, self.b)

    @step
    def a(self):
        self.y = "a"
        self.next(self.join)

    @step
    def b(self):
        self.y = "b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.ys = [i.y for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    BranchFlow()
'''

NESTED_FOREACH = '''
from headwater import FlowSpec, step

class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.outer = [1, 2]
        self.next(self.fan, foreach="outer")

    @step
    def fan(self):
        self.o = self.input
        self.inner = [10, 20, 30]
        self.next(self.work, foreach="inner")

    @step
    def work(self):
        self.product = self.o * self.input
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.total = sum(i.product for i in inputs)
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.totals = sorted(i.total for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    NestedForeachFlow()
'''

SWITCHES = '''
from headwater import FlowSpec, Parameter, step

class SwitchFlow(FlowSpec):
    mode = Parameter("mode", default="big")

    @step
    def start(self):
        self.choice = self.mode
        self.next({"big": self.big, "small": self.small}, condition="choice")

    @step
    def big(self):
        self.size = 100
        self.next(self.big_more)

    @step
    def big_more(self):
        self.size += 1
        self.next(self.merge)

    @step
    def small(self):
        self.size = 1
        self.next(self.merge)

    @step
    def merge(self):
        if self.size > 50:
            self.next(self.large)
        else:
            self.next(self.tiny)

    @step
    def large(self):
        self.label = "large"
        self.next(self.end)

    @step
    def tiny(self):
        self.label = "tiny"
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    SwitchFlow()
'''

CONDITIONAL_IN_FOREACH = '''
from headwater import FlowSpec, retry, step, timeout

class ForeachConditionalFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3, 4]
        self.next(self.check, foreach="items")

    @retry(times=2, minutes_between_retries=0)
    @timeout(seconds=120)
    @step
    def check(self):
        self.n = self.input
        if self.n % 2 == 0:
            self.next(self.even)
        else:
            self.next(self.odd)

    @step
    def even(self):
        self.kind = "even"
        self.next(self.converge)

    @step
    def odd(self):
        self.kind = "odd"
        self.next(self.converge)

    @step
    def converge(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.kinds = [i.kind for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    ForeachConditionalFlow()
'''

WIDE_FOREACH = '''
from headwater import FlowSpec, Parameter, step

class WideFlow(FlowSpec):
    width = Parameter("width", default=10)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.v = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.v for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    WideFlow()
'''

FLAKY = '''
from headwater import FlowSpec, retry, step

class FlakyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=1, minutes_between_retries=0)
    @step
    def flaky(self):
        from headwater.current import current
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.attempt_seen = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    FlakyFlow()
'''

SHAPES = {"linear": LINEAR, "branch": BRANCH, "nested_foreach": NESTED_FOREACH,
          "switches": SWITCHES, "conditional_in_foreach": CONDITIONAL_IN_FOREACH,
          "wide_foreach": WIDE_FOREACH, "flaky": FLAKY}

SWITCH_IN_BRANCH = '''
from headwater import FlowSpec, Parameter, step

class SwitchInBranchFlow(FlowSpec):
    pick = Parameter("pick", default="c")

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.choice = self.pick
        self.next({"c": self.c, "d": self.d}, condition="choice")

    @step
    def c(self):
        self.got = "c"
        self.next(self.join)

    @step
    def d(self):
        self.got = "d"
        self.next(self.join)

    @step
    def b(self):
        self.got = "b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.gots = sorted(i.got for i in inputs)
        self.next(self.nested)

    @step
    def nested(self):
        self.route = "deep" if self.pick == "d" else "shallow"
        self.next({"deep": self.deep, "shallow": self.end}, condition="route")

    @step
    def deep(self):
        self.inner = "x"
        self.next({"x": self.deeper, "y": self.end}, condition="inner")

    @step
    def deeper(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    SwitchInBranchFlow()
'''

SHAPES["switch_in_branch"] = SWITCH_IN_BRANCH

CONFIGURED = '''
from headwater import Config, FlowSpec, environment, step

class ConfiguredFlow(FlowSpec):
    cfg = Config("cfg", default_value={"n": 1, "word": "default"})

    @step
    def start(self):
        self.n = self.cfg.n
        self.next(self.end)

    @environment(vars={"CFG_WORD": cfg.word})
    @step
    def end(self):
        import os
        self.word = os.environ["CFG_WORD"]
        self.n_end = self.cfg.n

if __name__ == "__main__":
    ConfiguredFlow()
'''

PYPI = '''
from headwater import FlowSpec, pypi, step

class PypiFlow(FlowSpec):
    @pypi(packages={"six": "1.16.0"})
    @step
    def start(self):
        import six
        self.six = six.__version__
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    PypiFlow()
'''
