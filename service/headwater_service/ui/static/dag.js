// The run's DAG as SVG: steps in layers by their longest path from `start`, edges from the
// transitions the finished tasks recorded. A foreach body is one node with its fan-out count
// and its succeeded / failed / running split.
import { svg, clear } from "./dom.js";

const W = 190, H = 62, GX = 70, GY = 26;

export function drawDag(container, steps, linkFor) {
  clear(container);
  const byName = new Map(steps.map((s) => [s.name, s]));
  const layer = new Map();
  const order = steps.map((s) => s.name);
  const visit = (name, depth, seen) => {
    if (seen.has(name) || !byName.has(name)) return;
    if ((layer.get(name) ?? -1) >= depth) return;
    layer.set(name, depth);
    seen.add(name);
    for (const t of byName.get(name).next || []) visit(t, depth + 1, seen);
    seen.delete(name);
  };
  visit("start", 0, new Set());
  for (const name of order) if (!layer.has(name)) {
    // not reached from start through known edges (its parent has not finished): after its parents
    const parents = steps.filter((s) => (s.next || []).includes(name)).map((s) => layer.get(s.name) ?? 0);
    layer.set(name, parents.length ? Math.max(...parents) + 1 : Math.max(0, ...layer.values()) + 1);
  }
  const columns = [];
  for (const name of order) (columns[layer.get(name)] ||= []).push(name);
  const tallest = Math.max(1, ...columns.filter(Boolean).map((c) => c.length));
  const pos = new Map();
  columns.forEach((col, x) => (col || []).forEach((name, i) => {
    const offset = (tallest - col.length) * (H + GY) / 2;
    pos.set(name, { x: 10 + x * (W + GX), y: 10 + offset + i * (H + GY) });
  }));
  const width = 20 + columns.length * (W + GX) - GX, height = 20 + tallest * (H + GY) - GY;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "run graph" });
  for (const s of steps) for (const t of s.next || []) {
    const a = pos.get(s.name), b = pos.get(t);
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
    root.append(svg("path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
    if (s.foreach_count != null) {
      root.append(svg("text", { x: mx - 10, y: (y1 + y2) / 2 - 4, class: "muted" }, `×${s.foreach_count}`));
    }
  }
  for (const s of steps) {
    const p = pos.get(s.name);
    const c = s.counts;
    const detail = s.tasks > 1
      ? `${s.tasks} tasks · ✓${c.succeeded} ✗${c.failed}${c.running ? ` ▶${c.running}` : ""}`
      : s.tasks === 1 ? s.status : "not started";
    const node = svg("g", { class: `node ${s.status}`, "data-step": s.name, "data-status": s.status,
      "data-tasks": s.tasks, "data-failed": c.failed, "data-succeeded": c.succeeded,
      transform: `translate(${p.x},${p.y})` },
      svg("title", {}, `${s.name}: ${s.status}, ${s.tasks} task(s)`),
      svg("rect", { width: W, height: H }),
      svg("text", { x: 10, y: 24, class: "name" }, s.name),
      svg("text", { x: 10, y: 44 }, detail));
    const href = linkFor(s.name);
    if (href) {
      const link = svg("a", { href });
      link.setAttributeNS("http://www.w3.org/1999/xlink", "href", href);
      link.append(node);
      root.append(link);
    } else root.append(node);
  }
  container.append(root);
}
