"""Load benchmark of the metadata service (loopback only, bounded in time).

    python bench/service_load.py                      # 64 and 16 clients, 15 s each
    python bench/service_load.py --clients 64 --seconds 30 --workers 2 --pool-size 10
    python bench/service_load.py --mix both --clients 16 --seconds 10   # API and UI side by side

Starts ``headwater-service serve`` on 127.0.0.1 against a throwaway database it creates on
the local Postgres (``--database-url`` of the server to use; default
``$HEADWATER_BENCH_DATABASE_URL`` or ``postgresql://postgres@127.0.0.1:5432/postgres``) and
drops afterwards. Or ``--url`` to drive a service that is already running.

Each client holds one keep-alive connection and loops over what a task does:
create run, create step, create task, post 3 metadata rows, post 3 artifact rows, get the
task, get its artifacts (7 requests). The load generator is a minimal HTTP/1.1 client on
asyncio + uvloop so that it, not the service, costs little CPU: it shares the machine.

Prints requests/s, p50, p99 and errors per concurrency level, beside the numbers measured
for metaflow-service 2.5.1 on the same 2-core machine (the anchor), with ratios.

``--mix ui`` (or ``both``) drives the web UI's JSON routes instead (``/ui/api``, docs/ui.md):
each client loops over what a user watching runs costs: a page of the run list, a run page,
the run page's live poll (an unchanged run: 304), and a task's stdout tail from the
datastore. It first seeds ``--ui-runs`` runs of start -> work (10 tasks) -> end with their
metadata, task indexes and logs in a temporary local datastore the service reads.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit, urlunsplit

import orjson

# metaflow-service 2.5.1 under this load on this machine (issue 3)
ANCHOR = {64: {"rps": 870.0, "p50": 52.0, "p99": 324.0},
          16: {"rps": 903.0, "p50": None, "p99": 41.0}}

FLOW = "BenchFlow"
UI_FLOW = "BenchUiFlow"
UI_WIDTH = 10
USER = "bench"
TAGS = ["bench"]
SYSTEM_TAGS = ["user:bench", "runtime:dev"]


# --- a minimal keep-alive HTTP/1.1 client ----------------------------------------------------

class Connection:
    """One persistent connection; one request at a time."""

    def __init__(self, host: str, port: int, headers: dict[str, str]):
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_etag: str | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP,
                                                        socket.TCP_NODELAY, 1)

    async def request(self, method: str, path: str, body: bytes | None = None
                      ) -> tuple[int, bytes]:
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n").encode() + self.extra
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: " + \
                str(len(body)).encode() + b"\r\n\r\n" + body
        else:
            head += b"\r\n"
        self.writer.write(head)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        self.last_etag = None
        for line in raw.split(b"\r\n")[1:]:
            name = line[:15].lower()
            if name == b"content-length:":
                length = int(line[15:])
            elif name[:5] == b"etag:":
                self.last_etag = line[5:].strip().decode()
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.by_kind: dict[str, list[float]] = {}
        self.errors = 0
        self.error_samples: list[str] = []
        self.recording = False

    def record(self, seconds: float, ok: bool, what: str, kind: str = "") -> None:
        if not self.recording:
            return
        self.latencies.append(seconds)
        self.by_kind.setdefault(kind, []).append(seconds)
        if not ok:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(what)


async def client_loop(conn: Connection, rec: Recorder, stop: asyncio.Event) -> None:
    clock = time.perf_counter
    run_body = orjson.dumps({"user_name": USER, "tags": TAGS, "system_tags": SYSTEM_TAGS})
    step_body = orjson.dumps({"user_name": USER, "tags": TAGS, "system_tags": SYSTEM_TAGS})

    async def call(method: str, path: str, body: bytes | None = None) -> bytes | None:
        kind = f"{method} .../{path.rsplit('/', 1)[1] if method == 'POST' else path.count('/')}"
        started = clock()
        try:
            status, payload = await conn.request(method, path, body)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            rec.record(clock() - started, False, f"{method} {path}: {exc!r}", kind)
            raise
        ok = 200 <= status < 300
        rec.record(clock() - started, ok, f"{method} {path}: {status} {payload[:200]!r}", kind)
        return payload if ok else None

    while not stop.is_set():
        run = await call("POST", f"/flows/{FLOW}/run", run_body)
        if run is None:
            continue
        run_path = f"/flows/{FLOW}/runs/{orjson.loads(run)['run_number']}"
        if await call("POST", f"{run_path}/steps/start/step", step_body) is None:
            continue
        task = await call("POST", f"{run_path}/steps/start/task", step_body)
        if task is None:
            continue
        task_id = orjson.loads(task)["task_id"]
        task_path = f"{run_path}/steps/start/tasks/{task_id}"
        tags = ["attempt_id:0"]
        metadata = orjson.dumps([
            {"field_name": name, "value": value, "type": name, "user_name": USER,
             "tags": tags, "system_tags": tags}
            for name, value in (("attempt", "0"), ("ds-type", "local"),
                                ("ds-root", "/tmp/bench"))])
        artifacts = orjson.dumps([
            {"name": name, "location": f"/tmp/bench/{FLOW}/data/{sha[:2]}/{sha}",
             "ds_type": "local", "sha": sha, "type": "metaflow.artifact",
             "content_type": "gzip+pickle-v2", "attempt_id": 0, "user_name": USER,
             "tags": TAGS, "system_tags": SYSTEM_TAGS}
            for name, sha in (("x", secrets.token_hex(20)), ("name", secrets.token_hex(20)),
                              ("_success", secrets.token_hex(20)))])
        await call("POST", f"{task_path}/metadata", metadata)
        await call("POST", f"{task_path}/artifact", artifacts)
        await call("GET", task_path)
        await call("GET", f"{task_path}/artifacts")


async def seed_ui(conn: Connection, root: str, runs: int) -> list[tuple[str, list[str]]]:
    """Runs of start -> work (UI_WIDTH tasks) -> end as the runtime records them, with each
    task's index and stdout in the local datastore at ``root``. Returns (run, task paths)."""
    import json

    async def ok(method: str, path: str, body: object = None) -> dict:
        status, payload = await conn.request(method, path, None if body is None
                                             else orjson.dumps(body))
        if not 200 <= status < 300:
            raise SystemExit(f"seeding the UI runs: {method} {path}: HTTP {status} {payload!r}")
        return orjson.loads(payload) if payload else {}

    await conn.request("POST", f"/flows/{UI_FLOW}", b"{}")
    seeded = []
    plan = (("start", 1, ["work"]), ("work", UI_WIDTH, ["end"]), ("end", 1, []))
    for _ in range(runs):
        run = str((await ok("POST", f"/flows/{UI_FLOW}/run", {"user_name": USER,
                                                              "tags": TAGS}))["run_number"])
        tasks = []
        for step, width, targets in plan:
            base = f"/flows/{UI_FLOW}/runs/{run}/steps/{step}"
            await ok("POST", f"{base}/step", {"user_name": USER})
            for _ in range(width):
                task = str((await ok("POST", f"{base}/task", {"user_name": USER}))["task_id"])
                tags = ["attempt_id:0"]
                rows = [{"field_name": f, "value": v, "type": f, "user_name": USER, "tags": tags,
                         "system_tags": []}
                        for f, v in (("attempt", "0"), ("ds-type", "local"), ("ds-root", root),
                                     ("attempt-done", "0"), ("attempt_ok", "True"))]
                await ok("POST", f"{base}/tasks/{task}/metadata", rows)
                folder = os.path.join(root, UI_FLOW, run, step, task)
                os.makedirs(folder, exist_ok=True)
                with open(os.path.join(folder, "0.index.json"), "w") as f:
                    json.dump({"artifacts": {}, "state": {"targets": targets, "stack": []}}, f)
                with open(os.path.join(folder, "0.stdout"), "w") as f:
                    f.writelines(f"line {i} of task {task}: some output\n" for i in range(200))
                tasks.append(f"{step}/tasks/{task}")
        seeded.append((run, tasks))
    return seeded


