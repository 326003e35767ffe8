"""``@track_resources``: what a step really used, and whether its request fits.

    @track_resources                  # one sample a second
    @resources(memory=8192, cpu=4)
    @step
    def train(self): ...

While the step runs, a background thread samples the task's process tree (psutil: CPU,
resident memory, bytes read and written, threads; GPU through NVML when present). The series
is stored with the task (``Task.resource_usage``) and a ``resources`` card shows it: charts,
peaks and averages, and sizing advice against the step's request from ``@resources``,
``@kubernetes`` or ``@batch`` (see ``cards/sizing_advice.py``). While the task runs the card
is refreshed every ``live_seconds``. Tracking never fails the task: a problem is printed as a
warning. Works wherever the task runs (locally or in a container), since the task itself
records and stores everything.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from .base import DecoratorError, StepDecorator

if TYPE_CHECKING:
    from ..cards.resource_sampler import ResourceSampler
    from ..cards.writer import CardWriter
    from ..flowspec import FlowSpec
    from ..graph import FlowGraph
    from ..task import TaskContext

CARD_SLOT = "resources"


class TrackResourcesDecorator(StepDecorator):
    """Sample CPU, memory, IO and threads of the step's tasks, store the series and add a
    ``resources`` card with sizing advice.

    ``interval``: seconds between samples (default 1). ``card``: add the card (default True).
    ``live_seconds``: how often the card is refreshed while the task runs (0: never).
    """

    name = "track_resources"
    defaults = {"interval": 1.0, "card": True, "live_seconds": 15}

    def __init__(self, attributes: dict[str, Any] | None = None, from_cli: bool = False):
        super().__init__(attributes, from_cli)
        self._requests: dict[str, Any] = {}
        self._graph: list[dict] = []
        self._sampler: "ResourceSampler | None" = None
        self._writer: "CardWriter | None" = None
        self._last_live = 0.0

    def step_init(self, flow_cls: type["FlowSpec"], graph: "FlowGraph", step_name: str) -> None:
        interval = self.attributes["interval"]
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) \
                or not 0.05 <= interval <= 3600:
            raise DecoratorError(f"@track_resources(interval={interval!r}) on step "
                                 f"{step_name!r} must be a number of seconds between 0.05 and "
                                 f"3600")
        live = self.attributes["live_seconds"]
        if isinstance(live, bool) or not isinstance(live, (int, float)) or live < 0:
            raise DecoratorError(f"@track_resources(live_seconds={live!r}) on step "
                                 f"{step_name!r} must be 0 or a positive number of seconds")
        try:
            import psutil  # noqa: F401
        except ModuleNotFoundError:
            raise DecoratorError("@track_resources needs psutil",
                                 "pip install 'headwater[resources]' (or pip install psutil)"
                                 ) from None
        requests: dict[str, Any] = {}
        for deco in graph[step_name].decorators:
            for key, value in deco.resource_requests().items():
                if key in ("cpu", "memory", "gpu") and value is not None:
                    number = float(value)
                    requests[key] = max(number, requests.get(key, number))
        self._requests = requests
        self._graph = graph.describe()

    def task_pre_step(self, flow: "FlowSpec", ctx: "TaskContext") -> None:
        from ..cards.resource_sampler import ResourceSampler

        try:
            if self.attributes["card"]:
                from ..cards.writer import writer_for

                self._writer = writer_for(flow, ctx, self._graph)
            self._sampler = ResourceSampler(float(self.attributes["interval"]),
                                            on_sample=self._maybe_refresh)
            self._sampler.usage.requests = dict(self._requests)
            self._sampler.start()
        except Exception as exc:  # tracking never fails the task
            print(f"Resource tracking warning: could not start: {exc}", file=sys.stderr)
            self._sampler = None

    def _maybe_refresh(self, usage: Any) -> None:
        live = float(self.attributes["live_seconds"])
        writer, sampler = self._writer, self._sampler
        if not live or writer is None or sampler is None:
            return
        now = time.monotonic()
        if now - self._last_live < live:
            return
        if not self._last_live:
            self._last_live = now  # the first live card after one interval of live_seconds
            return
        self._last_live = now
        self._write_card(writer, sampler.snapshot(), live=True)

    def _write_card(self, writer: "CardWriter", usage: Any, live: bool) -> None:
        from ..cards.resources_card import ResourcesCard

        writer.write(CARD_SLOT, ResourcesCard(), None, [], timeout=30.0,
                     extra={"usage": usage}, live=live)

    def task_finished(self, flow: "FlowSpec", ctx: "TaskContext", ok: bool) -> None:
        from ..cards.resource_usage import save_resource_usage
        from ..datastore.task_store import TaskDataStore

        sampler, writer = self._sampler, self._writer
        self._sampler = self._writer = None
        if sampler is None:
            if writer is not None:
                from ..cards.writer import release_writer

                release_writer(writer)
            return
        usage = sampler.stop()
        try:
            store = TaskDataStore(ctx.backend, ctx.flow_name, ctx.run_id, ctx.step_name,
                                  ctx.task_id)
            save_resource_usage(store, ctx.retry_count, usage)
        except Exception as exc:
            print(f"Resource tracking warning: the series of {ctx.pathspec} could not be "
                  f"stored: {exc}", file=sys.stderr)
        if writer is not None:
            from ..cards.writer import release_writer

            try:
                writer.finish(ok)
                self._write_card(writer, usage, live=False)
            finally:
                release_writer(writer)
