"""What ``@track_resources`` recorded for one task attempt: the sampled series and their
peaks and averages.

Stored with the task, in its datastore (``<Flow>/<run>/<step>/<task>/<attempt>.resources.json``)
and read back by ``Task.resource_usage``:

    usage = Task("TrainFlow/12/train/4").resource_usage
    usage.peak_rss_bytes, usage.peak_cpu_percent, usage.avg_cpu_percent
    usage.series("rss_bytes")          # [(seconds since start, value), ...]
    usage.to_dataframe()               # one row per sample (needs pandas)

CPU is in percent of one core (200 = two cores busy), memory is the resident set size of
the task's whole process tree, IO the bytes read and written so far (cumulative).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..exceptions import DataNotFound

if TYPE_CHECKING:
    from ..datastore.task_store import TaskDataStore

#: The fields of one sample, in stored order.
COLUMNS = ("t", "cpu_percent", "rss_bytes", "read_bytes", "write_bytes", "threads",
           "processes", "gpu_percent", "gpu_memory_bytes")


@dataclass
class ResourceUsage:
    """The samples of one attempt (one row per sample, ``COLUMNS`` order)."""

    interval_seconds: float
    started_at: float
    samples: list[list[Any]] = field(default_factory=list)
    cpu_count: int | None = None
    memory_total_bytes: int | None = None
    #: What the step asked for (``cpu`` cores, ``memory`` MB, ``gpu``), from its decorators.
    requests: dict[str, float] = field(default_factory=dict)

    # --- series --------------------------------------------------------------------------

    def series(self, name: str) -> list[tuple[float, Any]]:
        """``(seconds since start, value)`` for one of ``COLUMNS``."""
        column = COLUMNS.index(name)
        return [(row[0], row[column]) for row in self.samples]

    def _values(self, name: str) -> list[float]:
        column = COLUMNS.index(name)
        return [row[column] for row in self.samples if row[column] is not None]

    def _peak(self, name: str) -> float | None:
        values = self._values(name)
        return max(values) if values else None

    def _mean(self, name: str) -> float | None:
        values = self._values(name)
        return sum(values) / len(values) if values else None

    @property
    def duration_seconds(self) -> float:
        return self.samples[-1][0] if self.samples else 0.0

    @property
    def peak_cpu_percent(self) -> float | None:
        return self._peak("cpu_percent")

    @property
    def avg_cpu_percent(self) -> float | None:
        # The first sample has no interval behind it (psutil reports 0): leave it out.
        values = [row[1] for row in self.samples[1:]]
        return sum(values) / len(values) if values else None

    @property
    def cpu_seconds(self) -> float:
        """CPU time the process tree used while sampled (each sample's percentage covers
        the time since the previous sample)."""
        total = 0.0
        for before, after in zip(self.samples, self.samples[1:]):
            total += after[1] / 100.0 * (after[0] - before[0])
        return total

    def cpu_percentile(self, q: float) -> float | None:
        values = sorted(row[1] for row in self.samples[1:])
        if not values:
            return None
        return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]

    @property
    def peak_rss_bytes(self) -> int | None:
        peak = self._peak("rss_bytes")
        return int(peak) if peak is not None else None

    @property
    def avg_rss_bytes(self) -> float | None:
        return self._mean("rss_bytes")

    @property
    def read_bytes(self) -> int | None:
        peak = self._peak("read_bytes")
        return int(peak) if peak is not None else None

    @property
    def write_bytes(self) -> int | None:
        peak = self._peak("write_bytes")
        return int(peak) if peak is not None else None

    @property
    def peak_threads(self) -> int | None:
        peak = self._peak("threads")
        return int(peak) if peak is not None else None

    @property
    def peak_gpu_percent(self) -> float | None:
        return self._peak("gpu_percent")

    @property
    def peak_gpu_memory_bytes(self) -> int | None:
        peak = self._peak("gpu_memory_bytes")
        return int(peak) if peak is not None else None

    def summary(self) -> dict[str, Any]:
        """The headline figures as a plain dict."""
        return {"duration_seconds": self.duration_seconds, "samples": len(self.samples),
                "peak_cpu_percent": self.peak_cpu_percent,
                "avg_cpu_percent": self.avg_cpu_percent, "cpu_seconds": self.cpu_seconds,
                "peak_rss_bytes": self.peak_rss_bytes, "avg_rss_bytes": self.avg_rss_bytes,
                "read_bytes": self.read_bytes, "write_bytes": self.write_bytes,
                "peak_threads": self.peak_threads, "peak_gpu_percent": self.peak_gpu_percent,
                "peak_gpu_memory_bytes": self.peak_gpu_memory_bytes}

    def to_dataframe(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.samples, columns=list(COLUMNS))

    # --- storage -------------------------------------------------------------------------

    def to_json(self) -> bytes:
        return json.dumps({"columns": list(COLUMNS), "interval_seconds": self.interval_seconds,
                           "started_at": self.started_at, "samples": self.samples,
                           "cpu_count": self.cpu_count,
                           "memory_total_bytes": self.memory_total_bytes,
                           "requests": self.requests}, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "ResourceUsage":
        raw = json.loads(data)
        index = [raw["columns"].index(c) if c in raw["columns"] else None for c in COLUMNS]
        samples = [[row[i] if i is not None else None for i in index] for row in raw["samples"]]
        return cls(raw["interval_seconds"], raw["started_at"], samples, raw.get("cpu_count"),
                   raw.get("memory_total_bytes"), raw.get("requests") or {})

    def __repr__(self) -> str:
        peak = self.peak_rss_bytes
        return (f"<ResourceUsage {len(self.samples)} samples over {self.duration_seconds:.1f} s,"
                f" peak CPU {self.peak_cpu_percent or 0:.0f}%, peak RSS "
                f"{(peak or 0) / 2**20:.0f} MiB>")


def usage_key(store: "TaskDataStore", attempt: int) -> str:
    return f"{store.prefix}/{attempt}.resources.json"


def save_resource_usage(store: "TaskDataStore", attempt: int, usage: ResourceUsage) -> None:
    store.backend.put_bytes(usage_key(store, attempt), usage.to_json())


def load_resource_usage(store: "TaskDataStore", attempt: int) -> ResourceUsage | None:
    """The attempt's recorded usage, or None when the step did not track resources."""
    try:
        return ResourceUsage.from_json(store.backend.get_bytes(usage_key(store, attempt)))
    except DataNotFound:
        return None
