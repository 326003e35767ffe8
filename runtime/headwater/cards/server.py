"""``headwater card server``: recent runs' cards over HTTP, live cards refreshed.

    /                                   recent runs of every flow (or of one flow) and their cards
    /card/FLOW/RUN/STEP/TASK/ATTEMPT/SLOT   the card in a frame; reloads while the task runs
    /raw/FLOW/RUN/STEP/TASK/ATTEMPT/SLOT    the card's own page
    /status/FLOW/RUN/STEP/TASK/ATTEMPT/SLOT {"status": ..., "updated_at": ...}

The standard library's threaded HTTP server: no web framework is needed to look at cards.
Everything is read through the Client API on each request, so new runs and new versions of
live cards appear without a restart. It listens on 127.0.0.1 unless told otherwise; it has
no authentication, so share it only on a trusted network.
"""

from __future__ import annotations

import html
import json
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from ..exceptions import HeadwaterException
from ..status import Status

if TYPE_CHECKING:
    from .storage import CardStore, StoredCard

POLL_MILLISECONDS = 2000
MAX_TASKS_PER_STEP = 50

_STYLE = """body{font:14px/1.5 -apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:0;color:#1d2733}
main{max-width:1100px;margin:0 auto;padding:16px 24px}h1{font-size:20px}h2{font-size:16px;margin:18px 0 4px}
table{border-collapse:collapse}td,th{border:1px solid #dde3ea;padding:3px 8px;text-align:left}
.running{color:#1f6feb}.error{color:#cf222e}.muted{color:#5b6b7c}
header{display:flex;gap:12px;align-items:center;padding:8px 16px;border-bottom:1px solid #dde3ea}
iframe{width:100%;height:calc(100vh - 48px);border:0}"""


def _path(card: "StoredCard") -> str:
    parts = [card.flow_name, card.run_id, card.step_name, card.task_id, str(card.attempt),
             card.slot]
    return "/".join(quote(p, safe="") for p in parts)


def _locate(parts: list[str]) -> tuple["CardStore", "StoredCard"]:
    """The stored card at FLOW/RUN/STEP/TASK/ATTEMPT/SLOT."""
    from ..client import Task
    from .client import card_store_for

    if len(parts) != 6 or not parts[4].isdigit():
        raise LookupError("a card address is FLOW/RUN/STEP/TASK/ATTEMPT/SLOT")
    task = Task("/".join(parts[:4]))
    store = card_store_for(task)
    flow, run, step, task_id, attempt, slot = parts
    for stored in store.list(flow, run, step, task_id, attempt=int(attempt)):
        if stored.slot == slot:
            return store, stored
    raise LookupError(f"task {task.pathspec} has no card {parts[5]!r} in attempt {parts[4]}")


def _index(max_runs: int, flow_name: str | None) -> tuple[str, bool]:
    """The index page, and whether anything on it is still running."""
    from ..client import Flow, Metaflow
    from .client import get_cards

    flows = [Flow(flow_name)] if flow_name else Metaflow().flows
    out = ["<h1>Headwater cards</h1>"]
    live = False
    for flow in flows:
        runs = flow.runs()[:max_runs]
        out.append(f"<h2>{html.escape(flow.id)}</h2>")
        if not runs:
            out.append('<p class="muted">no runs</p>')
            continue
        rows = []
        for run in runs:
            running = not run.finished
            live |= running
            links = []
            for step in run:
                for task in step.tasks()[:MAX_TASKS_PER_STEP]:
                    for c in get_cards(task):
                        label = f"{step.id}/{task.id} {c.type}" + (f" ({c.id})" if c.id else "")
                        cls = f' class="{c.status}"' if c.status != "final" else ""
                        links.append(f'<a{cls} href="/card/{_path(c.stored)}">'
                                     f"{html.escape(label)}</a>")
            state = (Status.RUNNING if running else Status.ended(run.successful)).card_word
            rows.append(f"<tr><td>{html.escape(run.id)}</td><td>{state}</td>"
                        f"<td>{' · '.join(links) or '<span class=muted>no cards</span>'}</td></tr>")
        out.append("<table><tr><th>run</th><th>state</th><th>cards</th></tr>"
                   + "".join(rows) + "</table>")
    return "".join(out), live


