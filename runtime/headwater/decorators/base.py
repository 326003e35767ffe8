"""The decorator extension point.

A step decorator is a plain object attached to the step function (``func.decorators``);
the graph parser, the scheduler and the task executor read it. It is built the same way
whether written in code (``@retry(times=3)``, ``@retry``) or on the command line
(``--with retry:times=3``), and can be inspected and tested without running a flow.

To add one: subclass ``StepDecorator``, set ``name`` and ``defaults``, override the hooks
you need, and add a line to ``decorators/__init__.py``'s registry. Hooks run in this order:

1. ``step_init``      when the flow's graph is checked (``run``, ``check``): validate here.
2. in the task process: ``task_pre_step`` -> step body -> ``task_post_step``
   or, if the body raised, ``task_exception`` (return True to swallow the error);
   ``task_finished`` always runs last.
3. in the scheduler (read once per step): ``retries`` (extra attempts granted),
   ``retry_delay_seconds``, ``timeout_seconds`` (a hard kill), ``recovers_crashes`` (after
   every attempt died without a result, e.g. ``kill -9``, run one more attempt in which
   ``task_crashed`` may turn the crash into success), ``compute_backend`` (where the step's
   attempts run: a name in ``compute/__init__.py``'s registry).
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, Callable

from ..exceptions import HeadwaterException

if TYPE_CHECKING:
    from ..flowspec import FlowSpec
    from ..graph import FlowGraph
    from ..task import TaskContext


class DecoratorError(HeadwaterException):
    headline = "Bad decorator"


def _with_defaults(name: str, defaults: dict[str, Any],
                   attributes: dict[str, Any] | None) -> dict[str, Any]:
    attributes = dict(attributes or {})
    unknown = sorted(set(attributes) - set(defaults))
    if unknown:
        raise DecoratorError(f"@{name} got unknown argument(s) {', '.join(unknown)}",
                             f"@{name} accepts: {', '.join(defaults) or 'no arguments'}")
    return {**defaults, **attributes}


class SpinUse(Enum):
    """What ``spin`` (one step of an earlier run, again, here) does with a decorator."""

    APPLIED = "applied"  # its hooks run as in a run
    IGNORED = "ignored"  # left out, with a note (retries, remote compute, ...)
    REFUSED = "refused"  # the step cannot be spun


class StepDecorator:
    """Base of every step decorator (``@retry``, ``@catch``, ``@resources`` ...)."""

    #: The name used in code and in ``--with NAME:key=value``.
    name: str = ""
    #: Accepted attributes and their defaults; anything else is rejected.
    defaults: dict[str, Any] = {}
    #: Whether the decorator may appear twice on one step.
    allow_multiple: bool = False
    #: What ``spin`` does with it (Metaflow applies only a few there).
    spin_use: SpinUse = SpinUse.IGNORED

    def __init__(self, attributes: dict[str, Any] | None = None, from_cli: bool = False):
        self.attributes = _with_defaults(self.name, self.defaults, attributes)
        self.from_cli = from_cli

    def __call__(self, func: Callable) -> Callable:
        decorators = func.__dict__.setdefault("decorators", [])
        if not self.allow_multiple and any(d.name == self.name for d in decorators):
            raise DecoratorError(f"@{self.name} is used twice on step {func.__name__!r}",
                                 "keep one of them")
        decorators.append(self)
        return func

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.attributes.items())
        return f"@{self.name}({args})"

    # --- hooks ---------------------------------------------------------------------------

    def step_init(self, flow_cls: type["FlowSpec"], graph: "FlowGraph", step_name: str) -> None:
        """Validate attributes against the flow; raise ``DecoratorError`` when they are wrong."""

    def retries(self) -> int:
        """How many extra attempts the scheduler grants a failing task."""
        return 0

    def retry_delay_seconds(self) -> float:
        """How long the scheduler waits before the next attempt."""
        return 0.0

    def timeout_seconds(self) -> float | None:
        """A wall-clock limit after which the scheduler kills the task."""
        return None

    def recovers_crashes(self) -> bool:
        """Whether ``task_crashed`` can recover a task whose every attempt died without
        recording a result: the scheduler then runs one more attempt (the fallback), which
        calls ``task_crashed`` instead of the step body."""
        return False

    def compute_backend(self) -> str | None:
        """The compute backend the step's attempts run on (``"kubernetes"``, ``"batch"``:
        a key of ``COMPUTE_BACKENDS``); None leaves the choice to other decorators, and a
        step no decorator claims runs in local processes."""
        return None

    def resource_requests(self) -> dict[str, Any]:
        """What the step asks of its machine (``cpu`` cores, ``memory`` MB, ``gpu``), for
        ``@track_resources``' sizing advice; decorators that size the task override it."""
        return {}

    def task_pre_step(self, flow: "FlowSpec", ctx: "TaskContext") -> None:
        """Runs in the task process just before the step body."""

    def task_post_step(self, flow: "FlowSpec", ctx: "TaskContext") -> None:
        """Runs after the step body returned normally."""

    def task_exception(self, flow: "FlowSpec", ctx: "TaskContext", exc: BaseException) -> bool:
        """Runs when the step body raised; return True when the error is handled."""
        return False

    def task_finished(self, flow: "FlowSpec", ctx: "TaskContext", ok: bool) -> None:
        """Runs last in the task process, whatever happened."""

    def task_crashed(self, flow: "FlowSpec", ctx: "TaskContext", reason: str) -> bool:
        """Runs in a fresh process after every attempt died without reporting (killed,
        ``os._exit``); return True to record the task as successful anyway."""
        return False