async def ui_client_loop(conn: Connection, rec: Recorder, stop: asyncio.Event,
                         seeded: list[tuple[str, list[str]]]) -> None:
    """Run list, run page, its live poll (304 when unchanged), a task's stdout tail."""
    import random

    clock = time.perf_counter
    pick = random.Random(id(conn))
    api = f"/ui/api/flows/{UI_FLOW}"

    async def call(path: str, kind: str, etag: str | None = None) -> tuple[int, bytes]:
        extra = conn.extra
        if etag:
            conn.extra = extra + f"If-None-Match: {etag}\r\n".encode()
        started = clock()
        try:
            status, payload = await conn.request("GET", path)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            rec.record(clock() - started, False, f"GET {path}: {exc!r}", kind)
            raise
        finally:
            conn.extra = extra
        rec.record(clock() - started, status in (200, 304),
                   f"GET {path}: {status} {payload[:200]!r}", kind)
        return status, payload

    etags: dict[str, str] = {}
    while not stop.is_set():
        await call(f"{api}/runs?limit=50", "run list")
        run, tasks = pick.choice(seeded)
        path = f"{api}/runs/{run}"
        status, payload = await call(path, "run page")
        if status == 200:
            etags[path] = conn.last_etag
        await call(path, "run page poll", etags.get(path))
        await call(f"{api}/runs/{run}/steps/{pick.choice(tasks)}/logs/stdout", "task log")


