"""The user-facing decorator functions: ``retry``, ``catch``, ``project``, ...

They live in this plain module rather than in the package ``__init__`` because importing a
submodule (``headwater.decorators.retry``) sets a package attribute of the same name, which
would shadow the function. Each function is built on first use from the registry.
"""

from __future__ import annotations

from typing import Callable

from ..registry import load
from . import FLOW_DECORATORS, STEP_DECORATORS, step_decorator_class
from .base import make_flow_decorator, make_step_decorator


def __getattr__(name: str) -> Callable:
    if name in STEP_DECORATORS:
        func = make_step_decorator(step_decorator_class(name))
    elif name in FLOW_DECORATORS:
        func = make_flow_decorator(load(FLOW_DECORATORS[name]))
    else:
        raise AttributeError(f"module 'headwater.decorators.api' has no attribute {name!r}")
    globals()[name] = func
    return func
