"""The heading every built-in card starts with: what task, which card, and its state."""

from __future__ import annotations

import html
import time

from ..status import Status
from .components import Component
from .task_info import TaskInfo


def format_time(epoch: float | None) -> str:
    if epoch is None:
        return "–"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


#: A state's badge: its CSS class and its ``data-status`` (the stylesheet's and tests' hook).
_BADGES: dict[Status, tuple[str, str]] = {
    Status.RUNNING: ("live", "running"),
    Status.SUCCESSFUL: ("ok", "ok"),
    Status.FAILED: ("bad", "failed"),
}


def status_badge(task: TaskInfo) -> str:
    css, data = _BADGES[task.status]
    return f'<span class="hw-badge {css}" data-status="{data}">{task.status.card_word}</span>'


class TaskHeader(Component):
    """``<h1>`` with the task's pathspec, the card's name and a status badge."""

    def __init__(self, task: TaskInfo, card_name: str):
        self.task = task
        self.card_name = card_name

    def render(self) -> str:
        task = self.task
        return (f'<header class="hw-header"><h1>{html.escape(task.pathspec)}'
                f"{status_badge(task)}</h1>"
                f'<div class="hw-subtitle">{html.escape(self.card_name)} · attempt '
                f"{task.attempt} · {html.escape(task.user or 'unknown user')}</div></header>")


class KeyValues(Component):
    """A two-column table of labels and already-safe values (internal to card types)."""

    def __init__(self, rows: list[tuple[str, str]], escape_values: bool = True):
        self.rows = rows
        self.escape_values = escape_values

    def render(self) -> str:
        body = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v) if self.escape_values else v}"
            f"</td></tr>" for k, v in self.rows)
        return f'<table class="hw-table hw-kv"><tbody>{body}</tbody></table>'


class Heading(Component):
    """A section heading (``<h2>``)."""

    def __init__(self, text: str, anchor: str | None = None):
        self.text = text
        self.anchor = anchor

    def render(self) -> str:
        anchor = f' id="{html.escape(self.anchor)}"' if self.anchor else ""
        return f"<h2{anchor}>{html.escape(self.text)}</h2>"


class Footer(Component):
    def __init__(self, text: str):
        self.text = text

    def render(self) -> str:
        return f"<footer>{html.escape(self.text)}</footer>"
