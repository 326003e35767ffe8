"""The card of ``@track_resources``: time-series charts, peaks and averages, sizing advice."""

from __future__ import annotations

import html
from typing import Sequence

from .card_type import CardType
from .components import Component, Markdown, VegaChart
from .resource_usage import ResourceUsage
from .sizing_advice import MB, Advice, advise
from .task_header import Heading, KeyValues, TaskHeader
from .task_info import TaskInfo

#: Charts show at most this many points (evenly thinned, peaks kept).
MAX_POINTS = 600


class AdviceBox(Component):
    def __init__(self, advice: Advice):
        self.advice = advice

    def render(self) -> str:
        a = self.advice
        return (f'<div class="hw-advice {a.verdict.value}" data-resource="{a.resource}" '
                f'data-verdict="{a.verdict.value}">{html.escape(a.message)}</div>')


def _thin(rows: list[list], max_points: int = MAX_POINTS) -> list[list]:
    """At most ``max_points`` rows, keeping each bucket's row of highest RSS and CPU."""
    if len(rows) <= max_points:
        return rows
    size = len(rows) / (max_points / 2)
    kept: list[list] = []
    for start in range(0, len(rows), max(1, int(size))):
        bucket = rows[start:start + max(1, int(size))]
        picks = {id(max(bucket, key=lambda r: r[1])): max(bucket, key=lambda r: r[1]),
                 id(max(bucket, key=lambda r: r[2])): max(bucket, key=lambda r: r[2])}
        kept.extend(sorted(picks.values(), key=lambda r: r[0]))
    return kept


def _size(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / MB:,.0f} MB" if value < 10 * 2 ** 30 else f"{value / 2 ** 30:,.1f} GB"


def _charts(usage: ResourceUsage) -> list[Component]:
    rows = _thin(usage.samples)
    cpu = [{"seconds": r[0], "CPU %": r[1]} for r in rows]
    memory = [{"seconds": r[0], "RSS MB": round(r[2] / MB, 1)} for r in rows]
    requested = usage.requests.get("memory")
    if requested is not None:
        for point in memory:
            point["requested MB"] = float(requested)
    out: list[Component] = [
        VegaChart.line(cpu, "seconds", "CPU %", title="CPU (100% = one core)"),
        VegaChart.line(memory, "seconds", ["RSS MB", "requested MB"] if requested is not None
                       else "RSS MB", title="Memory (resident set of the process tree)",
                       y_title="MB")]
    io_rows = [r for r in rows if r[3] is not None]
    if len(io_rows) > 1:
        rates = []
        for before, after in zip(io_rows, io_rows[1:]):
            dt = max(after[0] - before[0], 1e-6)
            rates.append({"seconds": after[0],
                          "read MB/s": round(max(after[3] - before[3], 0) / MB / dt, 3),
                          "write MB/s": round(max(after[4] - before[4], 0) / MB / dt, 3)})
        out.append(VegaChart.line(rates, "seconds", ["read MB/s", "write MB/s"],
                                  title="Disk IO", y_title="MB/s"))
    out.append(VegaChart.line([{"seconds": r[0], "threads": r[5]} for r in rows], "seconds",
                              "threads", title="Threads"))
    if any(r[7] is not None for r in rows):
        out.append(VegaChart.line([{"seconds": r[0], "GPU %": r[7]} for r in rows
                                   if r[7] is not None], "seconds", "GPU %", title="GPU"))
    return out


class ResourcesCard(CardType):
    """What the task used; ``task.extra["usage"]`` is the ``ResourceUsage``."""

    type = "resources"
    editable = False

    def title(self, task: TaskInfo) -> str:
        return f"{task.pathspec} (resources)"

    def render(self, task: TaskInfo, components: Sequence[Component]) -> list[Component]:
        usage: ResourceUsage | None = task.extra.get("usage")
        out: list[Component] = [TaskHeader(task, "Resource usage")]
        if usage is None or not usage.samples:
            return out + [Markdown("*No samples were recorded.*")]
        avg_cpu = usage.avg_cpu_percent
        requests = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                             for k, v in sorted(usage.requests.items())) or "none"
        figures = [
            ("Duration", f"{usage.duration_seconds:.1f} s ({len(usage.samples)} samples, every "
                         f"{usage.interval_seconds:g} s)"),
            ("Peak CPU", f"{usage.peak_cpu_percent:.0f}%"),
            ("Average CPU", f"{avg_cpu:.0f}%" if avg_cpu is not None else "–"),
            ("Peak memory (RSS)", _size(usage.peak_rss_bytes)),
            ("Average memory (RSS)", _size(usage.avg_rss_bytes)),
            ("Read / written", f"{_size(usage.read_bytes)} / {_size(usage.write_bytes)}"),
            ("Peak threads", str(usage.peak_threads)),
            ("Machine", f"{usage.cpu_count} CPUs, {_size(usage.memory_total_bytes)} memory"),
            ("Requested", requests)]
        if usage.peak_gpu_percent is not None:
            figures.append(("Peak GPU", f"{usage.peak_gpu_percent:.0f}%, "
                                        f"{_size(usage.peak_gpu_memory_bytes)}"))
        out += [Heading("Sizing advice", "advice")]
        out += [AdviceBox(a) for a in advise(usage)]
        out += [Heading("Summary", "summary"), KeyValues(figures),
                Heading("Over time", "charts")]
        out += _charts(usage)
        return out
