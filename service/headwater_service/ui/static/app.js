// The Headwater UI: one page, routed by its address (/ui/Flow/Run/step/task).
// Plain ES modules, no build step, no third-party code (docs/ui.md says why).
import { drawDag } from "./dag.js";
import { drawGantt } from "./gantt.js";
import { el, fmtTime, fmtDuration, statusBadge, tagList, clear } from "./dom.js";

const app = document.getElementById("app");
const crumbs = document.getElementById("crumbs");
const API = "/ui/api";
let stopRefresh = () => {};

class NotFound extends Error {}

async function getJson(url, etag) {
  const headers = etag ? { "If-None-Match": etag } : {};
  const resp = await fetch(url, { headers, credentials: "same-origin" });
  if (resp.status === 401) {
    location.href = "/ui/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new Error("login required");
  }
  if (resp.status === 304) return { notModified: true, etag };
  const body = await resp.json().catch(() => ({ message: `HTTP ${resp.status}` }));
  if (resp.status === 404 || resp.status === 400) throw new NotFound(body.message || "not found");
  if (!resp.ok) throw new Error(body.message || `HTTP ${resp.status}`);
  return { body, etag: resp.headers.get("ETag") };
}

const enc = encodeURIComponent;
const uiPath = (...parts) => "/ui/" + parts.map(enc).join("/");
const apiPath = (flow, run, step, task) => {
  let p = `${API}/flows/${enc(flow)}`;
  if (run !== undefined) p += `/runs/${enc(run)}`;
  if (step !== undefined) p += `/steps/${enc(step)}/tasks/${enc(task)}`;
  return p;
};

function setCrumbs(parts) {
  clear(crumbs);
  crumbs.append(el("a", { href: "/ui/" }, "Flows"));
  parts.forEach((part, i) => {
    crumbs.append(el("span", { class: "sep" }, "/"));
    crumbs.append(el("a", { href: uiPath(...parts.slice(0, i + 1)) }, part));
  });
}

function notFound(message) {
  clear(app);
  app.append(el("div", { class: "notfound", "data-testid": "not-found" },
    el("h1", {}, "Not found"), el("p", {}, message),
    el("p", {}, el("a", { href: "/ui/" }, "Back to the flows"))));
}

// --- flows ---------------------------------------------------------------------------

async function flowsPage() {
  setCrumbs([]);
  document.title = "Headwater · flows";
  const search = el("input", { type: "search", placeholder: "Search flows", "aria-label": "Search flows",
    value: new URLSearchParams(location.search).get("q") || "" });
  const table = el("table", { "data-testid": "flows" });
  clear(app);
  app.append(el("h1", {}, "Flows"), el("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, search),
    el("div", { class: "panel" }, table));
  let timer;
  const load = async () => {
    const q = search.value.trim();
    history.replaceState(null, "", q ? `/ui/?q=${enc(q)}` : "/ui/");
    const { body } = await getJson(`${API}/flows${q ? "?q=" + enc(q) : ""}`);
    clear(table);
    table.append(el("tr", {}, ...["Flow", "Runs", "Last run", "Status", "Started"].map((h) => el("th", {}, h))));
    for (const f of body) {
      const last = f.last_run;
      table.append(el("tr", { "data-flow": f.flow_id },
        el("td", {}, el("a", { href: uiPath(f.flow_id) }, f.flow_id)),
        el("td", {}, String(f.runs)),
        el("td", {}, last ? el("a", { href: uiPath(f.flow_id, last.run_id) }, last.run_id) : "—"),
        el("td", {}, last ? statusBadge(last.status) : ""),
        el("td", {}, last ? fmtTime(last.ts_epoch) : "")));
    }
    if (!body.length) table.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No flows match.")));
  };
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(load, 200); });
  await load();
}

// --- runs of a flow ------------------------------------------------------------------

