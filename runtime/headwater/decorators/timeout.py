"""``@timeout``: stop a step that runs too long."""

from __future__ import annotations

import signal

from ..exceptions import TimeoutException
from .base import DecoratorError, SpinUse, StepDecorator

# After the in-process alarm fires, how long the scheduler waits before killing the process
# (a step stuck in C code never sees the Python exception).
KILL_GRACE_SECONDS = 5.0


class TimeoutDecorator(StepDecorator):
    """Fail the step (``TimeoutException``, retried by ``@retry``) when it runs longer than
    ``seconds + 60 * minutes + 3600 * hours``; the process is killed if it does not stop."""

    name = "timeout"
    spin_use = SpinUse.APPLIED
    defaults = {"seconds": 0, "minutes": 0, "hours": 0}

    def total(self) -> float:
        a = self.attributes
        return float(a["seconds"]) + 60 * float(a["minutes"]) + 3600 * float(a["hours"])

    def step_init(self, flow_cls, graph, step_name):
        try:
            total = self.total()
        except (TypeError, ValueError):
            raise DecoratorError(f"@timeout on step {step_name!r} takes numbers") from None
        if total <= 0:
            raise DecoratorError(f"@timeout on step {step_name!r} needs a positive duration",
                                 "e.g. @timeout(minutes=10)")

    def timeout_seconds(self) -> float:
        return self.total() + KILL_GRACE_SECONDS

    def task_pre_step(self, flow, ctx):
        total = self.total()

        def on_alarm(signum, frame):
            raise TimeoutException(f"step {ctx.step_name!r} exceeded its @timeout of {total:g} s",
                                   "raise the @timeout or make the step faster")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, total)

    def task_finished(self, flow, ctx, ok):
        signal.setitimer(signal.ITIMER_REAL, 0)
