"""Sizing advice: the step's request (``@resources`` / ``@kubernetes`` / ``@batch``) against
what ``@track_resources`` saw it use.

Memory: the suggestion is the peak resident set plus 25% headroom, rounded up to 256 MB. A
request below the peak plus 10% is under-provisioned (in a container the task would be
killed for memory, or is close to it); one above twice the suggestion and at least 1 GB
more is over-provisioned. CPU: the suggestion is the 95th percentile of the cores in use
plus 20%, rounded up to half a core (at least one); a request below 90% of that percentile
is under-provisioned (the task is throttled), one above twice the suggestion
over-provisioned. Each piece of advice names the peak that drove it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .resource_usage import ResourceUsage

MB = 2 ** 20


class Verdict(str, Enum):
    UNDER = "under"  # asks for less than the step uses
    OVER = "over"    # asks for much more than the step uses
    FINE = "fine"
    UNSET = "unset"  # the step asks for nothing


@dataclass
class Advice:
    resource: str            # "memory" (MB) or "cpu" (cores)
    verdict: Verdict
    requested: float | None
    observed_peak: float     # peak memory MB, or 95th-percentile cores
    suggested: float
    message: str


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def memory_advice(usage: ResourceUsage, requested_mb: float | None) -> Advice | None:
    peak = usage.peak_rss_bytes
    if not peak:
        return None
    peak_mb = peak / MB
    suggested = max(256, math.ceil(peak_mb * 1.25 / 256) * 256)
    drove = f"peak memory (RSS of the task's processes) was {peak_mb:,.0f} MB"
    if requested_mb is None:
        return Advice("memory", Verdict.UNSET, None, peak_mb, suggested,
                      f"No memory request; {drove}. Suggested: @resources(memory={suggested}).")
    if requested_mb < peak_mb * 1.10:
        return Advice("memory", Verdict.UNDER, requested_mb, peak_mb, suggested,
                      f"Memory is under-provisioned: {requested_mb:,.0f} MB requested but {drove}"
                      f" (a container would be killed for exceeding its limit). Suggested: "
                      f"memory={suggested}.")
    if requested_mb > 2 * suggested and requested_mb - suggested >= 1024:
        return Advice("memory", Verdict.OVER, requested_mb, peak_mb, suggested,
                      f"Memory is over-provisioned: {requested_mb:,.0f} MB requested but {drove}."
                      f" Suggested: memory={suggested}.")
    return Advice("memory", Verdict.FINE, requested_mb, peak_mb, suggested,
                  f"Memory request of {requested_mb:,.0f} MB fits: {drove}.")


def _cores(value: float) -> str:
    return f"{value:g} core" + ("" if value == 1 else "s")


def cpu_advice(usage: ResourceUsage, requested_cores: float | None) -> Advice | None:
    p95 = usage.cpu_percentile(0.95)
    if p95 is None:
        return None
    cores = p95 / 100.0
    suggested = max(1.0, math.ceil(cores * 1.2 * 2) / 2)
    drove = f"95th-percentile CPU use was {cores:.2f} cores (peak {usage.peak_cpu_percent:.0f}%)"
    if requested_cores is None:
        return Advice("cpu", Verdict.UNSET, None, cores, suggested,
                      f"No CPU request; {drove}. Suggested: @resources(cpu={suggested:g}).")
    if requested_cores < cores * 0.9:
        return Advice("cpu", Verdict.UNDER, requested_cores, cores, suggested,
                      f"CPU is under-provisioned: {_cores(requested_cores)} requested but {drove}"
                      f" (the task would be throttled). Suggested: cpu={suggested:g}.")
    if requested_cores > 2 * suggested:
        return Advice("cpu", Verdict.OVER, requested_cores, cores, suggested,
                      f"CPU is over-provisioned: {_cores(requested_cores)} requested but {drove}."
                      f" Suggested: cpu={suggested:g}.")
    return Advice("cpu", Verdict.FINE, requested_cores, cores, suggested,
                  f"CPU request of {_cores(requested_cores)} fits: {drove}.")


def advise(usage: ResourceUsage, requests: dict[str, object] | None = None) -> list[Advice]:
    """Advice for memory and CPU (``requests``: ``memory`` in MB, ``cpu`` in cores)."""
    given: Mapping[str, object] = requests if requests is not None else usage.requests
    found = [memory_advice(usage, _number(given.get("memory"))),
             cpu_advice(usage, _number(given.get("cpu")))]
    return [a for a in found if a is not None]
