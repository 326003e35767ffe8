"""Written with Metaflow's API only: parameters, configs, IncludeFile, foreach, join,
merge_artifacts, a static split, a switch and current."""

from metaflow import Config, FlowSpec, IncludeFile, JSONType, Parameter, current, step


class SurfaceFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, type=float, help="a number")
    options = Parameter("options", default='{"mode": "fast"}', type=JSONType)
    cfg = Config("cfg", default_value={"n": 3, "route": "small"})
    notes = IncludeFile("notes", default="notes.txt")

    @step
    def start(self):
        self.items = list(range(self.cfg.n))
        self.common = "same everywhere"
        self.run_seen = current.run_id
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.sq = self.input ** 2
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.total = sum(i.sq for i in inputs)
        self.merge_artifacts(inputs, exclude=["sq"])
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left"
        self.next(self.meet)

    @step
    def right(self):
        self.side = "right"
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.sides = sorted(i.side for i in inputs)
        self.merge_artifacts(inputs, exclude=["side"])
        self.route = self.cfg.route
        self.next({"small": self.small, "big": self.big}, condition="route")

    @step
    def small(self):
        self.chosen = "small"
        self.next(self.end)

    @step
    def big(self):
        self.chosen = "big"
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"alpha": self.alpha, "mode": self.options["mode"],
                        "notes": self.notes.strip(), "total": self.total,
                        "common": self.common, "sides": self.sides, "chosen": self.chosen,
                        "pathspec": current.pathspec, "flow": current.flow_name,
                        "task_is_client": current.task.pathspec == current.pathspec}


if __name__ == "__main__":
    SurfaceFlow()
