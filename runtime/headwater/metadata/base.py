"""The metadata provider interface: the record of flows, runs, steps, tasks and artifacts.

Two implementations: ``local.py`` (JSON files beside the local datastore, zero set-up) and
``service.py`` (the metadata HTTP API). Both exchange the **same dict shapes the metadata
service returns** (``shared/reference/metadata-service-api.md``), so the Client API reads
either without knowing which one it has:

- flow: ``{flow_id, user_name, ts_epoch, tags, system_tags}``
- run: ``{flow_id, run_number, run_id?, user_name, ts_epoch, tags, system_tags,
  last_heartbeat_ts}``
- step: ``{flow_id, run_number, step_name, user_name, ts_epoch, tags, system_tags}``
- task: ``{flow_id, run_number, step_name, task_id, user_name, ts_epoch, tags, system_tags,
  last_heartbeat_ts}``
- metadata: ``{flow_id, run_number, step_name, task_id, field_name, value, type, user_name,
  ts_epoch, tags, system_tags}``
- artifact: ``{flow_id, run_number, step_name, task_id, name, location, ds_type, sha, type,
  content_type, attempt_id, user_name, ts_epoch, tags, system_tags}``

Ids cross this interface as strings (``"12"``); ``ts_epoch`` is milliseconds, heartbeats are
seconds. Tasks only *write* to the provider while they run: nothing a task needs to run is
read back from it (the service must never become a bottleneck).
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..settings import Settings


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class MetadataEntry:
    """One metadata row for a task (``attempt``, ``attempt-done``, ``ds-root``, ...)."""

    field_name: str
    value: str
    type: str
    tags: list[str] = field(default_factory=list)

    def to_dict(self, user: str) -> dict[str, Any]:
        return {"field_name": self.field_name, "value": str(self.value), "type": self.type,
                "user_name": user, "tags": list(self.tags), "system_tags": list(self.tags)}


@dataclass
class ArtifactRecord:
    """One artifact row: where the bytes live and what they are."""

    name: str
    sha: str
    type: str  # python type name, e.g. "numpy.ndarray"
    location: str  # datastore key of the blob
    ds_type: str  # "local" | "azure" | "s3"
    attempt_id: int = 0
    content_type: str = "application/x-headwater-pickle"

    def to_dict(self, user: str) -> dict[str, Any]:
        return {"name": self.name, "location": self.location, "ds_type": self.ds_type,
                "sha": self.sha, "type": self.type, "content_type": self.content_type,
                "attempt_id": self.attempt_id, "user_name": user, "tags": [],
                "system_tags": []}


class MetadataProvider(abc.ABC):
    """Where runs are recorded. Subclasses set ``TYPE`` and implement every method."""

    #: The value of ``METAFLOW_DEFAULT_METADATA`` that selects this provider.
    TYPE: str = ""

    #: Seconds between heartbeats a running task sends (from a background thread), or
    #: ``None`` when the provider does not need them (local: the scheduler is right there).
    TASK_HEARTBEAT_SECONDS: float | None = None

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: "Settings") -> "MetadataProvider":
        """Build the provider from settings."""

    def describe(self) -> str:
        """Where the records live, for messages (``local@/path`` or ``service@https://...``)."""
        return self.TYPE

    def version(self) -> str | None:
        """The provider's version (the service's version string; ``None`` for local)."""
        return None

    # --- writing (the scheduler and tasks) ------------------------------------------------

    @abc.abstractmethod
    def register_flow(self, flow_name: str, user: str) -> dict:
        """Create the flow if it is new; returns the flow object. Idempotent."""

    @abc.abstractmethod
    def new_run(self, flow_name: str, user: str, tags: list[str], system_tags: list[str],
                run_id: str | None = None) -> dict:
        """Allocate a run (its ``run_number``) and return the run object."""

    @abc.abstractmethod
    def register_step(self, flow_name: str, run_id: str, step_name: str, user: str) -> dict:
        """Create the step if it is new; returns the step object. Idempotent."""

    @abc.abstractmethod
    def new_task(self, flow_name: str, run_id: str, step_name: str, user: str,
                 task_id: str | None = None) -> dict:
        """Allocate a task id (or record the given one) and return the task object."""

    @abc.abstractmethod
    def register_metadata(self, flow_name: str, run_id: str, step_name: str, task_id: str,
                          user: str, entries: list[MetadataEntry]) -> None:
        """Append metadata rows to a task."""

    @abc.abstractmethod
    def register_artifacts(self, flow_name: str, run_id: str, step_name: str, task_id: str,
                           user: str, artifacts: list[ArtifactRecord]) -> None:
        """Record the artifacts one attempt of a task produced (or inherited)."""

    @abc.abstractmethod
    def heartbeat(self, flow_name: str, run_id: str, step_name: str | None = None,
                  task_id: str | None = None) -> None:
        """Say the run (and the task, when given) is alive."""

    @abc.abstractmethod
    def mutate_run_tags(self, flow_name: str, run_id: str, add: list[str],
                        remove: list[str]) -> list[str]:
        """Add and remove user tags of a run atomically; returns the run's tags after."""

    # --- reading (the Client API) ---------------------------------------------------------

    @abc.abstractmethod
    def get_flows(self) -> list[dict]:
        """Every flow object."""

    @abc.abstractmethod
    def get_flow(self, flow_name: str) -> dict | None:
        """The flow object, or ``None``."""

    @abc.abstractmethod
    def get_runs(self, flow_name: str) -> list[dict]:
        """Run objects of a flow, newest first."""

    @abc.abstractmethod
    def get_run(self, flow_name: str, run_id: str) -> dict | None:
        """The run object, or ``None``."""

    @abc.abstractmethod
    def get_steps(self, flow_name: str, run_id: str) -> list[dict]:
        """Step objects of a run."""

    @abc.abstractmethod
    def get_step(self, flow_name: str, run_id: str, step_name: str) -> dict | None:
        """The step object, or ``None``."""

    @abc.abstractmethod
    def get_tasks(self, flow_name: str, run_id: str, step_name: str) -> list[dict]:
        """Task objects of a step."""

    @abc.abstractmethod
    def get_task(self, flow_name: str, run_id: str, step_name: str,
                 task_id: str) -> dict | None:
        """The task object, or ``None``."""

    @abc.abstractmethod
    def get_metadata(self, flow_name: str, run_id: str, step_name: str,
                     task_id: str) -> list[dict]:
        """Metadata rows of a task, oldest first."""

    @abc.abstractmethod
    def get_artifacts(self, flow_name: str, run_id: str, step_name: str, task_id: str,
                      attempt: int | None = None) -> list[dict]:
        """Artifact rows of one attempt of a task (the latest attempt when ``None``)."""
