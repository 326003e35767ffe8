"""The default card: everything a person wants to see about one task, with no code.

Task information, parameters, the flow's graph with this step highlighted, what the step
appended with ``current.card``, every artifact rendered by its type (bounded, see
``values.py``), and the tail of the task's standard output.
"""

from __future__ import annotations

import html
import time
from typing import Sequence

from ..status import Status
from .card_type import CardType
from .components import Component, Markdown
from .dag import FlowDag
from .task_header import Footer, Heading, KeyValues, TaskHeader, format_time
from .task_info import FlowArtifacts, TaskInfo
from .values import render_value, short_text


class ArtifactList(Component):
    """Each artifact as its name, type and rendered value; past ``limit`` only names."""

    def __init__(self, task: TaskInfo, limit: int, time_budget_seconds: float,
                 max_load_bytes: int):
        self.task = task
        self.limit = limit
        self.time_budget = time_budget_seconds
        self.max_load_bytes = max_load_bytes

    def render(self) -> str:
        names = list(self.task.artifacts)
        if not names:
            return '<div class="hw-note">This task has no artifacts.</div>'
        parts, skipped = [], []
        deadline = time.monotonic() + self.time_budget
        for i, name in enumerate(names):
            if i >= self.limit or time.monotonic() > deadline:
                skipped.append(name)
                continue
            artifacts = self.task.artifacts
            unloaded = artifacts.unloaded(name) if isinstance(artifacts, FlowArtifacts) else None
            size = unloaded[0] if unloaded is not None else None
            if unloaded is not None and size is not None and size > self.max_load_bytes:
                # Inherited and untouched by the step: loading it only for the card could
                # cost more memory than the step itself used.
                kind = unloaded[1].rsplit(".", 1)[-1]
                parts.append(f'<div class="hw-artifact" data-artifact="{html.escape(name)}">'
                             f'<div class="hw-artifact-name">{html.escape(name)} '
                             f'<span class="hw-note">{html.escape(kind)}</span></div>'
                             f'<div class="hw-note">{size / 2**20:,.0f} MB stored, '
                             f"inherited from an earlier step and not loaded for the card "
                             f"(limit: option max_load_mb)</div></div>")
                continue
            try:
                value = artifacts[name]
                kind = type(value).__name__
                body = render_value(value)
            except Exception as exc:  # one unreadable artifact must not lose the card
                kind, body = "unreadable", (f'<div class="hw-note">could not be shown: '
                                            f"{html.escape(type(exc).__name__)}: "
                                            f"{html.escape(str(exc)[:300])}</div>")
            parts.append(f'<div class="hw-artifact" data-artifact="{html.escape(name)}">'
                         f'<div class="hw-artifact-name">{html.escape(name)} '
                         f'<span class="hw-note">{html.escape(kind)}</span></div>{body}</div>')
        if skipped:
            listed = ", ".join(html.escape(n) for n in skipped[:500])
            more = f" … and {len(skipped) - 500} more" if len(skipped) > 500 else ""
            parts.append(f'<div class="hw-note">{len(skipped):,} more artifacts not shown '
                         f"(card limits): {listed}{more}</div>")
        return "".join(parts)


class Stdout(Component):
    def __init__(self, text: str):
        self.text = text

    def render(self) -> str:
        if not self.text:
            return '<div class="hw-note">(nothing printed)</div>'
        return f'<pre class="hw-stdout">{html.escape(self.text)}</pre>'


class DefaultCard(CardType):
    """Task info, parameters, DAG, appended components, artifacts and stdout."""

    type = "default"
    default_options = {"max_artifacts": 300, "artifact_seconds": 20.0, "max_load_mb": 256,
                       "show_stdout": True}

    def title(self, task: TaskInfo) -> str:
        return f"{task.pathspec}"

    def render(self, task: TaskInfo, components: Sequence[Component]) -> list[Component]:
        info = [("Flow", task.flow_name), ("Run", task.run_id), ("Step", task.step_name),
                ("Task", task.task_id), ("Pathspec", task.pathspec),
                ("Attempt", str(task.attempt)), ("User", task.user or "–"),
                ("Tags", ", ".join(task.tags) or "–"),
                ("Started", format_time(task.started_at)),
                ("Finished", format_time(task.finished_at) if not task.running
                 else Status.RUNNING.card_word),
                ("Duration", f"{task.duration_seconds:.2f} s"
                 if task.duration_seconds is not None else "–"),
                ("Status", task.status.card_word if task.status is not Status.FAILED else
                 f"{task.status.card_word}: {task.error or ''}")]
        out: list[Component] = [TaskHeader(task, "Default card"), Heading("Task", "task"),
                                KeyValues(info)]
        out.append(Heading("Parameters", "parameters"))
        if task.parameters:
            out.append(KeyValues([(name, f"<code>{short_text(value, 500)}</code>")
                                  for name, value in sorted(task.parameters.items())],
                                 escape_values=False))
        else:
            out.append(Markdown("*This flow has no parameters.*"))
        out += [Heading("Flow", "dag"), FlowDag(task.graph, task.step_name)]
        if components:
            out.append(Heading("From the step", "appended"))
            out.extend(components)
        out += [Heading(f"Artifacts ({len(task.artifacts)})", "artifacts"),
                ArtifactList(task, int(self.options["max_artifacts"]),
                             float(self.options["artifact_seconds"]),
                             int(float(self.options["max_load_mb"]) * 2**20))]
        if self.options["show_stdout"]:
            out += [Heading("Standard output (last lines)", "stdout"), Stdout(task.stdout_tail)]
        out.append(Footer(f"Headwater default card · rendered {format_time(time.time())}"))
        return out
