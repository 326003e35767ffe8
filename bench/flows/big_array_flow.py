"""Benchmark flow: ``start`` stores a ``--mb`` MB numpy array that the next step sums.

The array is random, hence incompressible like real features or weights: an array of
constants would flatter any datastore that compresses artifacts. ``start`` also keeps the
sum it expects, so the run proves the array arrived intact.
"""

import numpy as np

from headwater import FlowSpec, Parameter, step  # bench: tool import


class BigArrayFlow(FlowSpec):
    mb = Parameter("mb", default=400, help="size of the array in MB")

    @step
    def start(self):
        self.array = np.random.default_rng(0).random(self.mb * 2 ** 20 // 8)
        self.expected = float(self.array.sum())
        self.next(self.total)

    @step
    def total(self):
        self.sum = float(self.array.sum())
        self.next(self.end)

    @step
    def end(self):
        print(f"RESULT intact={self.sum == self.expected}")


if __name__ == "__main__":
    BigArrayFlow()
