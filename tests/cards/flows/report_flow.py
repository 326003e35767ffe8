"""A flow with every kind of card the tests look at.

start: the default card (parameters, artifacts of several types, a large DataFrame, stdout);
report: a blank card with id "report" (Markdown, Table, Image from matplotlib, VegaChart,
ProgressBar) plus a custom card type whose render raises (an error card must be stored);
end: the default card of a step that fails when FAIL_END is set, loading inherited artifacts
of at most 1 MB (``big`` is bigger).
"""

import os

from headwater import FlowSpec, Parameter, card, current, step
from headwater.cards import (CardType, Image, Markdown, ProgressBar, Table, VegaChart,
                             register_card_type)


@register_card_type
class BrokenCard(CardType):
    type = "broken"

    def render(self, task, components):
        raise ValueError("this card type is broken on purpose")


@register_card_type
class SlowCard(CardType):
    type = "slow"

    def render(self, task, components):
        import time

        time.sleep(30)
        return []


class ReportFlow(FlowSpec):
    """Cards of every kind."""

    learning_rate = Parameter("learning_rate", default=0.01, help="step size")
    label = Parameter("label", default="nightly")

    @card
    @step
    def start(self):
        import numpy as np
        import pandas as pd

        self.scores = {"accuracy": 0.93, "recall": 0.88, "history": list(range(100))}
        self.weights = np.arange(24, dtype="float32").reshape(4, 6)
        self.big = pd.DataFrame({f"c{i}": range(5000) for i in range(40)})
        self.message = "hello card"
        print("training started")
        print("training finished")
        self.next(self.report)

    @card(type="blank", id="report")
    @card(type="broken", id="broken")
    @card(type="slow", id="slow", timeout=1)
    @step
    def report(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([0, 1, 2, 3], [3, 1, 2, 0])
        ax.set_title("loss")
        bar = ProgressBar(max=4, label="epochs")
        report = current.card["report"]
        report.append(Markdown("# Model report\n\nThe **final** loss is `0.12`."))
        report.append(Table([["accuracy", 0.93], ["recall", 0.88]], headers=["metric", "value"]))
        report.append(Image.from_matplotlib(fig, label="loss curve"))
        report.append(VegaChart.line([{"epoch": i, "loss": 1 / (i + 1)} for i in range(10)],
                                     "epoch", "loss", title="loss per epoch"))
        report.append(bar)
        for epoch in range(4):
            bar.update(epoch + 1)
            report.refresh()
        self.next(self.end)

    @card(options={"max_load_mb": 1})
    @step
    def end(self):
        if os.environ.get("FAIL_END"):
            raise RuntimeError("end failed on purpose")


if __name__ == "__main__":
    ReportFlow()
