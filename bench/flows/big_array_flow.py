"""Benchmark flow: ``start`` stores a ``--mb`` MB numpy array that the next step sums."""

import numpy as np

from headwater import FlowSpec, Parameter, step  # bench: tool import


class BigArrayFlow(FlowSpec):
    mb = Parameter("mb", default=400, help="size of the array in MB")

    @step
    def start(self):
        self.array = np.ones(self.mb * 2 ** 20 // 8, dtype=np.float64)
        self.next(self.total)

    @step
    def total(self):
        self.sum = float(self.array.sum())
        self.next(self.end)

    @step
    def end(self):
        print(f"RESULT sum={self.sum:.0f}")


if __name__ == "__main__":
    BigArrayFlow()
