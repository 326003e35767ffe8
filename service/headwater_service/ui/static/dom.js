// Small DOM helpers: elements from data (text is always set as text, never as HTML).
const SVG = "http://www.w3.org/2000/svg";
const SVG_TAGS = new Set(["svg", "g", "rect", "text", "path", "line", "title", "a", "tspan", "defs", "marker"]);

export function el(tag, attrs = {}, ...children) {
  return make(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs = {}, ...children) {
  return make(document.createElementNS(SVG, tag), attrs, children);
}

function make(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "value" && "value" in node) node.value = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === "") continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function clear(node) { while (node.firstChild) node.firstChild.remove(); }

export function statusBadge(status, testid) {
  return el("span", { class: `status ${status}`, "data-testid": testid }, status);
}

export function tagList(tags = [], systemTags = []) {
  const box = el("span", {});
  for (const t of tags || []) box.append(el("span", { class: "tag" }, t));
  for (const t of systemTags || []) box.append(el("span", { class: "tag system" }, t));
  return box;
}

export function fmtTime(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !isFinite(ms) || ms < 0) return "";
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
