"""Conditional branching: plain if/else around different ``self.next(...)`` calls.

    python examples/conditional_branching_flow.py run                       # random path
    python examples/conditional_branching_flow.py run --quality-score 0.3   # force a path

``start`` scores the data and picks exactly one of three processing steps; the join
``finalize_processing`` receives only the branch that was taken (so ``len(inputs) == 1``)
and artifacts of that branch, such as ``cleaning_applied``, reach it. The source document's
``ConditionalBranchingFlow``; ``--quality-score`` replaces the random score so a run (and
its test) can choose the path: above 0.8 high quality, above 0.5 standard, else cleaning.
"""

import random

from headwater import FlowSpec, Parameter, step


class ConditionalBranchingFlow(FlowSpec):
    """Route data to one of three processing paths depending on its quality."""

    quality_score = Parameter("quality-score", type=float, default=None,
                              help="Data quality in [0, 1]; random when not given")

    @step
    def start(self):
        """Assess the data and choose the processing path."""
        rng = random.Random()
        score = self.quality_score
        self.data_quality_score = rng.uniform(0, 1) if score is None else score
        if not 0 <= self.data_quality_score <= 1:
            raise ValueError(f"--quality-score must be in [0, 1], got {self.data_quality_score}")
        self.data_size = rng.randint(1000, 100000)
        print(f"Data quality score: {self.data_quality_score:.3f}")
        print(f"Data size: {self.data_size}")
        if self.data_quality_score > 0.8:
            self.next(self.high_quality_processing)
        elif self.data_quality_score > 0.5:
            self.next(self.standard_processing)
        else:
            self.next(self.data_cleaning_required)

    @step
    def high_quality_processing(self):
        """Process high-quality data with advanced algorithms."""
        print("Using advanced processing for high-quality data")
        self.processing_method = "advanced_ml"
        self.confidence_level = 0.95
        self.next(self.finalize_processing)

    @step
    def standard_processing(self):
        """Standard processing for medium-quality data."""
        print("Using standard processing")
        self.processing_method = "standard_ml"
        self.confidence_level = 0.85
        self.next(self.finalize_processing)

    @step
    def data_cleaning_required(self):
        """Clean poor-quality data first."""
        print("Data cleaning required before processing")
        self.processing_method = "cleaned_then_standard"
        self.confidence_level = 0.75
        self.cleaning_applied = True
        self.next(self.finalize_processing)

    @step
    def finalize_processing(self, inputs):
        """Finish whichever branch was taken (``inputs`` holds only that one)."""
        self.branches_joined = len(inputs)
        self.final_result = {
            "original_quality_score": self.data_quality_score,
            "processing_method": self.processing_method,
            "confidence_level": self.confidence_level,
            "data_size": self.data_size,
        }
        if hasattr(self, "cleaning_applied"):
            self.final_result["cleaning_applied"] = True
        print(f"Processing completed using: {self.processing_method}")
        self.next(self.end)

    @step
    def end(self):
        """Report."""
        print("Conditional branching flow completed!")
        print(f"Final result: {self.final_result}")


if __name__ == "__main__":
    ConditionalBranchingFlow()
