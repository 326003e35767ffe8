"""``@retry``: run a failing task again."""

from __future__ import annotations

from .base import DecoratorError, StepDecorator

MAX_RETRIES = 4
# The wait between attempts of a deployed workflow when the user named none.
REMOTE_DEFAULT_MINUTES = 2


class RetryDecorator(StepDecorator):
    """Retry the step up to ``times`` more times, ``minutes_between_retries`` apart.

        @retry(times=3, minutes_between_retries=1)

    Without ``minutes_between_retries`` a run from this machine retries at once (as
    Metaflow's local runner does); a deployed workflow (Argo, Step Functions) waits
    ``REMOTE_DEFAULT_MINUTES`` between attempts.
    """

    name = "retry"
    defaults = {"times": 3, "minutes_between_retries": None}

    def step_init(self, flow_cls, graph, step_name):
        times, minutes = self.attributes["times"], self.attributes["minutes_between_retries"]
        if not isinstance(times, int) or isinstance(times, bool) or not 0 <= times <= MAX_RETRIES:
            raise DecoratorError(f"@retry(times={times!r}) on step {step_name!r}: times must be "
                                 f"an integer from 0 to {MAX_RETRIES}")
        if minutes is not None and (not isinstance(minutes, (int, float))
                                    or isinstance(minutes, bool) or minutes < 0):
            raise DecoratorError(f"@retry(minutes_between_retries={minutes!r}) on step "
                                 f"{step_name!r} must be a number >= 0")

    def retries(self) -> int:
        return int(self.attributes["times"])

    def retry_delay_seconds(self) -> float:
        minutes = self.attributes["minutes_between_retries"]
        return 0.0 if minutes is None else float(minutes) * 60
