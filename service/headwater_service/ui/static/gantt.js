// The run's timeline as SVG: one bar per task (start of its latest attempt to its end, or
// to now while it runs); past a few hundred tasks, one bar per step.
import { svg, clear, fmtDuration } from "./dom.js";

const ROW = 18, LABEL = 220, MAX_ROWS = 300;

export function drawGantt(container, tasks, now, linkFor) {
  clear(container);
  const started = tasks.filter((t) => t.started);
  if (!started.length) { container.append("No task has started yet."); return; }
  let rows = started.map((t) => ({ label: `${t.step}/${t.task_id}`, start: t.started,
    end: t.finished || now, status: t.status, href: linkFor(t) }));
  if (rows.length > MAX_ROWS) {
    const by = new Map();
    for (const r of started) {
      const s = by.get(r.step) || { label: `${r.step} (${0} tasks)`, n: 0, start: Infinity, end: 0, status: "succeeded", href: null };
      s.n += 1; s.start = Math.min(s.start, r.started); s.end = Math.max(s.end, r.finished || now);
      if (r.status === "failed") s.status = "failed"; else if (r.status === "running" && s.status !== "failed") s.status = "running";
      s.label = `${r.step} (${s.n} tasks)`;
      by.set(r.step, s);
    }
    rows = [...by.values()];
  }
  rows.sort((a, b) => a.start - b.start);
  const t0 = Math.min(...rows.map((r) => r.start)), t1 = Math.max(...rows.map((r) => r.end), t0 + 1);
  const width = Math.max(container.clientWidth - 20, 600), plot = width - LABEL - 10;
  const height = 24 + rows.length * ROW;
  const x = (t) => LABEL + ((t - t0) / (t1 - t0)) * plot;
  const root = svg("svg", { width, height, role: "img", "aria-label": "task timeline" });
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (i / 4) * (t1 - t0);
    root.append(svg("line", { x1: x(t), x2: x(t), y1: 14, y2: height, stroke: "#e5e7eb" }),
      svg("text", { x: x(t) - (i === 4 ? 40 : 0), y: 11, class: "muted" }, `+${fmtDuration(t - t0)}`));
  }
  rows.forEach((r, i) => {
    const y = 18 + i * ROW;
    const bar = svg("rect", { class: `bar ${r.status}`, x: x(r.start), y, height: ROW - 5,
      width: Math.max(2, x(r.end) - x(r.start)) },
      svg("title", {}, `${r.label}: ${r.status}, ${fmtDuration(r.end - r.start)}`));
    const label = svg("text", { x: 4, y: y + ROW - 8 }, r.label.length > 32 ? r.label.slice(0, 31) + "…" : r.label);
    if (r.href) {
      const a = svg("a", { href: r.href });
      a.append(label);
      root.append(a);
    } else root.append(label);
    root.append(bar);
  });
  container.append(root);
}
