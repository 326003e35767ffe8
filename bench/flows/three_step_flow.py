"""Benchmark flow: three steps, one small artifact passed along (fixed cost of a run)."""

from headwater import FlowSpec, step  # bench: tool import


class ThreeStepFlow(FlowSpec):
    @step
    def start(self):
        self.value = 1
        self.next(self.middle)

    @step
    def middle(self):
        self.value += 1
        self.next(self.end)

    @step
    def end(self):
        print(f"RESULT value={self.value}")


if __name__ == "__main__":
    ThreeStepFlow()
