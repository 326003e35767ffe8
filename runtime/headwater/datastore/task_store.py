"""Per-task files in the datastore: the artifact index and the captured logs (each with the
time of each of its lines in a sidecar, ``log_times.py``).

For each attempt of a task, ``<Flow>/<run>/<step>/<task>/<attempt>.index.json`` maps artifact
names to content hashes (``ArtifactInfo``) plus what the scheduler needs to continue the
run (the transition the step chose, foreach cardinality, split stack). The index is written
last and atomically: an attempt without an index never happened as far as readers know, so
a crash can never leave half a task visible. Inherited artifacts are index entries pointing
at the parent's blobs: nothing is copied.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from ..exceptions import DataNotFound
from .artifacts import ArtifactInfo, ContentAddressedStore
from .base import StorageBackend

# The sidecar beside each log that holds its lines' times (format: ``log_times.py``).
LOG_TIMES_SUFFIX = ".times"


class TaskIndex:
    """The decoded index of one task attempt."""

    def __init__(self, artifacts: dict[str, ArtifactInfo], state: dict[str, Any]):
        self.artifacts = artifacts
        self.state = state

    def to_json(self) -> bytes:
        return json.dumps({"artifacts": {k: v.to_json() for k, v in self.artifacts.items()},
                           "state": self.state}, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "TaskIndex":
        raw = json.loads(data)
        return cls({k: ArtifactInfo.from_json(v) for k, v in raw["artifacts"].items()},
                   raw.get("state", {}))


class _KnownIndexes:
    """Indexes this process wrote or was handed, by backend root and key, up to a byte
    budget (the oldest go first). An index never changes once written, so a copy is as good
    as a read: the local scheduler keeps those its finished tasks hand back, and the task
    processes it forks read their parents' from memory instead of one GET each."""

    MAX_BYTES = 4 * 1024 * 1024

    def __init__(self) -> None:
        self._data: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._bytes = 0

    def get(self, where: tuple[str, str]) -> bytes | None:
        return self._data.get(where)

    def put(self, where: tuple[str, str], data: bytes) -> None:
        if where in self._data or len(data) > self.MAX_BYTES // 16:
            return
        self._data[where] = data
        self._bytes += len(data)
        while self._bytes > self.MAX_BYTES:
            self._bytes -= len(self._data.popitem(last=False)[1])


_known = _KnownIndexes()


class TaskDataStore:
    """Reads and writes the datastore files of one task."""

    def __init__(self, backend: StorageBackend, flow_name: str, run_id: str, step_name: str,
                 task_id: str):
        self.backend = backend
        self.flow_name = flow_name
        self.run_id = str(run_id)
        self.step_name = step_name
        self.task_id = str(task_id)
        self.prefix = f"{flow_name}/{self.run_id}/{step_name}/{self.task_id}"
        self.cas = ContentAddressedStore(backend, flow_name)

    def index_key(self, attempt: int) -> str:
        return f"{self.prefix}/{attempt}.index.json"

    def log_key(self, attempt: int, stream: str) -> str:
        return f"{self.prefix}/{attempt}.{stream}"

    def log_times_key(self, attempt: int, stream: str) -> str:
        return self.log_key(attempt, stream) + LOG_TIMES_SUFFIX

    def save_index(self, attempt: int, index: TaskIndex) -> None:
        data = index.to_json()
        self.backend.put_bytes(self.index_key(attempt), data)
        self.remember_index(attempt, data)

    def load_index(self, attempt: int, known: bool = False) -> TaskIndex:
        """The attempt's index; ``known``: a copy this process holds will do (a task reading
        its parents'; readers of finished runs always read the datastore)."""
        data = self.known_index(attempt) if known else None
        if data is None:
            try:
                data = self.backend.get_bytes(self.index_key(attempt))
            except DataNotFound:
                raise DataNotFound(
                    f"task {self.prefix} attempt {attempt} has no stored artifacts "
                    f"(it did not finish)") from None
        return TaskIndex.from_json(data)

    def known_index(self, attempt: int) -> bytes | None:
        """The index this process wrote or was handed (``remember_index``), if it holds it."""
        return _known.get((self.backend.root, self.index_key(attempt)))

    def remember_index(self, attempt: int, data: bytes) -> None:
        """Keep a copy of the attempt's stored index (as ``save_index`` wrote it)."""
        _known.put((self.backend.root, self.index_key(attempt)), data)

    def has_index(self, attempt: int) -> bool:
        return self.backend.exists(self.index_key(attempt))

    def save_log(self, attempt: int, stream: str, data: bytes,
                 times: bytes | None = None) -> None:
        """Store a log and, when given, its line times (both in one batch: concurrent
        requests on a cloud datastore)."""
        items = [(self.log_key(attempt, stream), data)]
        if times is not None:
            items.append((self.log_times_key(attempt, stream), times))
        self.backend.put_many(items)

    def load_log_times(self, attempt: int, stream: str) -> bytes | None:
        """A log's line times, or None for a log stored without them."""
        try:
            return self.backend.get_bytes(self.log_times_key(attempt, stream))
        except DataNotFound:
            return None

    def load_log(self, attempt: int, stream: str) -> str:
        try:
            data = self.backend.get_bytes(self.log_key(attempt, stream))
        except DataNotFound:
            return ""
        return data.decode("utf-8", errors="replace")