class CpuMeter:
    """CPU seconds used by the service's processes and its Postgres backends (psutil)."""

    def __init__(self, service_pid: int | None, db_url: str | None):
        self.service_pid, self.db_url = service_pid, db_url

    def _pids(self) -> tuple[list[int], list[int]]:
        import psutil
        import psycopg

        service = []
        if self.service_pid:
            root = psutil.Process(self.service_pid)
            service = [root.pid] + [c.pid for c in root.children(recursive=True)]
        backends = []
        if self.db_url:
            with psycopg.connect(self.db_url) as conn:
                backends = [r[0] for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = "
                    "'headwater-service'")]
        return service, backends

    def snapshot(self) -> tuple[float, float]:
        import psutil

        totals = []
        for pids in self._pids():
            total = 0.0
            for pid in pids:
                try:
                    t = psutil.Process(pid).cpu_times()
                    total += t.user + t.system
                except psutil.Error:
                    pass
            totals.append(total)
        return totals[0], totals[1]


async def drive(host: str, port: int, clients: int, seconds: float, warmup: float,
                headers: dict[str, str], meter: CpuMeter | None = None,
                seeded: list | None = None) -> dict:
    """One measured level; ``seeded`` (UI runs) selects the UI mix."""
    rec = Recorder()
    stop = asyncio.Event()
    conns = [Connection(host, port, headers) for _ in range(clients)]
    await asyncio.gather(*(c.open() for c in conns))
    tasks = [asyncio.ensure_future(client_loop(c, rec, stop) if seeded is None else
                                   ui_client_loop(c, rec, stop, seeded)) for c in conns]
    await asyncio.sleep(warmup)
    rec.recording = True
    started = time.perf_counter()
    cpu_before = _cpu_seconds()
    other_before = meter.snapshot() if meter else (0.0, 0.0)
    await asyncio.sleep(seconds)
    rec.recording = False
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    other_after = meter.snapshot() if meter else (0.0, 0.0)
    stop.set()
    done, pending = await asyncio.wait(tasks, timeout=10)
    for t in pending:
        t.cancel()
    for c in conns:
        c.close()
    crashed = [t.exception() for t in done if not t.cancelled() and t.exception()]
    lat = sorted(rec.latencies)
    if not lat:
        raise SystemExit("no request completed: is the service up?")
    return {"clients": clients, "requests": len(lat), "rps": len(lat) / elapsed,
            "p50": _pct(lat, 50) * 1000, "p99": _pct(lat, 99) * 1000,
            "mean": statistics.fmean(lat) * 1000, "errors": rec.errors + len(crashed),
            "samples": rec.error_samples + [repr(e) for e in crashed[:3]],
            "by_kind": {k: (_pct(sorted(v), 50) * 1000, _pct(sorted(v), 99) * 1000)
                        for k, v in rec.by_kind.items()},
            "loadgen_cpu": cpu / elapsed, "cpu_per_request_ms": {
                "load generator": cpu / len(lat) * 1000,
                "service": (other_after[0] - other_before[0]) / len(lat) * 1000,
                "postgres": (other_after[1] - other_before[1]) / len(lat) * 1000}}