async function runsPage(flow) {
  setCrumbs([flow]);
  document.title = `Headwater · ${flow}`;
  const params = new URLSearchParams(location.search);
  const field = (name, attrs) => el("label", {}, attrs.label,
    el(attrs.tag || "input", { name, value: params.get(name) || "", ...attrs.extra }, ...(attrs.options || [])));
  const statusSel = el("select", { name: "status" },
    ...["", "running", "succeeded", "failed"].map((s) => el("option", { value: s }, s || "any")));
  statusSel.value = params.get("status") || "";
  const toDate = (ms) => (ms ? new Date(Number(ms)).toISOString().slice(0, 10) : "");
  const since = el("input", { type: "date", name: "since", value: toDate(params.get("since")) });
  const until = el("input", { type: "date", name: "until", value: toDate(params.get("until")) });
  const form = el("form", { class: "filters", "data-testid": "run-filters" },
    field("user", { label: "User" }), field("tag", { label: "Tag" }),
    el("label", {}, "Status", statusSel), el("label", {}, "From", since), el("label", {}, "Before", until),
    el("button", { type: "submit" }, "Filter"));
  const table = el("table", { "data-testid": "runs" });
  const more = el("button", { type: "button", hidden: true }, "Older runs");
  clear(app);
  app.append(el("h1", {}, flow), form, el("div", { class: "panel" }, table), el("p", {}, more));
  table.append(el("tr", {}, ...["Run", "Status", "Started", "Duration", "User", "Tags"].map((h) => el("th", {}, h))));

  const query = new URLSearchParams();
  for (const k of ["user", "tag", "status", "since", "until"]) if (params.get(k)) query.set(k, params.get(k));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    const data = new FormData(form);
    for (const k of ["user", "tag", "status"]) if (data.get(k)) next.set(k, data.get(k));
    if (since.value) next.set("since", String(Date.parse(since.value)));
    if (until.value) next.set("until", String(Date.parse(until.value) + 86400000));
    history.pushState(null, "", `${uiPath(flow)}${next.toString() ? "?" + next : ""}`);
    route();
  });
  let cursor = null;
  const load = async () => {
    const q = new URLSearchParams(query);
    if (cursor) q.set("before", cursor);
    const { body } = await getJson(`${apiPath(flow)}/runs?${q}`);
    for (const r of body.runs) {
      const end = r.finished_ts || (r.status === "running" ? Date.now() : (r.last_heartbeat_ts || 0) * 1000);
      table.append(el("tr", { "data-run": r.run_id, "data-status": r.status },
        el("td", {}, el("a", { href: uiPath(flow, r.run_id) }, r.run_id)),
        el("td", {}, statusBadge(r.status)),
        el("td", {}, fmtTime(r.ts_epoch)),
        el("td", {}, fmtDuration(end - r.ts_epoch)),
        el("td", {}, r.user_name || ""),
        el("td", {}, tagList(r.tags, r.system_tags))));
    }
    if (!body.runs.length && !cursor) table.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No runs match.")));
    cursor = body.next;
    more.hidden = !cursor;
  };
  more.addEventListener("click", load);
  await load();
}

// --- one run -------------------------------------------------------------------------

async function runPage(flow, run, focusStep) {
  setCrumbs(focusStep ? [flow, run, focusStep] : [flow, run]);
  document.title = `Headwater · ${flow}/${run}`;
  const url = apiPath(flow, run);
  let { body, etag } = await getJson(url);
  clear(app);
  const view = el("div", { "data-testid": "run" });
  app.append(view);
  const render = () => renderRun(view, flow, run, body, focusStep);
  render();
  if (body.run.status !== "running") return;
  // Live: ask every 2 s; an unchanged run costs the service one small query (304).
  let live = true;
  const timer = setInterval(async () => {
    if (!live) return;
    try {
      const got = await getJson(url, etag);
      if (!got.notModified) {
        ({ body, etag } = got);
        render();
        if (body.run.status !== "running") { clearInterval(timer); }
      }
    } catch (err) { /* a missed refresh is retried at the next tick */ }
  }, 2000);
  stopRefresh = () => { live = false; clearInterval(timer); };
}

