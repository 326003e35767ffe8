"""The decorator bases that declare a step's environment, and reading a step's spec from them.

``@pypi`` / ``@conda`` on a step and ``@pypi_base`` / ``@conda_base`` on the flow subclass
these; a step's spec is the flow's base packages overlaid by the step's own (the step's
``python`` wins). A step with neither runs in the scheduler's interpreter (the fork path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..decorators.base import DecoratorError, FlowDecorator, StepDecorator
from .spec import EnvironmentSpec

if TYPE_CHECKING:
    from ..graph import FlowGraph


def _check(name: str, where: str, attributes: dict[str, Any], field: str) -> None:
    packages = attributes[field]
    if not isinstance(packages, dict) or not all(
            isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in packages.items()):
        raise DecoratorError(f"@{name}({field}=...) on {where} takes a dict of package names to "
                             f"versions", f"e.g. @{name}({field}={{'six': '1.16.0'}})")
    python = attributes["python"]
    if python is not None and not isinstance(python, str):
        raise DecoratorError(f"@{name}(python=...) on {where} takes a version string",
                             f"e.g. @{name}(python='3.11')")


class StepEnvironmentDecorator(StepDecorator):
    """A step decorator that asks for an environment of ``kind`` packages."""

    kind: str = ""
    packages_field = "packages"

    def step_init(self, flow_cls, graph, step_name):
        _check(self.name, f"step {step_name!r}", self.attributes, self.packages_field)

    def packages(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.attributes[self.packages_field].items()}


class FlowEnvironmentDecorator(FlowDecorator):
    """A flow decorator giving every step of the flow base packages of ``kind``."""

    kind: str = ""
    packages_field = "packages"

    def flow_init(self, flow_cls, graph):
        _check(self.name, f"flow {flow_cls.__name__}", self.attributes, self.packages_field)

    def packages(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.attributes[self.packages_field].items()}


def step_spec(flow_cls: type, graph: "FlowGraph", step_name: str) -> EnvironmentSpec | None:
    """The environment ``step_name`` runs in, or None for the scheduler's interpreter."""
    steps = [d for d in graph[step_name].func.__dict__.get("decorators", [])
             if isinstance(d, StepEnvironmentDecorator)]
    bases = [d for d in getattr(flow_cls, "_flow_decorators", [])
             if isinstance(d, FlowEnvironmentDecorator)]
    kinds = {d.kind for d in steps + bases}
    if not kinds:
        return None
    if len(kinds) > 1:
        raise DecoratorError(f"step {step_name!r} mixes {' and '.join(sorted(kinds))} "
                             f"environments", "use either @pypi/@pypi_base or @conda/@conda_base")
    packages: dict[str, str] = {}
    python = None
    for deco in bases + steps:
        packages.update(deco.packages())
        python = deco.attributes["python"] or python
    return EnvironmentSpec.build(kinds.pop(), python, packages)
