"""A foreach that fans out over ``items``; with ``--fail-on N`` the task for item N fails
(stderr says why), so the run fails with a split of succeeded and failed tasks."""

import sys

from headwater import FlowSpec, Parameter, step


class Widget:
    """A user class: its artifact is stored but never unpickled by the service."""

    def __init__(self, size):
        self.size = size


class FanoutFlow(FlowSpec):
    width = Parameter("width", help="How many items", default=3)
    fail_on = Parameter("fail-on", help="The item whose task fails (-1: none)", default=-1)
    label = Parameter("label", help="A string parameter", default="demo")

    @step
    def start(self):
        self.items = list(range(self.width))
        self.settings = {"alpha": 0.5, "names": ["a", "b"], "nested": {"ok": True}}
        self.widget = Widget(3)
        print(f"fanning out over {len(self.items)} items")
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.square = self.input * self.input
        print(f"item {self.input} squared is {self.square}")
        if self.input == self.fail_on:
            print(f"item {self.input} is the one that fails", file=sys.stderr)
            raise RuntimeError(f"item {self.input} was told to fail")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(f"total {self.total}")


if __name__ == "__main__":
    FanoutFlow()