function renderRun(view, flow, run, body, focusStep) {
  const r = body.run;
  clear(view);
  const now = Date.now();
  const end = r.finished_ts || now;
  view.append(el("h1", {}, `${flow}/${r.run_id} `, statusBadge(r.status, "run-status")),
    el("p", { class: "muted" }, `started ${fmtTime(r.ts_epoch)} · ${fmtDuration(end - r.ts_epoch)}`,
      r.user_name ? ` · by ${r.user_name}` : ""),
    el("div", {}, tagList(r.tags, r.system_tags)));
  const dag = el("div", { class: "panel", "data-testid": "dag" });
  view.append(el("h2", {}, "Steps"), dag);
  drawDag(dag, body.steps, (step) => {
    const s = body.steps.find((x) => x.name === step);
    if (s && s.tasks === 1) return uiPath(flow, run, step, s.first_task);
    if (s && s.tasks > 1) return uiPath(flow, run, step);
    return null;
  });
  if (focusStep) {
    const tasks = body.tasks.filter((t) => t.step === focusStep);
    const table = el("table", { "data-testid": "step-tasks" },
      el("tr", {}, ...["Task", "Status", "Attempt", "Started", "Duration"].map((h) => el("th", {}, h))));
    for (const t of tasks) {
      table.append(el("tr", { "data-task": t.task_id },
        el("td", {}, el("a", { href: uiPath(flow, run, focusStep, t.task_id) }, t.task_id)),
        el("td", {}, statusBadge(t.status)), el("td", {}, t.attempt ?? "—"),
        el("td", {}, fmtTime(t.started)),
        el("td", {}, t.started ? fmtDuration((t.finished || now) - t.started) : "")));
    }
    view.append(el("h2", {}, `Tasks of ${focusStep}`), el("div", { class: "panel" }, table));
  }
  const gantt = el("div", { class: "panel", "data-testid": "gantt" });
  view.append(el("h2", {}, "Timeline"), gantt);
  drawGantt(gantt, body.tasks, now, (t) => uiPath(flow, run, t.step, t.task_id));
  if (body.tasks_truncated) gantt.append(el("p", { class: "muted" }, "Showing the first tasks only."));
  const params = el("table", { "data-testid": "parameters" },
    el("tr", {}, el("th", {}, "Parameter"), el("th", {}, "Type"), el("th", {}, "Value")));
  for (const p of body.parameters) {
    params.append(el("tr", {}, el("td", {}, p.name), el("td", {}, p.type),
      el("td", {}, p.preview !== null ? el("code", {}, p.preview) : el("span", { class: "muted" }, p.note || ""))));
  }
  if (!body.parameters.length) params.append(el("tr", {}, el("td", { colspan: 3, class: "muted" }, "No parameters.")));
  view.append(el("h2", {}, "Parameters"), el("div", { class: "panel" }, params));
}

// --- one task ------------------------------------------------------------------------

