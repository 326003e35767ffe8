"""The flow's graph as an inline SVG, with one step highlighted (the default card's DAG)."""

from __future__ import annotations

import html

from .components import Component

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 150, 30, 28, 36, 10


class FlowDag(Component):
    """Steps as boxes in layers (each step one layer below its deepest parent), arrows for
    transitions; ``current`` is highlighted."""

    def __init__(self, graph: list[dict], current: str | None = None):
        self.graph = graph
        self.current = current

    def _layers(self) -> dict[str, int]:
        layer: dict[str, int] = {}
        order = {n["name"]: i for i, n in enumerate(self.graph)}
        for node in self.graph:  # describe() is in topological order
            name = node["name"]
            layer.setdefault(name, 0)
            for target in node["next"]:
                if order.get(target, -1) > order[name]:
                    layer[target] = max(layer.get(target, 0), layer[name] + 1)
        return layer

    def render(self) -> str:
        if not self.graph:
            return '<div class="hw-note">(no graph)</div>'
        layer = self._layers()
        rows: dict[int, list[str]] = {}
        for node in self.graph:
            rows.setdefault(layer[node["name"]], []).append(node["name"])
        widest = max(len(r) for r in rows.values())
        width = PAD * 2 + widest * BOX_W + (widest - 1) * GAP_X
        height = PAD * 2 + len(rows) * BOX_H + (len(rows) - 1) * GAP_Y
        pos: dict[str, tuple[float, float]] = {}
        for depth, names in rows.items():
            row_w = len(names) * BOX_W + (len(names) - 1) * GAP_X
            x0 = (width - row_w) / 2
            for i, name in enumerate(names):
                pos[name] = (x0 + i * (BOX_W + GAP_X), PAD + depth * (BOX_H + GAP_Y))
        edges, boxes = [], []
        for node in self.graph:
            x, y = pos[node["name"]]
            for target in node["next"]:
                if target not in pos:
                    continue
                tx, ty = pos[target]
                x1, y1, x2, y2 = x + BOX_W / 2, y + BOX_H, tx + BOX_W / 2, ty
                if ty <= y:  # a back edge (never in a valid flow); draw it to the side
                    y2 = ty + BOX_H
                mid = (y1 + y2) / 2
                edges.append(f'<path d="M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},'
                             f'{mid:.0f} {x2:.0f},{y2 - 4:.0f}" marker-end="url(#hw-arrow)"/>')
            label = node["name"] if len(node["name"]) <= 18 else node["name"][:17] + "…"
            kind = node.get("type", "")
            cls = ' class="current"' if node["name"] == self.current else ""
            boxes.append(
                f'<g{cls} data-step="{html.escape(node["name"])}"><title>{html.escape(node["name"])}'
                f" ({html.escape(kind)})</title>"
                f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
                f'<text x="{x + BOX_W / 2:.0f}" y="{y + BOX_H / 2 + 4:.0f}" '
                f'text-anchor="middle">{html.escape(label)}</text></g>')
        return (f'<div class="hw-dag"><svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
                f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
                f'aria-label="flow graph"><defs><marker id="hw-arrow" viewBox="0 0 10 10" '
                f'refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                f'<path d="M0,0 L10,5 L0,10 z" fill="#9aa7b4" stroke="none"/></marker></defs>'
                f'{"".join(edges)}{"".join(boxes)}</svg></div>')
