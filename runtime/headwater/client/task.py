"""``Task("Flow/12/train/3")``: one task's artifacts, logs, outcome and metadata.

    task = Run("HelloFlow/12")["start"].task
    task.data.system_info               # loaded on first access, not before
    task.artifacts.system_info.sha
    task.successful, task.exception, task.stdout, task.index

A task reads from the datastore it wrote to (its ``ds-type`` / ``ds-root`` metadata), so
artifacts load from any working directory and in shared mode. A ``Task`` is a snapshot: it
reads its records once; make a new one to see a running task's progress.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator

from ..attempt import attempt_numbers, input_tasks, row_attempt
from ..exceptions import DataNotFound, ObjectNotFound
from ._object import MetaflowObject, listing, to_datetime

if TYPE_CHECKING:
    from ..cards.resource_usage import ResourceUsage
    from .code import MetaflowCode
    from ..datastore.artifacts import ArtifactInfo
    from ..datastore.task_store import TaskDataStore
    from .artifact import DataArtifact

#: One metadata row of a task, as ``Task.metadata`` lists them.
Metadata = namedtuple("Metadata", ["name", "value", "created_at", "type", "task"])


class Task(MetaflowObject["DataArtifact"]):
    """One task of a step; ``attempt`` picks an attempt other than the latest."""

    _NAME = "task"
    _DEPTH = 4
    _FORM = "FlowName/RunId/StepName/TaskId"

    def __init__(self, pathspec: str | None = None, attempt: int | None = None, *,
                 _object: dict | None = None, _parent: MetaflowObject | None = None,
                 _namespace_check: bool = True):
        super().__init__(pathspec, _object=_object, _parent=_parent,
                         _namespace_check=_namespace_check)
        self._rows: list[dict] | None = None
        self._artifact_rows: list[dict] | None = None
        self._stored: dict[str, "ArtifactInfo"] | None = None
        self._state: dict[str, Any] = {}
        self._artifacts: dict[str, "DataArtifact"] = {}
        self._attempt: int | None = None
        if attempt is not None:
            self._attempt = self._check_attempt(attempt)

    # --- the record ----------------------------------------------------------------------

    def _fetch(self, components: list[str]) -> dict:
        obj = self._provider.get_task(*components)
        if obj is None:
            from .step import Step

            step = Step("/".join(components[:3]), _namespace_check=False)  # or: no such step
            raise step._missing_task(components[3])
        return obj

    def _components_of(self, obj: dict, parent) -> list[str]:
        return parent._components + [str(obj.get("task_name") or obj["task_id"])]

    def _parent_class(self) -> type:
        from .step import Step

        return Step

    def _metadata_rows(self) -> list[dict]:
        if self._rows is None:
            self._rows = self._provider.get_metadata(*self._components)
        return self._rows

    def _check_attempt(self, attempt: Any) -> int:
        attempts = self._attempts()
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt not in attempts:
            raise ObjectNotFound(
                f"task {self.pathspec} has no attempt {attempt!r}",
                f"its attempts are: {listing([str(a) for a in attempts])}" if attempts else
                "the task has not started an attempt yet")
        return attempt

    def _attempts(self) -> list[int]:
        return attempt_numbers(self._metadata_rows())

    @property
    def current_attempt(self) -> int:
        """The attempt this object reads: the latest one unless ``attempt`` was given."""
        if self._attempt is not None:
            return self._attempt
        return max(self._attempts(), default=0)

    def _row(self, field_name: str, any_attempt: bool = False) -> dict | None:
        """The last row named ``field_name`` of the current attempt (or of any attempt)."""
        attempt = self.current_attempt
        found = None
        for row in self._metadata_rows():
            if row.get("field_name") == field_name and (
                    any_attempt or row_attempt(row) in (attempt, None)):
                found = row
        return found

    # --- where the data lives ------------------------------------------------------------

    def _store(self) -> "TaskDataStore":
        from ..datastore.task_store import TaskDataStore

        ds_type = self._row("ds-type") or self._row("ds-type", any_attempt=True)
        ds_root = self._row("ds-root") or self._row("ds-root", any_attempt=True)
        backend = self._services.backend(ds_type["value"] if ds_type else None,
                                         ds_root["value"] if ds_root else None)
        return TaskDataStore(backend, *self._components)

    def _stored_artifacts(self) -> dict[str, "ArtifactInfo"]:
        """Name -> stored artifact of the current attempt: from the attempt's datastore
        index (which has sizes), else from the metadata's artifact rows."""
        if self._stored is None:
            from ..datastore.artifacts import ArtifactInfo

            try:
                index = self._store().load_index(self.current_attempt)
                self._stored, self._state = dict(index.artifacts), dict(index.state)
            except DataNotFound:  # not finished, or the datastore is out of reach
                self._stored = {row["name"]: ArtifactInfo(row["sha"], row.get("type", ""), None)
                                for row in self._rows_of_artifacts()}
        return self._stored

    def _rows_of_artifacts(self) -> list[dict]:
        if self._artifact_rows is None:
            flow, run, step, task = self._components
            self._artifact_rows = self._provider.get_artifacts(
                flow, run, step, task, attempt=self.current_attempt)
        return self._artifact_rows

    # --- artifacts -----------------------------------------------------------------------

    def _artifact(self, name: str) -> "DataArtifact | None":
        if name not in self._artifacts:
            info = self._stored_artifacts().get(name)
            if info is None:
                return None
            from .artifact import DataArtifact

            self._artifacts[name] = DataArtifact(_object=self._artifact_object(name, info),
                                                 _parent=self, _namespace_check=False)
        return self._artifacts[name]

    def _artifact_object(self, name: str, info: "ArtifactInfo") -> dict:
        return {"name": name, "sha": info.sha, "type": info.type, "size": info.size,
                "attempt_id": self.current_attempt, "tags": self._object.get("tags", []),
                "system_tags": self._object.get("system_tags", [])}

    def _missing_artifact(self, name: str) -> ObjectNotFound:
        names = sorted(self._stored_artifacts())
        return ObjectNotFound(
            f"task {self.pathspec} (attempt {self.current_attempt}) has no artifact {name!r}",
            f"its artifacts are: {listing(names, 20)}" if names else
            "the attempt stored no artifacts (it has not finished, or it crashed)")

    def _children(self) -> list["DataArtifact"]:
        return [self._artifact(name) for name in sorted(self._stored_artifacts())]  # type: ignore

    def _child(self, name: str) -> "DataArtifact":
        artifact = self._artifact(name)
        if artifact is None:
            raise self._missing_artifact(name)
        return artifact

    @property
    def data(self) -> "MetaflowData":
        """The artifacts' values by attribute: ``task.data.model`` (each loaded when first
        read)."""
        return MetaflowData(self)

    @property
    def artifacts(self) -> "MetaflowArtifacts":
        """The artifacts as ``DataArtifact`` objects: ``task.artifacts.model.sha``."""
        return MetaflowArtifacts(self)

    def _value(self, name: str, default: Any = None) -> Any:
        artifact = self._artifact(name)
        return default if artifact is None else artifact.data

    # --- outcome -------------------------------------------------------------------------

    @property
    def successful(self) -> bool:
        """Whether the attempt finished without error (its ``_success`` artifact)."""
        return self._value("_success", False) is True

    @property
    def finished(self) -> bool:
        """Whether the attempt has ended, successfully or not."""
        return self._row("attempt-done") is not None

    @property
    def finished_at(self) -> datetime | None:
        """When the attempt ended (``None`` while it runs)."""
        row = self._row("attempt-done")
        return to_datetime(row["ts_epoch"]) if row else None

    @property
    def exception(self) -> Any:
        """The failure of the attempt, or ``None`` when it did not fail: an object with
        ``.type`` (the class's dotted name), ``.exception`` and ``.stacktrace`` (Metaflow's
        names), the same as ``.message`` and ``.traceback``; ``str()`` gives
        ``type: message``."""
        return self._value("_exception")

    def loglines(self, stream: str = "stdout") -> Iterator[tuple[datetime | None, str]]:
        """``(timestamp, line)`` for each line the attempt wrote to ``stream``
        (``"stdout"`` or ``"stderr"``): when the task printed it, as a local ``datetime``.
        A line stored without its time (logs written before times were kept, or saved from
        a pod's log after its container died) comes with ``None``."""
        from ..log_times import timed_lines

        if stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
        store, attempt = self._store(), self.current_attempt
        yield from timed_lines(store.load_log(attempt, stream),
                               store.load_log_times(attempt, stream))

    # --- neighbours in the run -----------------------------------------------------------

    def _input_tasks(self) -> list[tuple[str, str]]:
        self._stored_artifacts()  # reads the index, which names the parents
        return input_tasks(self._state)

    @property
    def parent_tasks(self) -> list["Task"]:
        """The tasks this task started from (one, or every input of a join; none for
        ``start``), as recorded in the attempt's index."""
        run = self.parent.parent  # type: ignore[union-attr]
        return [run[step][task_id] for step, task_id in self._input_tasks()]  # type: ignore

    @property
    def child_tasks(self) -> list["Task"]:
        """The tasks that started from this one (those of the steps it went to)."""
        self._stored_artifacts()
        run = self.parent.parent  # type: ignore[union-attr]
        me = (self._components[2], self._components[3])
        children = []
        for step_name in self._state.get("targets") or []:
            if step_name not in run:  # type: ignore[operator]
                continue  # not started yet
            children += [task for task in run[step_name]  # type: ignore[index]
                         if me in task._input_tasks()]
        return children

    @property
    def code(self) -> "MetaflowCode | None":
        """The code package the task ran from, when it ran off this machine (else None)."""
        from .code import code_of

        return code_of(self)

    @property
    def stdout(self) -> str:
        """What the attempt printed to standard output."""
        return self._store().load_log(self.current_attempt, "stdout")

    @property
    def stderr(self) -> str:
        """What the attempt printed to standard error."""
        return self._store().load_log(self.current_attempt, "stderr")

    @property
    def resource_usage(self) -> "ResourceUsage | None":
        """What ``@track_resources`` recorded for the attempt (CPU, memory, IO and thread
        series, peaks and averages; see ``headwater/cards/resource_usage.py``), or ``None``
        when the step does not track resources."""
        from ..cards.resource_usage import load_resource_usage

        return load_resource_usage(self._store(), self.current_attempt)

    @property
    def index(self) -> int | None:
        """The task's position in the innermost foreach (``None`` outside a foreach)."""
        self._stored_artifacts()  # reads the index, which holds the split stack
        for frame in reversed(self._state.get("stack") or []):
            if frame[1] == "foreach":
                return int(frame[2])
        return None

    @property
    def origin_pathspec(self) -> str | None:
        """For a task that ``resume`` reused from an earlier run: the original task."""
        run, task = self._row("origin-run-id"), self._row("origin-task-id")
        if not run or not task:
            return None
        flow_name, _, step_name, _ = self._components
        return f"{flow_name}/{run['value']}/{step_name}/{task['value']}"

    # --- metadata ------------------------------------------------------------------------

    @property
    def metadata(self) -> list[Metadata]:
        """Every metadata row of the task (all attempts), oldest first."""
        return [Metadata(row["field_name"], row["value"], to_datetime(row.get("ts_epoch")),
                         row.get("type"), self) for row in self._metadata_rows()]

    @property
    def metadata_dict(self) -> dict[str, str]:
        """Metadata name -> value, from the current attempt where it has the name."""
        attempt = self.current_attempt
        out: dict[str, str] = {}
        for mine in (False, True):  # rows of the current attempt win: apply them last
            for row in self._metadata_rows():
                if (row_attempt(row) in (attempt, None)) is mine:
                    out[row["field_name"]] = row["value"]
        return out


