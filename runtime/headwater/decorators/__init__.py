"""Step and flow decorators.

The registry maps each decorator's name to ``module:Class`` so ``--with NAME`` and the
user-facing functions below can find it; a decorator's module (and any cloud SDK it needs)
is imported only when it is used (the user-facing functions are in ``api.py``). To add a
decorator, write one module with a
``StepDecorator`` subclass (see ``base.py``) and add one line to ``STEP_DECORATORS``, or,
outside Headwater, declare a ``headwater.step_decorators`` entry point (``extensions.py``).
"""

from __future__ import annotations

import ast
from typing import Any

from ..extensions import ExtensionGroup, extension_target
from ..registry import find, load

from .base import DecoratorError, FlowDecorator, StepDecorator

STEP_DECORATORS: dict[str, str] = {
    "retry": "headwater.decorators.retry:RetryDecorator",
    "catch": "headwater.decorators.catch:CatchDecorator",
    "timeout": "headwater.decorators.timeout:TimeoutDecorator",
    "resources": "headwater.decorators.resources:ResourcesDecorator",
    "environment": "headwater.decorators.environment:EnvironmentDecorator",
    "secrets": "headwater.decorators.secrets:SecretsDecorator",
    "card": "headwater.decorators.card:CardDecorator",
    "track_resources": "headwater.decorators.track_resources:TrackResourcesDecorator",
    "kubernetes": "headwater.decorators.kubernetes:KubernetesDecorator",
    "batch": "headwater.decorators.batch:BatchDecorator",
    "parallel": "headwater.decorators.parallel:ParallelDecorator",
    "pypi": "headwater.decorators.pypi:PypiDecorator",
    "conda": "headwater.decorators.conda:CondaDecorator",
}

FLOW_DECORATORS: dict[str, str] = {
    "project": "headwater.decorators.project:ProjectDecorator",
    "schedule": "headwater.decorators.project:ScheduleDecorator",
    "pypi_base": "headwater.decorators.pypi:PypiBaseDecorator",
    "conda_base": "headwater.decorators.conda:CondaBaseDecorator",
}


def step_decorator_class(name: str) -> type[StepDecorator]:
    """The class registered under ``name`` (built in, or a ``headwater.step_decorators``
    entry point of an installed package)."""
    found = find(STEP_DECORATORS, name, "step decorator",
                 "use one of them, or install the package that declares it as a "
                 "headwater.step_decorators entry point",
                 ExtensionGroup.STEP_DECORATORS, DecoratorError)
    try:
        return load(found)
    except ModuleNotFoundError as exc:
        raise _unavailable(name, found, exc) from None


def flow_decorator_class(name: str) -> type[FlowDecorator] | None:
    """The flow decorator class registered under ``name`` (built in or an entry point of
    ``headwater.flow_decorators``), or None."""
    found = extension_target(FLOW_DECORATORS, ExtensionGroup.FLOW_DECORATORS, name)
    return None if found is None else load(found)


def _unavailable(name: str, found: str, exc: ModuleNotFoundError) -> Exception:
    """Why a registered decorator cannot load; an install hint only for a third-party
    package, since nothing a user installs can add a missing Headwater module."""
    module = found.partition(":")[0]
    missing = exc.name or ""
    where = ("STEP_DECORATORS" if name in STEP_DECORATORS
             else "the package's headwater.step_decorators entry point")
    if module == missing or module.startswith(missing + "."):
        return DecoratorError(f"step decorator {name!r} is registered as "
                              f"{found!r}, but module {missing!r} does not "
                              f"exist", f"correct its line in {where}")
    if missing == "headwater" or missing.startswith("headwater."):
        return exc  # a Headwater module importing one that is gone: a bug, keep the traceback
    return DecoratorError(f"step decorator {name!r} needs the package {missing!r}, which is "
                          f"not installed",
                          f"pip install {missing}, or the headwater extra that includes it")


def parse_with(spec: str) -> StepDecorator:
    """Build a decorator from ``--with NAME[:key=value,key=value]`` (values are Python or
    JSON literals; anything else is a string)."""
    name, _, rest = spec.partition(":")
    cls = step_decorator_class(name.strip())
    attributes: dict[str, Any] = {}
    for part in _split_top_level(rest):
        key, sep, raw = part.partition("=")
        if not sep or not key.strip():
            raise DecoratorError(f"--with {spec!r}: {part!r} is not key=value",
                                 "e.g. --with retry:times=2,minutes_between_retries=0")
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        attributes[key.strip()] = value
    return cls(attributes, from_cli=True)


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets or quotes."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current))
    return [p for p in (p.strip() for p in parts) if p]


__all__ = ["DecoratorError", "FlowDecorator", "STEP_DECORATORS", "FLOW_DECORATORS",
           "StepDecorator", "flow_decorator_class", "parse_with", "step_decorator_class"]
