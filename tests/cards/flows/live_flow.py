"""A step that stores a live card, then waits for the test to say go (GO_FILE appears)."""

import os
import time

from headwater import FlowSpec, card, current, step
from headwater.cards import Markdown, ProgressBar


class LiveFlow(FlowSpec):
    @card(type="blank", id="progress")
    @step
    def start(self):
        bar = ProgressBar(max=2, label="phases")
        current.card.append(Markdown("# phase one"))
        current.card.append(bar)
        bar.update(1)
        current.card.refresh()
        deadline = time.monotonic() + 120
        while not os.path.exists(os.environ["GO_FILE"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        bar.update(2)
        current.card.append(Markdown("# phase two"))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LiveFlow()
