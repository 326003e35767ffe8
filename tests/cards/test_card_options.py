"""``@card(save_errors=False)`` stores no card when the render fails (Metaflow's option), and
``@card(customize=True)`` picks the card ``current.card.append`` adds to among several
editable ones."""

from __future__ import annotations

from headwater import Flow
from headwater.cards import get_cards

FLOW = """
    from headwater import FlowSpec, card, current, step
    from headwater.cards import CardType, Markdown, register_card_type

    @register_card_type
    class BrokenCard(CardType):
        type = "broken"

        def render(self, task, components):
            raise ValueError("broken on purpose")

    class CardOptionsFlow(FlowSpec):
        @card(type="broken", id="kept")
        @card(type="broken", id="dropped", save_errors=False)
        @card(type="blank", id="first")
        @card(type="blank", id="chosen", customize=True)
        @step
        def start(self):
            current.card.append(Markdown("appended to the customize card"))
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        CardOptionsFlow()
"""


def test_save_errors_and_customize(run_flow, write_flow):
    proc = run_flow(write_flow(FLOW), "run")
    assert "no card was stored (save_errors=False)" in proc.stderr
    cards = {c.id: c for c in get_cards(Flow("CardOptionsFlow").latest_run["start"].task)}
    assert set(cards) == {"kept", "first", "chosen"}
    assert cards["kept"].status == "error"
    assert "appended to the customize card" in cards["chosen"].html
    assert "appended to the customize card" not in cards["first"].html


def test_two_customize_cards_are_refused(run_flow, write_flow):
    source = FLOW.replace('@card(type="blank", id="first")',
                          '@card(type="blank", id="first", customize=True)')
    proc = run_flow(write_flow(source), "check", check=False)
    assert proc.returncode == 1
    assert "has several @card(customize=True)" in proc.stderr
