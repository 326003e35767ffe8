"""A run that stays running until the test lets it go: ``wait`` prints a line and polls
for the file named by ``--release`` (a test creates it), then the run finishes."""

import os
import time

from headwater import FlowSpec, Parameter, step


class WaitingFlow(FlowSpec):
    release = Parameter("release", help="The file whose creation ends the wait", default="")

    @step
    def start(self):
        self.next(self.wait)

    @step
    def wait(self):
        print("waiting for the release file", flush=True)
        deadline = time.time() + 120
        while not os.path.exists(self.release) and time.time() < deadline:
            time.sleep(0.2)
        print("released", flush=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WaitingFlow()