def _pct(sorted_values: list[float], pct: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# --- the service under test ------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


class ThrowawayService:
    """A database created for the run and a ``headwater-service serve`` on it."""

    def __init__(self, server_url: str, workers: int, pool_size: int, access_log: bool):
        self.server_url = server_url
        self.db_name = f"hw_bench_{os.getpid()}_{secrets.token_hex(3)}"
        self.db_url = _with_database(server_url, self.db_name)
        self.workers, self.pool_size, self.access_log = workers, pool_size, access_log
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="hw-bench-service-", suffix=".log",
                                               delete=False)

    def __enter__(self) -> "ThrowawayService":
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        cli = [sys.executable, "-m", "headwater_service.cli"]
        subprocess.run(cli + ["db", "upgrade", "--database-url", self.db_url], check=True,
                       stdout=subprocess.DEVNULL)
        args = cli + ["serve", "--database-url", self.db_url, "--host", "127.0.0.1",
                      "--port", str(self.port), "--workers", str(self.workers),
                      "--pool-size", str(self.pool_size)]
        if not self.access_log:
            args.append("--no-access-log")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"the service exited; log: {self.log.name}")
                time.sleep(0.1)
        time.sleep(0.5 * self.workers)  # let every worker open its pool
        return self

    def __exit__(self, exc_type, *exc) -> None:
        import psycopg

        failed = exc_type is not None or (self.proc is not None and self.proc.poll() is not None)
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        self.log.close()
        if failed:
            print(f"the service's log: {self.log.name}", file=sys.stderr)
        else:  # megabytes of access lines
            os.unlink(self.log.name)


# --- main -------------------------------------------------------------------------------------

def _ratio(ours: float, theirs: float | None, higher_is_better: bool) -> str:
    if not theirs:
        return "n/a"
    return f"{(ours / theirs if higher_is_better else theirs / ours):.2f}x"


