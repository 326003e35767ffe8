"""The decorator bases that declare a step's environment, and reading a step's spec from them.

``@pypi`` / ``@conda`` on a step and ``@pypi_base`` / ``@conda_base`` on the flow subclass
these; a step's spec is the flow's base packages overlaid by the step's own (the step's
``python`` wins). A step with neither runs in the scheduler's interpreter (the fork path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..decorators.base import DecoratorError, FlowDecorator, SpinUse, StepDecorator
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
    channels = attributes.get("channels", [])
    if isinstance(channels, str) or not isinstance(channels, (list, tuple)) or not all(
            isinstance(c, str) and c.strip() for c in channels):
        raise DecoratorError(f"@{name}(channels=...) on {where} takes a list of channel names "
                             f"or URLs", f"e.g. @{name}(channels=['conda-forge'])")


class _Declares:
    """What step and flow environment decorators share: the packages and channels read."""

    kind: str = ""
    packages_field = "packages"
    attributes: dict[str, Any]

    def packages(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.attributes[self.packages_field].items()}

    def channels(self) -> tuple[str, ...]:
        """Conda channels, in priority order (none for PyPI)."""
        return tuple(c.strip() for c in self.attributes.get("channels", ()))


class StepEnvironmentDecorator(_Declares, StepDecorator):
    """A step decorator that asks for an environment of ``kind`` packages."""

    spin_use = SpinUse.APPLIED  # validated and recorded; spin does not enter the environment

    def step_init(self, flow_cls, graph, step_name):
        _check(self.name, f"step {step_name!r}", self.attributes, self.packages_field)


class FlowEnvironmentDecorator(_Declares, FlowDecorator):
    """A flow decorator giving every step of the flow base packages of ``kind``."""

    def flow_init(self, flow_cls, graph):
        _check(self.name, f"flow {flow_cls.__name__}", self.attributes, self.packages_field)


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
    channels: list[str] = []
    for deco in bases + steps:
        packages.update(deco.packages())
        python = deco.attributes["python"] or python
    for deco in steps + bases:  # the step's own channels come first
        channels += [c for c in deco.channels() if c not in channels]
    return EnvironmentSpec.build(kinds.pop(), python, packages, tuple(channels))
