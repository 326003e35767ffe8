"""A flow that exercises what the Client API reads: parameters, foreach, a caught failure,
logs on both streams, a large array, and an end step that fails until a marker file exists
(so a resume can succeed)."""

import os
import sys

import numpy as np

from headwater import FlowSpec, Parameter, catch, step


class ClientDemoFlow(FlowSpec):
    n = Parameter("n", default=3, help="How many items to fan out over")
    marker = Parameter("marker", default="", help="end fails while this file is absent")

    @step
    def start(self):
        print(f"starting with n={self.n}")
        print("a warning on stderr", file=sys.stderr)
        self.items = list(range(self.n))
        self.array = np.arange(1_000_000, dtype=np.int64)  # 8 MB: the large-artifact path
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = self.input ** 2
        print(f"square of {self.input} is {self.value}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.next(self.fragile)

    @catch(var="problem", print_exception=False)
    @step
    def fragile(self):
        raise ValueError("expected failure in fragile")
        self.next(self.end)

    @step
    def end(self):
        if self.marker and not os.path.exists(self.marker):
            raise RuntimeError("end fails until the marker exists")
        self.total = int(sum(self.values) + self.array[:3].sum())
        print(f"total {self.total}")


if __name__ == "__main__":
    ClientDemoFlow()
