"""Conditional branching: if/else around self.next, and the switch form."""

from headwater import FlowSpec, Parameter, step


class ConditionalFlow(FlowSpec):
    score = Parameter("score", default=0.9)
    mode = Parameter("mode", default="fast")

    @step
    def start(self):
        self.quality = self.score
        if self.quality > 0.8:
            self.next(self.high)
        elif self.quality > 0.5:
            self.next(self.standard)
        else:
            self.next(self.cleaning)

    @step
    def high(self):
        self.method = "advanced"
        self.next(self.finalize)

    @step
    def standard(self):
        self.method = "standard"
        self.next(self.finalize)

    @step
    def cleaning(self):
        self.method = "cleaned"
        self.cleaning_applied = True
        self.next(self.finalize)

    @step
    def finalize(self, inputs):
        self.n_inputs = len(inputs)
        self.result = {"quality": self.quality, "method": self.method,
                       "cleaned": hasattr(self, "cleaning_applied")}
        self.next(self.choose)

    @step
    def choose(self):
        self.route = self.mode
        self.next({"fast": self.fast, "slow": self.slow}, condition="route")

    @step
    def fast(self):
        self.speed = "fast"
        self.next(self.merge)

    @step
    def slow(self):
        self.speed = "slow"
        self.next(self.merge)

    @step
    def merge(self):
        self.next(self.end)

    @step
    def end(self):
        print("method", self.method, "speed", self.speed)


if __name__ == "__main__":
    ConditionalFlow()
