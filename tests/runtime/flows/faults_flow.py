"""Failures on purpose, driven by parameters: exceptions, os._exit, kill -9, sleeps."""

import os
import signal
import time

from headwater import FlowSpec, Parameter, current, step


class FaultsFlow(FlowSpec):
    fail = Parameter("fail", default="", help="raise | exit | kill | unpicklable | unpicklable_raise | sleep")
    marker = Parameter("marker", default="", help="fail only while this file is absent")

    @step
    def start(self):
        self.big = list(range(1000))
        self.next(self.middle)

    @step
    def middle(self):
        self.before = "kept"
        armed = not (self.marker and os.path.exists(self.marker))
        print(f"middle attempt {current.retry_count} armed={armed}")
        if armed and self.fail == "raise":
            raise RuntimeError("boom in middle")
        if armed and self.fail == "exit":
            os._exit(3)
        if armed and self.fail == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if armed and self.fail == "unpicklable":
            import threading
            self.lock = threading.Lock()
        if armed and self.fail == "unpicklable_raise":
            import threading
            self.lock = threading.Lock()
            raise RuntimeError("boom after the lock")
        if armed and self.fail == "sleep":
            time.sleep(60)
        self.after = "done"
        self.next(self.end)

    @step
    def end(self):
        print("end", self.before, self.after, len(self.big))


if __name__ == "__main__":
    FaultsFlow()
