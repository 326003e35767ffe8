"""Two steps with cards, no heavy imports: the remote-datastore tests run it."""

from headwater import FlowSpec, card, current, step
from headwater.cards import Markdown, Table


class SmallCardFlow(FlowSpec):
    @card
    @step
    def start(self):
        self.numbers = [1, 2, 3]
        self.next(self.end)

    @card(type="blank", id="summary")
    @step
    def end(self):
        current.card.append(Markdown("# Summary"))
        current.card.append(Table([["total", sum(self.numbers)]]))


if __name__ == "__main__":
    SmallCardFlow()
