"""Failure handling: ``@retry`` runs a failing step again, ``@catch`` lets the flow go on.

    python examples/retry_catch_flow.py run
    python examples/retry_catch_flow.py run --flaky-failures 5   # more failures than retries

``fetch_external_data`` simulates a flaky API: its first ``--flaky-failures`` attempts raise
``ConnectionError`` (decided by ``current.retry_count``, so runs are deterministic).
``@retry(times=2, minutes_between_retries=0)`` gives it two more attempts; if all three fail,
``@catch(var="api_error")`` stores the error in ``self.api_error`` and the flow continues
with cached fallback data (``validate_data``). ``transform`` always fails and is always
caught; ``end`` reports both. Adapted from the source document's ``RobustMLFlow``.
"""

from headwater import FlowSpec, Parameter, catch, current, retry, step, timeout


def enrich(data: dict) -> dict:
    """Stand-in for a call to a service that is down."""
    raise RuntimeError("enrichment service is down")


class RobustFlow(FlowSpec):
    """Survive a flaky data source and a broken optional step."""

    flaky_failures = Parameter("flaky-failures", default=1,
                               help="How many attempts of fetch_external_data fail")

    @step
    def start(self):
        """Nothing to set up but the plan."""
        self.plan = ["fetch_external_data", "validate_data", "transform"]
        self.next(self.fetch_external_data)

    @retry(times=2, minutes_between_retries=0)
    @catch(var="api_error")
    @timeout(seconds=60)
    @step
    def fetch_external_data(self):
        """Fetch data from an API that fails its first ``flaky_failures`` attempts."""
        print(f"attempt {current.retry_count + 1}")
        if current.retry_count < self.flaky_failures:
            raise ConnectionError(f"API temporarily unavailable (attempt "
                                  f"{current.retry_count + 1})")
        self.external_data = {"records": 10000, "source": "external_api"}
        self.fetch_attempts = current.retry_count + 1
        self.next(self.validate_data)

    @step
    def validate_data(self):
        """Use the fetched data, or a cached fallback if every attempt failed."""
        # None when fetch_external_data succeeded (read with getattr, as the source
        # document guards it).
        api_error = getattr(self, "api_error", None)
        if api_error:
            print(f"API error occurred: {api_error}")
            self.external_data = {"records": 8000, "source": "cached_fallback"}
        self.validation_results = {
            "data_source": self.external_data["source"],
            "record_count": self.external_data["records"],
            "is_fallback": self.external_data["source"] == "cached_fallback",
        }
        self.next(self.transform)

    @catch(var="transform_error", print_exception=False)
    @step
    def transform(self):
        """An optional enrichment that is broken; the flow must not stop because of it."""
        self.enriched = enrich(self.external_data)  # raises: the service is down
        self.next(self.end)

    @step
    def end(self):
        """Report what happened."""
        transform_error = getattr(self, "transform_error", None)
        if transform_error:
            print(f"Transform skipped: {transform_error}")
        self.summary = dict(self.validation_results, transform_failed=bool(transform_error))
        print("Robust flow completed!")
        print(f"Summary: {self.summary}")


if __name__ == "__main__":
    RobustFlow()
