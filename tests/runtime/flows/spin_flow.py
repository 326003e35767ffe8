"""A flow with a linear step, a foreach and its join, for ``spin``."""

from headwater import FlowSpec, Parameter, retry, step


class SpinFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)
    fail_double = Parameter("fail_double", default=False)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.base = 10
        self.next(self.double)

    @step
    def double(self):
        if self.fail_double:
            raise ValueError("double broke")
        print("doubling", self.base)
        self.base2 = self.base * 2
        self.next(self.work, foreach="items")

    @retry(times=1)
    @step
    def work(self):
        print("item", self.input, "at", self.index)
        self.v = self.input * self.alpha + self.base2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.v for i in inputs)
        self.seen = sorted(i.v for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SpinFlow()
