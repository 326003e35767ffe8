"""Written with Metaflow's API only: a recursive switch and @parallel with num_parallel."""

from metaflow import FlowSpec, current, parallel, step


class MfLoopGangFlow(FlowSpec):
    @step
    def start(self):
        self.count = 0
        self.next(self.grow)

    @step
    def grow(self):
        self.count += 1
        self.more = "yes" if self.count < 4 else "no"
        self.next({"yes": self.grow, "no": self.fan}, condition="more")

    @step
    def fan(self):
        self.next(self.node, num_parallel=2)

    @parallel
    @step
    def node(self):
        self.where = (current.parallel.node_index, current.parallel.num_nodes)
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.wheres = sorted(i.where for i in inputs)
        self.merge_artifacts(inputs, exclude=["where"])
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MfLoopGangFlow()
