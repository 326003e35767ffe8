"""Static branch, foreach, nested foreach, joins and merge_artifacts in one flow."""

from headwater import FlowSpec, Parameter, current, step


class BranchingFlow(FlowSpec):
    n = Parameter("n", default=3, help="items in the outer foreach")

    @step
    def start(self):
        self.items = list(range(self.n))
        self.shared = "same everywhere"
        self.seen = {"flow": current.flow_name, "step": current.step_name,
                     "run": current.run_id, "params": current.parameter_names,
                     "running": current.is_running_flow, "namespace": current.namespace}
        print("hello from start")
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left"
        self.next(self.join_sides)

    @step
    def right(self):
        self.side = "right"
        self.next(self.join_sides)

    @step
    def join_sides(self, inputs):
        self.sides = sorted(i.side for i in inputs)
        self.left_side = inputs.left.side
        self.next(self.outer)

    @step
    def outer(self):
        self.next(self.fan, foreach="items")

    @step
    def fan(self):
        self.outer_item = self.input
        self.letters = ["a", "b"]
        self.next(self.inner, foreach="letters")

    @step
    def inner(self):
        self.pair = (self.outer_item, self.input, self.index)
        self.stack = [(i, n) for i, n, _ in self.foreach_stack()]
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.pairs = [i.pair for i in inputs]
        self.merge_artifacts(inputs, exclude=["pair", "stack"])
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.all_pairs = sorted(p for i in inputs for p in i.pairs)
        self.next(self.end)

    @step
    def end(self):
        print("pairs", len(self.all_pairs))


if __name__ == "__main__":
    BranchingFlow()
