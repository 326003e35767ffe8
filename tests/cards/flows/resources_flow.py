"""A step that holds ~500 MB and burns one core for a few seconds under @track_resources,
and measures itself with psutil directly for comparison. REQUEST_MB sets its memory request.
"""

import os

from headwater import FlowSpec, resources, step, track_resources

REQUEST_MB = int(os.environ.get("REQUEST_MB", "256"))


class ResourcesFlow(FlowSpec):
    @track_resources(interval=0.25, live_seconds=1)
    @resources(memory=REQUEST_MB, cpu=1)
    @step
    def start(self):
        import time

        import numpy as np
        import psutil

        proc = psutil.Process()
        block = np.ones(500 * 2**20 // 8)  # 500 MiB, every page written
        rss = [proc.memory_info().rss]
        started, cpu_before = time.monotonic(), proc.cpu_times()
        spins = 0
        while time.monotonic() - started < 3.0:  # one core busy
            spins += 1
            if spins % 200_000 == 0:
                rss.append(proc.memory_info().rss)
        cpu_after = proc.cpu_times()
        elapsed = time.monotonic() - started
        used = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
        self.direct_peak_rss = max(rss)
        self.direct_cpu_percent = used / elapsed * 100
        total = proc.cpu_times()
        self.direct_cpu_seconds = total.user + total.system  # since this task's process began
        self.block_sum = float(block[:10].sum())
        del block
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ResourcesFlow()
