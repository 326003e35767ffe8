"""Samples a process tree's CPU, memory, IO and threads from a background thread (psutil),
and GPU utilisation and memory through NVML when ``pynvml`` and a GPU are present.

One sample costs a few system calls per process, so at the default of one sample a second
the overhead is far below 1% (``bench/cards_bench.py`` measures it).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

from .resource_usage import ResourceUsage


class _Gpu:
    """NVML, if it can be loaded: device utilisation and the memory our processes use."""

    def __init__(self) -> None:
        self.nvml: Any = None
        self.handles: list[Any] = []
        try:
            import pynvml  # optional: only where NVIDIA's library is installed

            pynvml.nvmlInit()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i)
                            for i in range(pynvml.nvmlDeviceGetCount())]
            self.nvml = pynvml
        except Exception:  # no package, no driver or no device: no GPU figures
            self.nvml = None

    def sample(self, pids: set[int]) -> tuple[float | None, int | None]:
        if self.nvml is None or not self.handles:
            return None, None
        utilisation, memory = 0.0, 0
        try:
            for handle in self.handles:
                utilisation += self.nvml.nvmlDeviceGetUtilizationRates(handle).gpu
                for proc in self.nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                    if proc.pid in pids and proc.usedGpuMemory:
                        memory += int(proc.usedGpuMemory)
        except Exception:
            return None, None
        return utilisation, memory


class ResourceSampler:
    """Samples the process ``pid`` (default: this one) and all its descendants every
    ``interval`` seconds until ``stop``; ``on_sample`` is called after each sample."""

    def __init__(self, interval: float = 1.0, pid: int | None = None,
                 on_sample: Callable[[ResourceUsage], None] | None = None):
        import psutil

        self._psutil = psutil
        self.interval = float(interval)
        self.root = psutil.Process(pid or os.getpid())
        self._procs: dict[int, Any] = {}
        pid = self.root.pid
        self._proc_children = os.path.exists(f"/proc/{pid}/task/{pid}/children")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gpu = _Gpu()
        self._on_sample = on_sample
        self._t0 = time.monotonic()
        self.usage = ResourceUsage(self.interval, time.time(), [], psutil.cpu_count(),
                                   psutil.virtual_memory().total)
        self._lock = threading.Lock()

    def _descendant_pids(self) -> list[int]:
        """Linux lists each thread's children in /proc: a few small reads, where psutil's
        ``children()`` reads the status of every process on the machine."""
        found, todo = [], [self.root.pid]
        while todo:
            pid = todo.pop()
            try:
                threads = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in threads:
                try:
                    with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                        children = [int(c) for c in f.read().split()]
                except (OSError, ValueError):
                    continue
                found.extend(children)
                todo.extend(children)
        return found

    def _tree(self) -> list[Any]:
        psutil = self._psutil
        if self._proc_children:
            pids = [self.root.pid] + self._descendant_pids()
            current = []
            for pid in pids:
                try:
                    current.append(self._procs.get(pid) or psutil.Process(pid))
                except psutil.Error:
                    continue
        else:
            try:
                current = [self.root] + self.root.children(recursive=True)
            except psutil.Error:
                current = [self.root]
        alive = {}
        for proc in current:
            # Keep the same Process object per pid: cpu_percent() measures since its last call.
            alive[proc.pid] = self._procs.get(proc.pid, proc)
        self._procs = alive
        return list(alive.values())

    def sample(self) -> list[Any]:
        """Take one sample now and add it to ``usage``."""
        psutil = self._psutil
        cpu = rss = read = write = threads = 0.0
        count = 0
        io_known = False
        for proc in self._tree():
            try:
                with proc.oneshot():
                    cpu += proc.cpu_percent(None)
                    rss += proc.memory_info().rss
                    threads += proc.num_threads()
                    try:
                        io = proc.io_counters()
                        read += io.read_bytes
                        write += io.write_bytes
                        io_known = True
                    except (psutil.AccessDenied, AttributeError, NotImplementedError):
                        pass  # not offered on this platform / for this process
                count += 1
            except psutil.Error:  # the process ended between listing and reading
                continue
        gpu, gpu_memory = self._gpu.sample(set(self._procs))
        row = [round(time.monotonic() - self._t0, 3), round(cpu, 1), int(rss),
               int(read) if io_known else None, int(write) if io_known else None,
               int(threads), count, gpu, gpu_memory]
        with self._lock:
            self.usage.samples.append(row)
        return row

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
                if self._on_sample is not None:
                    self._on_sample(self.usage)
            except Exception:  # sampling must never disturb the task
                continue

    def start(self) -> "ResourceSampler":
        self._t0 = time.monotonic()
        self.usage.started_at = time.time()
        self.sample()  # primes cpu_percent and records the starting point
        self._thread = threading.Thread(target=self._run, name="headwater-track-resources",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> ResourceUsage:
        """Stop sampling (after one last sample) and return what was recorded."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval + 5)
        try:
            self.sample()
        except Exception:
            pass
        return self.usage

    def snapshot(self) -> ResourceUsage:
        """A copy of what has been recorded so far (for a live card)."""
        with self._lock:
            usage = self.usage
            return ResourceUsage(usage.interval_seconds, usage.started_at,
                                 [list(r) for r in usage.samples], usage.cpu_count,
                                 usage.memory_total_bytes, dict(usage.requests))
