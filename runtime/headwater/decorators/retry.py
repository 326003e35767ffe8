"""``@retry``: run a failing task again."""

from __future__ import annotations

from .base import DecoratorError, StepDecorator

MAX_RETRIES = 4


class RetryDecorator(StepDecorator):
    """Retry the step up to ``times`` more times, ``minutes_between_retries`` apart.

        @retry(times=3, minutes_between_retries=1)
    """

    name = "retry"
    defaults = {"times": 3, "minutes_between_retries": 2}

    def step_init(self, flow_cls, graph, step_name):
        times, minutes = self.attributes["times"], self.attributes["minutes_between_retries"]
        if not isinstance(times, int) or isinstance(times, bool) or not 0 <= times <= MAX_RETRIES:
            raise DecoratorError(f"@retry(times={times!r}) on step {step_name!r}: times must be "
                                 f"an integer from 0 to {MAX_RETRIES}")
        if not isinstance(minutes, (int, float)) or minutes < 0:
            raise DecoratorError(f"@retry(minutes_between_retries={minutes!r}) on step "
                                 f"{step_name!r} must be a number >= 0")

    def retries(self) -> int:
        return int(self.attributes["times"])

    def retry_delay_seconds(self) -> float:
        return float(self.attributes["minutes_between_retries"]) * 60