def _lookup(task: Task | None, name: str) -> "DataArtifact":
    """The artifact ``name`` for attribute access: a missing one is an ``AttributeError``
    (so ``hasattr`` and ``getattr(data, name, default)`` work) with the full message."""
    if task is None or name.startswith("__"):  # Python probing special names, or a copy
        raise AttributeError(name)
    artifact = task._artifact(name)
    if artifact is None:
        raise AttributeError(str(task._missing_artifact(name)))
    return artifact


class MetaflowData:
    """A task's artifact values by attribute (``data.x``); each is loaded on first read.

    Names starting with ``_`` (``_success``, ``_exception``, ...) are readable but not
    listed.
    """

    def __init__(self, task: Task):
        self.__task = task

    def __getattr__(self, name: str) -> Any:
        return _lookup(self.__dict__.get("_MetaflowData__task"), name).data

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.__task._stored_artifacts()

    def _names(self) -> list[str]:
        return sorted(n for n in self.__task._stored_artifacts() if not n.startswith("_"))

    def __dir__(self) -> list[str]:
        return self._names()

    def __repr__(self) -> str:
        return f"<MetaflowData: {', '.join(self._names())}>"


class MetaflowArtifacts:
    """A task's artifacts as ``DataArtifact`` objects, by attribute or by iteration."""

    def __init__(self, task: Task):
        self.__task = task

    def __getattr__(self, name: str) -> "DataArtifact":
        return _lookup(self.__dict__.get("_MetaflowArtifacts__task"), name)

    def __iter__(self) -> Iterator["DataArtifact"]:
        return iter(self.__task._children())

    def __len__(self) -> int:
        return len(self.__task._stored_artifacts())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.__task._stored_artifacts()

    def __repr__(self) -> str:
        return f"<MetaflowArtifacts: {', '.join(sorted(self.__task._stored_artifacts()))}>"
