"""``@resources``: what a step needs. Recorded locally; remote compute enforces it."""

from __future__ import annotations

from .base import DecoratorError, StepDecorator


class ResourcesDecorator(StepDecorator):
    """Request ``cpu`` cores, ``memory`` and ``disk`` (MB) and ``gpu`` count for the step.

    Local runs record the request (task metadata); ``@kubernetes`` and ``@batch`` size their
    containers from it."""

    name = "resources"
    defaults = {"cpu": 1, "memory": 4096, "gpu": None, "disk": None, "shared_memory": None}

    def step_init(self, flow_cls, graph, step_name):
        for key, value in self.attributes.items():
            if value is None:
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = -1
            if number < 0:
                raise DecoratorError(f"@resources({key}={value!r}) on step {step_name!r} must "
                                     f"be a non-negative number")

    def requests(self) -> dict:
        return {k: v for k, v in self.attributes.items() if v is not None}

    def resource_requests(self) -> dict:
        return self.requests()