class FlowDecorator:
    """Base of flow-level decorators (``@project``, ``@schedule``): recorded on the class."""

    name: str = ""
    defaults: dict[str, Any] = {}

    def __init__(self, attributes: dict[str, Any] | None = None):
        self.attributes = _with_defaults(self.name, self.defaults, attributes)

    def __call__(self, cls: type) -> type:
        from ..flowspec import FlowSpec

        if not (isinstance(cls, type) and issubclass(cls, FlowSpec)):
            raise DecoratorError(f"@{self.name} decorates a FlowSpec class, not {cls!r}")
        existing = [d for d in cls.__dict__.get("_flow_decorators", []) if d.name != self.name]
        cls._flow_decorators = existing + [self]
        return cls

    def flow_init(self, flow_cls: type["FlowSpec"], graph: "FlowGraph") -> None:
        """Validate against the flow; raise ``DecoratorError`` when wrong."""

    def system_tags(self, user: str) -> list[str]:
        """Tags every run of the flow gets."""
        return []

    def current_values(self, flow_name: str, user: str) -> dict[str, Any]:
        """Attributes of ``current`` this decorator sets in every task (names ``current``
        already has)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.attributes.items())
        return f"@{self.name}({args})"


def make_step_decorator(cls: type[StepDecorator]) -> Callable:
    """The user-facing function for a decorator class: ``@retry`` and ``@retry(times=2)``."""

    def decorator(func: Callable | None = None, **attributes: Any):
        if func is not None and callable(func) and not attributes:
            return cls()(func)
        if func is not None:
            raise DecoratorError(f"@{cls.name} takes keyword arguments only")
        return cls(attributes)

    return _named(decorator, cls)


def make_flow_decorator(cls: type[FlowDecorator]) -> Callable:
    """The user-facing function for a flow decorator class."""

    def decorator(flow_cls: type | None = None, **attributes: Any):
        if flow_cls is not None and not attributes:
            return cls()(flow_cls)
        return cls(attributes)

    return _named(decorator, cls)


def _named(decorator: Callable, cls: type[StepDecorator] | type[FlowDecorator]) -> Callable:
    """Give the user-facing function the decorator's name and documentation."""
    decorator.__name__ = decorator.__qualname__ = cls.name
    decorator.__doc__ = cls.__doc__
    decorator.__dict__["decorator_class"] = cls
    return decorator
