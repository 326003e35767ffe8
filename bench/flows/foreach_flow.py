"""Benchmark flow: a foreach over ``--n`` trivial tasks and their join (per-task cost)."""

from headwater import FlowSpec, Parameter, step  # bench: tool import


class ForeachFlow(FlowSpec):
    n = Parameter("n", default=100, help="number of foreach tasks")

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(task.out for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(f"RESULT total={self.total}")


if __name__ == "__main__":
    ForeachFlow()
