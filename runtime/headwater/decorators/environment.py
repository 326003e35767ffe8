"""``@environment``: environment variables for a step."""

from __future__ import annotations

import os

from .base import DecoratorError, SpinUse, StepDecorator


class EnvironmentDecorator(StepDecorator):
    """Set ``vars`` (a dict of str to str) in the task's environment before the step runs."""

    name = "environment"
    spin_use = SpinUse.APPLIED
    defaults = {"vars": {}}

    def step_init(self, flow_cls, graph, step_name):
        env = self.attributes["vars"]
        if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
            raise DecoratorError(f"@environment(vars=...) on step {step_name!r} takes a dict of "
                                 f"names to values", "e.g. @environment(vars={'MODE': 'fast'})")

    def task_pre_step(self, flow, ctx):
        os.environ.update({k: str(v) for k, v in self.attributes["vars"].items()})
