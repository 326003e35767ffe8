"""Hello: the smallest complete flow, and the README's first command.

    pip install -e . && python examples/hello_flow.py run
    python examples/hello_flow.py run --message "hi there"

Shows a ``Parameter`` given on the command line, three steps joined by ``self.next``, and
artifacts (``self.system_info``, ``self.processed_data``) that one step sets and the next
reads. It is the source document's ``InstallationTestFlow`` and needs nothing but headwater.
Read the results back afterwards::

    from headwater import Flow
    run = Flow("HelloFlow").latest_run
    run.data.processed_data            # [0, 1, 4, 9, 16]
"""

import platform
import sys

from headwater import FlowSpec, Parameter, step


class HelloFlow(FlowSpec):
    """Check that headwater works: a parameter flows through three steps."""

    message = Parameter("message", help="Message to pass through the flow",
                        default="Hello Headwater!")

    @step
    def start(self):
        """Record where we run and the message."""
        print("Headwater is working!")
        print(f"Python version: {sys.version.split()[0]}")
        print(f"Platform: {platform.system()} {platform.release()}")
        print(f"Message: {self.message}")
        self.system_info = {
            "python_version": sys.version,
            "platform": platform.system(),
            "message": self.message,
        }
        self.next(self.process)

    @step
    def process(self):
        """Read the artifact of the previous step and make a new one."""
        print(f"Received system info for platform {self.system_info['platform']}")
        self.processed_data = [i ** 2 for i in range(5)]
        print(f"Processed data: {self.processed_data}")
        self.next(self.end)

    @step
    def end(self):
        """Finish."""
        print(f"Done: {len(self.processed_data)} items processed, message "
              f"{self.system_info['message']!r}")


if __name__ == "__main__":
    HelloFlow()
