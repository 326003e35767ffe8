"""Per-task files in the datastore: the artifact index and the captured logs.

For each attempt of a task, ``<Flow>/<run>/<step>/<task>/<attempt>.index.json`` maps artifact
names to content hashes (``ArtifactInfo``) plus what the scheduler needs to continue the
run (the transition the step chose, foreach cardinality, split stack). The index is written
last and atomically: an attempt without an index never happened as far as readers know, so
a crash can never leave half a task visible. Inherited artifacts are index entries pointing
at the parent's blobs: nothing is copied.
"""

from __future__ import annotations

import json
from typing import Any

from ..exceptions import DataNotFound
from .artifacts import ArtifactInfo, ContentAddressedStore
from .base import StorageBackend


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

    def save_index(self, attempt: int, index: TaskIndex) -> None:
        self.backend.put_bytes(self.index_key(attempt), index.to_json())

    def load_index(self, attempt: int) -> TaskIndex:
        try:
            return TaskIndex.from_json(self.backend.get_bytes(self.index_key(attempt)))
        except DataNotFound:
            raise DataNotFound(
                f"task {self.prefix} attempt {attempt} has no stored artifacts "
                f"(it did not finish)") from None

    def has_index(self, attempt: int) -> bool:
        return self.backend.exists(self.index_key(attempt))

    def save_log(self, attempt: int, stream: str, data: bytes) -> None:
        self.backend.put_bytes(self.log_key(attempt, stream), data)

    def load_log(self, attempt: int, stream: str) -> str:
        try:
            data = self.backend.get_bytes(self.log_key(attempt, stream))
        except DataNotFound:
            return ""
        return data.decode("utf-8", errors="replace")