def print_table(results: list[dict], setup: str, breakdown: bool = False,
                title: str = "metadata service load") -> None:
    print(f"\n{title} ({setup})")
    print("| clients | requests | req/s | p50 ms | p99 ms | errors | anchor req/s | anchor p99 "
          "ms | throughput vs anchor | p99 vs anchor (lower is better) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        a = ANCHOR.get(r["clients"], {})
        print(f"| {r['clients']} | {r['requests']} | {r['rps']:.0f} | {r['p50']:.1f} | "
              f"{r['p99']:.1f} | {r['errors']} | {a.get('rps', 'n/a')} | {a.get('p99', 'n/a')} "
              f"| {_ratio(r['rps'], a.get('rps'), True)} | "
              f"{_ratio(r['p99'], a.get('p99'), False)} |")
    for r in results:
        if r["samples"]:
            print(f"errors at {r['clients']} clients, e.g.:", *r["samples"], sep="\n  ")
    print("(ratios: ours / anchor for throughput, anchor / ours for p99)")
    if breakdown:
        for r in results:
            print(f"p50/p99 ms by request at {r['clients']} clients: " + ", ".join(
                f"{k} {p50:.1f}/{p99:.1f}" for k, (p50, p99) in sorted(r["by_kind"].items())))
    for r in results:
        parts = ", ".join(f"{k} {v:.3f}" for k, v in r["cpu_per_request_ms"].items() if v)
        print(f"CPU ms per request at {r['clients']} clients: {parts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="drive this running service instead of starting one")
    parser.add_argument("--database-url", default=os.environ.get(
        "HEADWATER_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="Postgres server to create the throwaway database on")
    parser.add_argument("--clients", default="64,16",
                        help="comma-separated concurrency levels (default 64,16)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured time per level")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured time per level")
    parser.add_argument("--workers", type=int, default=2, help="service worker processes")
    parser.add_argument("--pool-size", type=int, default=10,
                        help="Postgres connections per worker")
    parser.add_argument("--no-access-log", action="store_true",
                        help="run the service without its per-request log line")
    parser.add_argument("--breakdown", action="store_true",
                        help="also print p50/p99 per kind of request")
    parser.add_argument("--api-key", default=os.environ.get("METAFLOW_SERVICE_AUTH_KEY"),
                        help="x-api-key to send (with --url)")
    parser.add_argument("--mix", choices=("api", "ui", "both"), default="api",
                        help="what the clients do: the API task loop, the UI pages, or both "
                             "(one after the other, printed side by side)")
    parser.add_argument("--ui-runs", type=int, default=100,
                        help="runs seeded for the UI mix (12 tasks each)")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    if args.seconds > 120:
        parser.error("--seconds is capped at 120 per level")

    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass

    async def run_all(host: str, port: int, headers: dict[str, str],
                      meter: CpuMeter | None = None) -> list[dict]:
        probe = Connection(host, port, headers)
        await probe.open()
        status, _ = await probe.request("POST", f"/flows/{FLOW}", b"{}")
        seeded = None
        if args.mix != "api":
            seeded = await seed_ui(probe, ui_root, args.ui_runs)
        probe.close()
        if status not in (200, 409):
            raise SystemExit(f"cannot register the flow: HTTP {status}")
        results = {}
        for mix in (("api", "ui") if args.mix == "both" else (args.mix,)):
            results[mix] = [await drive(host, port, clients, args.seconds, args.warmup,
                                        headers, meter, seeded if mix == "ui" else None)
                            for clients in levels]
        return results

    headers = {"x-api-key": args.api_key} if args.api_key else {}
    # the UI mix's datastore: the service started here reads it (METAFLOW_DATASTORE_SYSROOT_LOCAL)
    ui_root = os.environ.get("METAFLOW_DATASTORE_SYSROOT_LOCAL") if args.url else None
    if ui_root is None:
        ui_root = tempfile.mkdtemp(prefix="hw-bench-ui-")
        os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"] = ui_root
    ui_root = os.path.abspath(ui_root)
    if args.url:
        parts = urlsplit(args.url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            parser.error("the benchmark drives loopback services only")
        results = asyncio.run(run_all(parts.hostname, parts.port or 80, headers))
        setup = f"service at {args.url}"
    else:
        with ThrowawayService(args.database_url, args.workers, args.pool_size,
                              not args.no_access_log) as svc:
            meter = CpuMeter(svc.proc.pid, svc.db_url)
            results = asyncio.run(run_all("127.0.0.1", svc.port, headers, meter))
        setup = (f"{args.workers} uvicorn workers x {args.pool_size} Postgres connections, "
                 f"access log {'off' if args.no_access_log else 'on'}, {os.cpu_count()} CPUs, "
                 f"{args.seconds:g} s per level")
    for mix, rows in results.items():
        if mix == "api":
            print_table(rows, setup, args.breakdown)
        else:
            print_ui_table(rows, setup, results.get("api"))
    if not args.url:
        import shutil

        shutil.rmtree(ui_root, ignore_errors=True)


def print_ui_table(results: list[dict], setup: str, api: list[dict] | None) -> None:
    """The UI mix, beside the API mix at the same concurrency when both ran."""
    by_clients = {r["clients"]: r for r in api or []}
    print(f"\nUI routes load: run list + run page + live poll (304) + task log ({setup})")
    print("| clients | requests | req/s | p50 ms | p99 ms | errors | API req/s | API p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        a = by_clients.get(r["clients"])
        api_rps, api_p99 = (f"{a['rps']:.0f}", f"{a['p99']:.1f}") if a else ("n/a", "n/a")
        print(f"| {r['clients']} | {r['requests']} | {r['rps']:.0f} | {r['p50']:.1f} | "
              f"{r['p99']:.1f} | {r['errors']} | {api_rps} | {api_p99} |")
        print("p50/p99 ms by request: " + ", ".join(
            f"{k} {p50:.1f}/{p99:.1f}" for k, (p50, p99) in sorted(r["by_kind"].items())))
    for r in results:
        if r["samples"]:
            print(f"errors at {r['clients']} clients, e.g.:", *r["samples"], sep="\n  ")


if __name__ == "__main__":
    main()
