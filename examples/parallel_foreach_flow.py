"""Dynamic parallel processing: fan out over a list with ``foreach``, then join.

    python examples/parallel_foreach_flow.py run
    python examples/parallel_foreach_flow.py run --n-datasets 20 --max-workers 4

``start`` builds a list of dataset descriptions; ``self.next(self.process_dataset,
foreach="datasets")`` starts one task per item, in parallel up to ``--max-workers``, each
seeing its item as ``self.input`` and its position as ``self.index``. ``join_results``
receives every branch as ``inputs`` and combines them. This is the source document's
"Dynamic Parallel Processing" example, with its sleeps shortened (``--max-sleep``).
"""

import time

import numpy as np

from headwater import FlowSpec, Parameter, step


class ParallelProcessingFlow(FlowSpec):
    """Analyse several datasets in parallel and summarise the results."""

    n_datasets = Parameter("n-datasets", help="How many datasets to process in parallel",
                           default=5)
    max_sleep = Parameter("max-sleep", help="Longest simulated processing time, seconds",
                          default=0.2)

    @step
    def start(self):
        """Describe the datasets to process; one parallel task each."""
        if self.n_datasets < 1:
            raise ValueError(f"--n-datasets must be at least 1, got {self.n_datasets}")
        self.datasets = [{"id": f"dataset_{i}", "size": 1000 * (i + 1), "seed": i}
                         for i in range(self.n_datasets)]
        print(f"Processing {len(self.datasets)} datasets in parallel")
        self.next(self.process_dataset, foreach="datasets")

    @step
    def process_dataset(self):
        """Analyse one dataset (runs once per item of ``datasets``)."""
        dataset = self.input
        rng = np.random.default_rng(dataset["seed"])
        values = rng.normal(loc=dataset["seed"], scale=1.0, size=dataset["size"])
        mean, std = float(values.mean()), float(values.std())
        self.analysis_result = {
            "dataset_id": dataset["id"],
            "position": self.index,
            "original_size": dataset["size"],
            "mean": mean,
            "std": std,
            "outliers": int((np.abs(values - mean) > 3 * std).sum()),
        }
        # Simulate varying processing times
        self.processing_time = float(rng.uniform(0, self.max_sleep))
        time.sleep(self.processing_time)
        print(f"Completed {dataset['id']} in {self.processing_time:.2f}s")
        self.next(self.join_results)

    @step
    def join_results(self, inputs):
        """Combine the results of all parallel branches."""
        self.all_results = [task.analysis_result for task in inputs]
        total_time = sum(task.processing_time for task in inputs)
        self.summary = {
            "total_datasets": len(self.all_results),
            "total_processing_time": total_time,
            "average_processing_time": total_time / len(self.all_results),
            "total_samples_processed": sum(r["original_size"] for r in self.all_results),
            "overall_mean": float(np.mean([r["mean"] for r in self.all_results])),
            "total_outliers": sum(r["outliers"] for r in self.all_results),
        }
        print(f"Processed {self.summary['total_samples_processed']} total samples")
        print(f"Found {self.summary['total_outliers']} outliers across all datasets")
        self.next(self.end)

    @step
    def end(self):
        """Report."""
        print("Parallel processing completed!")
        print(f"Summary: {self.summary}")


if __name__ == "__main__":
    ParallelProcessingFlow()
