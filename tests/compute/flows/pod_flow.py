"""A flow whose start step succeeds, raises, dies like an OOM-killed container or sleeps,
as its --mode says (while the --marker file is absent)."""

import os
import signal
import time

from headwater import FlowSpec, Parameter, step


class PodFlow(FlowSpec):
    mode = Parameter("mode", default="ok", help="ok | raise | oom | sleep")
    marker = Parameter("marker", default="", help="behave (mode ok) once this file exists")

    @step
    def start(self):
        print("hello from the pod")
        self.value = 42
        armed = not (self.marker and os.path.exists(self.marker))
        if armed and self.mode == "raise":
            raise RuntimeError("boom in start")
        if armed and self.mode == "oom":
            os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does
        if armed and self.mode == "sleep":
            time.sleep(120)
        self.next(self.end)

    @step
    def end(self):
        print("end", self.value)


if __name__ == "__main__":
    PodFlow()