async function taskPage(flow, run, step, task) {
  setCrumbs([flow, run, step, task]);
  document.title = `Headwater · ${flow}/${run}/${step}/${task}`;
  const query = new URLSearchParams(location.search);
  const base = apiPath(flow, run, step, task);
  const { body } = await getJson(base + (query.get("attempt") ? `?attempt=${enc(query.get("attempt"))}` : ""));
  const attempt = body.attempt;
  const current = body.attempts.find((a) => a.attempt === attempt);
  const status = current ? current.status : "pending";
  clear(app);
  const view = el("div", { "data-testid": "task", "data-status": status });
  app.append(view);
  view.append(el("h1", {}, `${step}/${task} `, statusBadge(status, "task-status")));
  if (body.data_note) view.append(el("p", { class: "muted", "data-testid": "data-note" }, body.data_note));

  const attempts = el("table", { "data-testid": "attempts" },
    el("tr", {}, ...["Attempt", "Status", "Started", "Duration"].map((h) => el("th", {}, h))));
  for (const a of body.attempts) {
    attempts.append(el("tr", { "data-attempt": a.attempt },
      el("td", {}, a.attempt === attempt ? `${a.attempt} (shown)` :
        el("a", { href: `${uiPath(flow, run, step, task)}?attempt=${a.attempt}` }, String(a.attempt))),
      el("td", {}, statusBadge(a.status)), el("td", {}, fmtTime(a.started)),
      el("td", {}, a.started ? fmtDuration((a.finished || Date.now()) - a.started) : "")));
  }
  view.append(el("h2", {}, "Attempts"), el("div", { class: "panel" }, attempts));

  // logs: the tail first, the whole log on demand, new output while the attempt runs
  const logBox = el("pre", { class: "log", "data-testid": "log" });
  const info = el("p", { class: "muted" });
  const fullBtn = el("button", { type: "button", hidden: true }, "Show the whole log");
  const tabs = el("div", { class: "tabs" });
  let stream = "stdout";
  let end = 0;
  let poll = null;
  const logUrl = (extra) => `${base}/logs/${stream}?attempt=${attempt ?? 0}${extra}`;
  const showLog = async (full) => {
    if (poll) clearInterval(poll);
    const { body: part } = await getJson(logUrl(full ? "&full=1" : ""));
    logBox.textContent = part.text || (part.note ? "" : "(empty)");
    info.textContent = part.note || (part.start > 0 ? `showing the last ${part.end - part.start} of ${part.size} bytes` : "");
    fullBtn.hidden = part.start === 0;
    end = part.end;
    if (!part.finished) {
      poll = setInterval(async () => {
        const { body: more } = await getJson(logUrl(`&offset=${end}`));
        if (more.end > end) {
          if (logBox.textContent === "(empty)") logBox.textContent = "";
          logBox.textContent += more.text;
          end = more.end;
          logBox.scrollTop = logBox.scrollHeight;
        }
        if (more.finished) clearInterval(poll);
      }, 2000);
      stopRefresh = () => clearInterval(poll);
    }
  };
  for (const name of ["stdout", "stderr"]) {
    const b = el("button", { type: "button", "data-stream": name, "aria-selected": String(name === stream) }, name);
    b.addEventListener("click", () => {
      stream = name;
      tabs.querySelectorAll("button").forEach((x) => x.setAttribute("aria-selected", String(x === b)));
      showLog(false);
    });
    tabs.append(b);
  }
  fullBtn.addEventListener("click", () => showLog(true));
  view.append(el("h2", {}, "Logs"), tabs, logBox, info, fullBtn);
  if (status === "failed") tabs.querySelector('[data-stream="stderr"]').click(); else showLog(false);

  // artifacts: type, size, sha from the records; a value only on request, only when safe
  const arts = el("table", { "data-testid": "artifacts" },
    el("tr", {}, ...["Artifact", "Type", "Size", "SHA", "Value"].map((h) => el("th", {}, h))));
  for (const a of body.artifacts.filter((x) => !x.name.startsWith("_"))) {
    const cell = el("td", {});
    if (a.previewable) {
      const btn = el("button", { type: "button", "data-preview": a.name }, "Preview");
      btn.addEventListener("click", async () => {
        const { body: p } = await getJson(`${base}/artifacts/${enc(a.name)}/preview?attempt=${attempt}`);
        clear(cell);
        cell.append(p.preview !== null ? el("code", { "data-testid": "preview" }, p.preview)
          : el("span", { class: "muted" }, p.note || ""));
      });
      cell.append(btn);
    } else {
      cell.append(el("span", { class: "muted" }, "not previewed"));
    }
    arts.append(el("tr", { "data-artifact": a.name }, el("td", {}, a.name), el("td", {}, a.type),
      el("td", {}, a.size == null ? "" : `${a.size} B`), el("td", {}, el("code", {}, a.sha.slice(0, 12))), cell));
  }
  view.append(el("h2", {}, "Artifacts"), el("div", { class: "panel" }, arts));

  if (body.cards.length) {
    view.append(el("h2", {}, "Cards"));
    for (const c of body.cards) {
      // sandboxed without same-origin: the card cannot reach the session or the service
      view.append(el("iframe", { class: "card", sandbox: "allow-scripts", title: c.id, "data-card": c.id,
        src: `${base}/cards/${enc(c.id)}`, loading: "lazy" }));
    }
  }

  const meta = el("table", { "data-testid": "metadata" },
    el("tr", {}, ...["Field", "Value", "Type", "Time"].map((h) => el("th", {}, h))));
  for (const m of body.task.metadata) {
    meta.append(el("tr", {}, el("td", {}, m.field_name), el("td", {}, m.value), el("td", {}, m.type),
      el("td", {}, fmtTime(m.ts_epoch))));
  }
  view.append(el("h2", {}, "Metadata"), el("div", { class: "panel" }, meta));
}

// --- routing -------------------------------------------------------------------------

async function route() {
  stopRefresh();
  stopRefresh = () => {};
  const parts = location.pathname.replace(/^\/ui\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts.length === 0) await flowsPage();
    else if (parts.length === 1) await runsPage(parts[0]);
    else if (parts.length === 2) await runPage(parts[0], parts[1]);
    else if (parts.length === 3) await runPage(parts[0], parts[1], parts[2]);
    else if (parts.length === 4) await taskPage(...parts);
    else throw new NotFound(`${location.pathname} is not a page of this UI`);
  } catch (err) {
    if (err instanceof NotFound) notFound(err.message);
    else if (err.message !== "login required") {
      clear(app);
      app.append(el("p", { class: "error", "data-testid": "error" }, `Could not load the page: ${err.message}`));
    }
  }
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a");
  if (!a || a.target || e.ctrlKey || e.metaKey || e.shiftKey) return;
  const href = a.getAttribute("href") || a.getAttributeNS("http://www.w3.org/1999/xlink", "href");
  if (!href || !href.startsWith("/ui/") || href.startsWith("/ui/static") || href.startsWith("/ui/api")) return;
  e.preventDefault();
  history.pushState(null, "", href);
  route();
});
window.addEventListener("popstate", route);
getJson(`${API}/session`).then(({ body }) => {
  document.getElementById("logout").hidden = !body.login_required;
}).catch(() => {});
route();