def _frame(parts: list[str], stored: "StoredCard") -> str:
    address = "/".join(quote(p, safe="") for p in parts)
    title = f"{stored.pathspec} · {stored.type}" + (f" ({stored.id})" if stored.id else "")
    # The card keeps its own strict policy; this page only polls the card's status.
    script = f"""<script>
var shown = {json.dumps(stored.updated_at)}, frame = document.getElementById("card");
var badge = document.getElementById("state");
function poll() {{
  fetch("/status/{address}").then(function (r) {{ return r.json(); }}).then(function (s) {{
    badge.textContent = s.status;
    if (s.updated_at !== shown) {{ shown = s.updated_at; frame.src = "/raw/{address}?t=" + shown; }}
    if (s.status === "running") setTimeout(poll, {POLL_MILLISECONDS});
  }}).catch(function () {{ setTimeout(poll, {POLL_MILLISECONDS * 2}); }});
}}
if (badge.textContent === "running") setTimeout(poll, {POLL_MILLISECONDS});
</script>"""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{_STYLE}</style></head><body><header><a href='/'>all cards</a>"
            f"<strong>{html.escape(title)}</strong><span id='state' class='{stored.status}'>"
            f"{html.escape(stored.status)}</span></header>"
            f"<iframe id='card' src='/raw/{address}' sandbox='allow-scripts'></iframe>"
            f"{script}</body></html>")


class CardRequestHandler(BaseHTTPRequestHandler):
    server_version = "HeadwaterCards"
    max_runs = 10
    flow_name: str | None = None

    def log_message(self, format: str, *args) -> None:  # quieter than the default
        sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _send(self, status: int, body: str, content_type: str = "text/html; charset=utf-8",
              csp: str | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if csp:
            self.send_header("Content-Security-Policy", csp)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        from .template import CSP

        path = self.path.split("?", 1)[0]
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        try:
            if not parts:
                body, live = _index(self.max_runs, self.flow_name)
                refresh = '<meta http-equiv="refresh" content="5">' if live else ""
                self._send(HTTPStatus.OK, f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
                                          f"{refresh}<title>Headwater cards</title><style>"
                                          f"{_STYLE}</style></head><body><main>{body}</main>"
                                          f"</body></html>")
            elif parts[0] == "card":
                _, stored = _locate(parts[1:])
                self._send(HTTPStatus.OK, _frame(parts[1:], stored))
            elif parts[0] == "raw":
                store, stored = _locate(parts[1:])
                self._send(HTTPStatus.OK, store.html(stored), csp=CSP)
            elif parts[0] == "status":
                store, stored = _locate(parts[1:])
                now = store.describe(stored)
                self._send(HTTPStatus.OK, json.dumps({"status": now.status,
                                                      "updated_at": now.updated_at}),
                           "application/json")
            else:
                self._send(HTTPStatus.NOT_FOUND, "<p>Not found. <a href='/'>All cards</a></p>")
        except (LookupError, HeadwaterException) as exc:
            message = exc.message if isinstance(exc, HeadwaterException) else str(exc)
            self._send(HTTPStatus.NOT_FOUND, f"<p>{html.escape(message)}</p>"
                                             f"<p><a href='/'>All cards</a></p>")


def make_server(host: str, port: int, max_runs: int = 10,
                flow_name: str | None = None) -> ThreadingHTTPServer:
    """A card server bound to ``host:port`` (port 0 picks a free one); not yet serving."""
    handler = type("BoundCardRequestHandler", (CardRequestHandler,),
                   {"max_runs": max_runs, "flow_name": flow_name})
    return ThreadingHTTPServer((host, port), handler)


def serve(host: str, port: int, max_runs: int = 10, flow_name: str | None = None) -> None:
    """Serve until interrupted."""
    httpd = make_server(host, port, max_runs, flow_name)
    print(f"Serving cards on http://{host}:{httpd.server_address[1]}/ (Ctrl-C to stop)",
          flush=True)
    try:
        httpd.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
