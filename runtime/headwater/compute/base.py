"""The compute seam: where a task attempt runs.

The scheduler decides *what* runs next (the run state) and asks a ``Compute`` backend to run
it; a backend knows *where*: forked processes on this machine, a Kubernetes Job, an AWS Batch
job. Every backend runs the same task entry point, so an attempt's record (index, artifacts,
metadata) is written by the task itself the same way everywhere, and the scheduler learns the
outcome from that record (``ComputeContext.read_result``), never from a backend-specific
channel.

The scheduler picks a backend per step (``StepDecorator.compute_backend``; none means
``local``), calls ``check`` for each backend before the run is created, and multiplexes
``wait`` across the backends in use. It enforces ``@timeout`` deadlines itself through
``kill``; a backend may enforce them too.

A backend reports what happens as events from ``wait``: output lines for the console
(``TaskOutput``) and the end of an attempt (``TaskExited``). Each backend is responsible for
the attempt's log files ending up in the datastore (the local backend writes what it reads
from the pipes; a container's entry point stores its own).
"""

from __future__ import annotations

import abc
import enum
import queue
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Union

if TYPE_CHECKING:
    from ..flowspec import FlowSpec
    from ..graph import FlowGraph
    from ..task import RunEnvironment, TaskResult, TaskSpec

# (step_name, task_id, attempt): identifies one attempt of one task within a run.
TaskKey = tuple[str, str, int]


def task_key(spec: "TaskSpec") -> TaskKey:
    return (spec.step_name, spec.task_id, spec.attempt)


class Stream(str, enum.Enum):
    STDOUT = "stdout"
    STDERR = "stderr"


@dataclass(frozen=True)
class TaskOutput:
    """A chunk of a running attempt's output, for the console: one or more lines (complete
    where the backend can tell; the console prints each with the task's prefix, and nothing
    for empty ``data``: send ``b"\\n"`` for an empty line). ``where`` names what runs the
    attempt for that prefix (``"pid 4242"``, a pod name), or is empty."""

    key: TaskKey
    stream: Stream
    data: bytes
    where: str = ""


@dataclass(frozen=True)
class TaskExited:
    """An attempt ended. ``result`` is what the task recorded (None when it recorded nothing:
    it crashed, was killed, or never started); ``reason`` then says why in one line, to
    follow "the task process" (``"was killed by signal SIGSEGV (11, segmentation fault)"``,
    ``"was OOMKilled: ..."``), or for a ``kill``, the reason given there."""

    key: TaskKey
    result: "TaskResult | None"
    reason: str | None = None


ComputeEvent = Union[TaskOutput, TaskExited]


@dataclass
class ComputeContext:
    """What a backend may know about the run it serves."""

    flow_cls: type["FlowSpec"]
    graph: "FlowGraph"
    env: "RunEnvironment"
    flow_file: str  # absolute path of the flow's script
    options: dict[str, Any]  # run-wide options (e.g. package suffixes), backend-specific keys

    def read_result(self, spec: "TaskSpec") -> "TaskResult | None":
        """The result the attempt recorded, or None if it recorded none."""
        from ..attempt import read_result

        return read_result(self.env, spec)


def drain(events: "queue.Queue[ComputeEvent]", timeout: float) -> list[ComputeEvent]:
    """Everything in ``events``, waiting up to ``timeout`` seconds for the first: ``wait``
    for a backend whose watcher thread puts its events on a queue."""
    try:
        found = [events.get(timeout=max(0.0, timeout))]
    except queue.Empty:
        return []
    while True:
        try:
            found.append(events.get_nowait())
        except queue.Empty:
            return found


class Compute(abc.ABC):
    """Runs task attempts somewhere. One instance serves one run."""

    name: ClassVar[str]

    @classmethod
    def check(cls, ctx: ComputeContext, steps: list[str]) -> None:
        """Refuse, before the run is created, a run this backend cannot serve (raise a
        ``HeadwaterException`` naming the problem and the fix), e.g. a local datastore for a
        remote backend. ``steps`` are the steps that will run here."""

    def __init__(self, ctx: ComputeContext):
        self.ctx = ctx

    @abc.abstractmethod
    def start(self, spec: "TaskSpec", timeout: float | None) -> None:
        """Start one attempt. Returns once it is submitted; progress comes from ``wait``.
        ``timeout`` (seconds) is the step's limit, enforced by the backend where it can be
        (the scheduler also kills attempts past it)."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> list[ComputeEvent]:
        """Events since the last call, waiting up to ``timeout`` seconds for the first."""

    @abc.abstractmethod
    def kill(self, key: TaskKey, reason: str) -> None:
        """Stop one attempt; its ``TaskExited`` (with ``reason``) follows from ``wait``."""

    @property
    @abc.abstractmethod
    def running(self) -> int:
        """Attempts started and not yet reported as exited."""

    def kill_all(self, reason: str) -> None:
        """Stop every attempt (Ctrl-C, a failed run); returns once they are gone. No event
        follows for them."""

    def close(self) -> None:
        """Release what the backend holds (clients, threads)."""
