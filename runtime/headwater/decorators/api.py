"""The user-facing decorator functions: ``retry``, ``catch``, ``project``, ...

They live in this plain module rather than in the package ``__init__`` because importing a
submodule (``headwater.decorators.retry``) sets a package attribute of the same name, which
would shadow the function. Each function is built on first use from the registry (or from
an installed package's ``headwater.step_decorators`` / ``headwater.flow_decorators`` entry
point, which is how ``from headwater import announce`` finds a team's own decorator).
"""

from __future__ import annotations

from typing import Callable

from ..extensions import ExtensionGroup, extension_target
from . import STEP_DECORATORS, flow_decorator_class, step_decorator_class
from .base import make_flow_decorator, make_step_decorator


def __getattr__(name: str) -> Callable:
    if name.startswith("__"):  # module protocol probes (__path__, __wrapped__ ...)
        raise AttributeError(name)
    if extension_target(STEP_DECORATORS, ExtensionGroup.STEP_DECORATORS,
                         name) is not None:
        func = make_step_decorator(step_decorator_class(name))
    elif (flow_class := flow_decorator_class(name)) is not None:
        func = make_flow_decorator(flow_class)
    else:
        raise AttributeError(f"module 'headwater.decorators.api' has no attribute {name!r}")
    globals()[name] = func
    return func
