"""``@catch``: let the flow go on when a step fails, keeping the error as an artifact."""

from __future__ import annotations

import os
import traceback

from ..graph import StepKind
from .base import DecoratorError, StepDecorator

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_frames(tb):
    """The traceback from the first frame outside Headwater (the user's step code), or
    ``None`` when the error never left Headwater's own code."""
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(
            _PACKAGE_DIR + os.sep):
        tb = tb.tb_next
    return tb


class CaughtException:
    """What ``@catch(var=...)`` stores: the failure of a step, picklable and printable."""

    def __init__(self, type_name: str, message: str, traceback_text: str):
        self.type = type_name
        self.message = message
        self.traceback = traceback_text

    @classmethod
    def from_exception(cls, exc: BaseException) -> "CaughtException":
        return cls(f"{type(exc).__module__}.{type(exc).__qualname__}", str(exc),
                   "".join(traceback.format_exception(type(exc), exc,
                                                      user_frames(exc.__traceback__))))

    @property
    def exception(self) -> str:
        """The error's message (Metaflow's name for it)."""
        return self.message

    @property
    def stacktrace(self) -> str:
        """The formatted traceback (Metaflow's name for it)."""
        return self.traceback

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"

    def __repr__(self) -> str:
        return f"<CaughtException {self}>"

    def __bool__(self) -> bool:
        return True


class CatchDecorator(StepDecorator):
    """After the last attempt fails, store the error in ``self.<var>`` and continue.

        @catch(var="load_error", print_exception=True)
    """

    name = "catch"
    defaults = {"var": None, "print_exception": True}

    def step_init(self, flow_cls, graph, step_name):
        var = self.attributes["var"]
        if var is not None and (not isinstance(var, str) or not var.isidentifier()):
            raise DecoratorError(f"@catch(var={var!r}) on step {step_name!r}: var must be an "
                                 f"attribute name")
        node = graph[step_name]
        if node.kind in (StepKind.FOREACH, StepKind.SWITCH):
            raise DecoratorError(f"@catch cannot be used on step {step_name!r}: after a failure "
                                 f"it could not know how many tasks or which branch follow")

    def _record(self, flow, error: CaughtException) -> None:
        if self.attributes["print_exception"]:
            print(f"@catch caught an exception:\n{error.traceback}", flush=True)
        if self.attributes["var"]:
            setattr(flow, self.attributes["var"], error)

    def task_post_step(self, flow, ctx):
        if self.attributes["var"] and ctx.spec.crashed is None:
            setattr(flow, self.attributes["var"], None)  # as in Metaflow: None on success

    def task_exception(self, flow, ctx, exc):
        if ctx.retry_count < ctx.max_retries:
            return False  # let @retry have its attempts first
        self._record(flow, CaughtException.from_exception(exc))
        return True

    def recovers_crashes(self) -> bool:
        return True

    def task_crashed(self, flow, ctx, reason):
        self._record(flow, CaughtException("TaskCrashed", reason, reason + "\n"))
        return True
