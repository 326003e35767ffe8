"""Shared-mode benchmark: Headwater against Metaflow 2.19 on the dev stack's ``--cloud aws``
components (moto S3 + the Headwater metadata service on Postgres), side by side in one run.

    python bench/shared_mode_bench.py                      # both tools, 3-step and foreach-100
    python bench/shared_mode_bench.py --skip-metaflow      # Headwater alone
    python bench/shared_mode_bench.py --repeat 3

The script starts its own stack (``headwater dev up --cloud aws`` in a temporary folder, on
free ports) and stops it at the end. Both tools run the same flow files of ``bench/flows/``
(only the import line differs) with ``METAFLOW_DEFAULT_METADATA=service`` at the same
service and ``METAFLOW_DEFAULT_DATASTORE=s3`` at the same moto (Metaflow under its own S3
prefix). Headwater also runs each case in local mode, for the local-vs-shared per-task cost.

Besides wall time it counts, per task, the HTTP requests each tool made to the service (the
service's access log) and the requests to and bytes written to S3 (moto's request recording:
every request with its body), and measures the **floor**: the time moto and the service need
for the requests a task cannot avoid (register the task, its metadata and its artifacts with
the service; read its input and write its artifact to S3), made one after another from one
warm client, as a single process would.

Metaflow is installed on first use into ``bench/.venvs/metaflow-2.19-shared`` (with boto3).
Not a test: the numbers depend on the machine (run it with ``nice`` on a shared one).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
FLOWS = BENCH / "flows"
METAFLOW_SPEC = "metaflow>=2.19,<2.20"
IMPORT_MARKER = "# bench: tool import"


@dataclass
class Case:
    name: str
    template: str
    args: list[str]
    expect: str
    tasks: int  # every task of the run (start, foreach tasks, join, end)
    foreach: int = 0


CASES = [
    Case("3-step", "three_step_flow.py", [], "RESULT value=2", tasks=3),
    Case("foreach-100", "foreach_flow.py", ["--n", "100"], f"RESULT total={2 * sum(range(100))}",
         tasks=103, foreach=100),
]


@dataclass
class Tool:
    name: str
    python: str
    module: str
    mode: str  # "shared" or "local"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.mode})"

    def flow_file(self, template: str, workdir: Path) -> Path:
        text = (FLOWS / template).read_text()
        text = text.replace(f"from headwater import", f"from {self.module} import", 1)
        out = workdir / "flows" / self.name / template
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        return out


@dataclass
class Stack:
    folder: Path
    home: Path
    port: int

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.port + 2}"

    @property
    def api_key(self) -> str:
        return (self.folder / "service" / "api-key").read_text().strip()

    @property
    def service_log(self) -> Path:
        return self.folder / "logs" / "service.log"

    @property
    def recording(self) -> Path:
        return self.folder / "moto" / "recording.jsonl"

    def aws_env(self) -> dict[str, str]:
        return {"AWS_CONFIG_FILE": str(self.folder / "aws" / "config"),
                "AWS_PROFILE": "headwater-dev",
                "AWS_SHARED_CREDENTIALS_FILE": str(self.folder / "aws" / "no-credentials"),
                "AWS_EC2_METADATA_DISABLED": "true"}


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("METAFLOW_", "HEADWATER_", "AWS_"))}


def environment(tool: Tool, stack: Stack, run_dir: Path) -> dict[str, str]:
    env = clean_env()
    env.update({"METAFLOW_USER": "bench", "PYTHONDONTWRITEBYTECODE": "1",
                "METAFLOW_HOME": str(stack.home)})
    if tool.mode == "local":
        env.update({"METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local",
                    "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(run_dir / "sysroot"),
                    "METAFLOW_HOME": str(run_dir / "home")})
        return env
    env.update(stack.aws_env())
    if tool.name == "headwater":
        env["METAFLOW_PROFILE"] = "dev"  # exactly what `dev up` wrote
    else:
        # Metaflow does not read *_FILE settings: the key in the environment, as users do
        env.update({"METAFLOW_DEFAULT_DATASTORE": "s3", "METAFLOW_DEFAULT_METADATA": "service",
                    "METAFLOW_DATASTORE_SYSROOT_S3": "s3://headwater/metaflow-mf",
                    "METAFLOW_S3_ENDPOINT_URL": stack.s3_url,
                    "METAFLOW_SERVICE_URL": stack.service_url,
                    "METAFLOW_SERVICE_AUTH_KEY": stack.api_key})
    return env


@dataclass
class Measurement:
    seconds: float
    ok: bool
    service_requests: int = 0
    s3_requests: int = 0
    s3_bytes_written: int = 0
    cpu_tool: float = 0.0  # CPU seconds of the flow's process tree (scheduler + tasks)
    cpu_components: dict[str, float] = field(default_factory=dict)  # per stack component
    detail: str = ""


@dataclass
class Result:
    case: Case
    tool: Tool
    runs: list[Measurement] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.ok for r in self.runs)

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    def per_run(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def count_service_requests(log: Path, offset: int) -> int:
    """Access-log lines written since ``offset`` (each request is one line)."""
    with open(log, "rb") as f:
        f.seek(offset)
        return sum(1 for line in f if b'"headwater_service.access"' in line)


def count_s3(recording: Path, offset: int) -> tuple[int, int]:
    """(requests, bytes of request bodies written) to S3 since ``offset`` of the recording."""
    requests = written = 0
    with open(recording, "rb") as f:
        f.seek(offset)
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            requests += 1
            if entry.get("method") in ("PUT", "POST") and entry.get("body"):
                body = entry["body"]
                written += len(base64.b64decode(body)) if entry.get("body_encoded") \
                    else len(body.encode())
    return requests, written


def component_cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far by each server of the stack, its child processes included
    (Postgres runs one backend process per connection)."""
    import psutil

    state = json.loads((stack.folder / "state.json").read_text())
    out = {}
    for name, rec in state["processes"].items():
        total = 0.0
        try:
            root = psutil.Process(rec["pid"])
            for proc in [root, *root.children(recursive=True)]:
                try:
                    t = proc.cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
        except psutil.NoSuchProcess:
            pass
        out[name] = total
    return out


def measure(tool: Tool, case: Case, stack: Stack, workdir: Path, timeout: float) -> Measurement:
    run_dir = Path(tempfile.mkdtemp(prefix=f"{tool.name}-{tool.mode}-{case.name}-", dir=workdir))
    flow = tool.flow_file(case.template, workdir)
    cmd = [tool.python, str(flow), "run", "--max-workers", "16", "--max-num-splits", "1000",
           *case.args]
    log_at, rec_at = _size(stack.service_log), _size(stack.recording)
    cpu_at = component_cpu(stack)
    children_at = os.times()
    try:
        started = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=run_dir, env=environment(tool, stack, run_dir),
                                  capture_output=True, text=True, timeout=timeout)
            rc, out = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired:
            rc, out = None, "timed out"
        seconds = time.perf_counter() - started
        time.sleep(0.3)  # the last access lines reach the log
        ok = rc == 0 and case.expect in out
        m = Measurement(seconds, ok, detail="" if ok else
                        f"{' '.join(cmd)}: exit {rc}\n" + "\n".join(out.splitlines()[-15:]))
        children = os.times()
        m.cpu_tool = (children.children_user - children_at.children_user
                      + children.children_system - children_at.children_system)
        cpu = component_cpu(stack)
        m.cpu_components = {k: cpu[k] - cpu_at.get(k, 0.0) for k in cpu}
        if tool.mode == "shared":
            m.service_requests = count_service_requests(stack.service_log, log_at)
            m.s3_requests, m.s3_bytes_written = count_s3(stack.recording, rec_at)
        return m
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


# --- the floor ------------------------------------------------------------------------------

def floor_per_task(stack: Stack, rounds: int) -> dict[str, float]:
    """Seconds the components need for one task's unavoidable requests, made in sequence
    from warm clients: service - create the task, record its metadata, record its artifacts;
    S3 - read the input artifact, write the output artifact."""
    import boto3
    import urllib3

    headers = {"Content-Type": "application/json", "x-api-key": stack.api_key}
    http = urllib3.PoolManager(maxsize=2)
    base = f"{stack.service_url}/flows/FloorFlow"

    def post(path: str, body) -> dict:
        resp = http.request("POST", base + path, body=json.dumps(body).encode(),
                            headers=headers)
        assert resp.status < 300, (path, resp.status, resp.data[:200])
        return json.loads(resp.data) if resp.data else {}

    user = {"user_name": "bench", "tags": [], "system_tags": []}
    http.request("POST", base, body=json.dumps(user).encode(), headers=headers)
    run = post("/run", user)["run_number"]
    post(f"/runs/{run}/steps/work/step", user)
    s3 = boto3.session.Session().client("s3", endpoint_url=stack.s3_url,
                                        region_name="us-east-1")
    payload = os.urandom(64)
    s3.put_object(Bucket="headwater", Key="floor/input", Body=payload)

    def one_task(i: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        task = post(f"/runs/{run}/steps/work/task", user)["task_id"]
        path = f"/runs/{run}/steps/work/tasks/{task}"
        post(path + "/metadata", [{"field_name": "attempt", "value": "0", "type": "attempt",
                                   "user_name": "bench", "tags": ["attempt_id:0"]}])
        post(path + "/artifact", [{"name": "out", "location": "s3://headwater/floor/x",
                                   "ds_type": "s3", "sha": "0" * 40, "type": "metaflow.artifact",
                                   "content_type": "application/octet-stream",
                                   "user_name": "bench", "attempt_id": 0}])
        t1 = time.perf_counter()
        s3.get_object(Bucket="headwater", Key="floor/input")["Body"].read()
        s3.put_object(Bucket="headwater", Key=f"floor/out-{i}", Body=payload)
        return t1 - t0, time.perf_counter() - t1

    for i in range(3):
        one_task(-i - 1)  # warm connections
    samples = [one_task(i) for i in range(rounds)]
    service = statistics.median(s for s, _ in samples)
    s3_time = statistics.median(s for _, s in samples)
    return {"service": service, "s3": s3_time, "total": service + s3_time}


# --- set-up ---------------------------------------------------------------------------------

def free_port_triple() -> int:
    for base in range(23000, 60000, 7):
        free = True
        for port in (base, base + 1, base + 2):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    free = False
                    break
        if free:
            return base
    raise SystemExit("no three consecutive free ports")


def start_stack(workdir: Path) -> Stack:
    stack = Stack(workdir / "stack", workdir / "home", free_port_triple())
    env = clean_env()
    env.update({"METAFLOW_HOME": str(stack.home)})
    env.update(stack.aws_env())
    proc = subprocess.run([sys.executable, "-m", "headwater.cli", "dev", "up", "--cloud", "aws",
                           "--dir", str(stack.folder), "--port", str(stack.port)], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"headwater dev up failed:\n{proc.stdout}{proc.stderr}")
    print(proc.stdout.rstrip(), file=sys.stderr)
    return stack


def stop_stack(stack: Stack) -> None:
    subprocess.run([sys.executable, "-m", "headwater.cli", "dev", "down", "--dir",
                    str(stack.folder)], env=clean_env(), capture_output=True)


def metaflow_python(venv: Path) -> str:
    python = venv / "bin" / "python"
    probe = "import metaflow, boto3; v = metaflow.__version__; assert v.startswith('2.19.'), v"
    ready = python.exists() and subprocess.run([str(python), "-c", probe],
                                               capture_output=True).returncode == 0
    if not ready:
        print(f"installing {METAFLOW_SPEC} and boto3 into {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", METAFLOW_SPEC, "boto3>=1.34"], check=True)
    return str(python)


# --- report ---------------------------------------------------------------------------------

def per_task(result: Result | None, fixed: Result | None) -> float | None:
    """Wall time of one foreach task: (foreach time - 3-step time) / foreach tasks."""
    if result is None or not result.ok or not result.case.foreach or fixed is None \
            or not fixed.ok:
        return None
    return (result.seconds - fixed.seconds) / result.case.foreach


def report(results: dict[tuple[str, str], Result], floor: dict[str, float] | None) -> None:
    def get(case: str, label: str) -> Result | None:
        return results.get((case, label))

    hw, mf, local = "headwater (shared)", "metaflow (shared)", "headwater (local)"
    rows = [("case", "hw shared", "mf shared", "mf/hw", "hw local",
             "svc req/task hw", "svc req/task mf", "S3 req/task hw", "S3 req/task mf",
             "S3 bytes/task hw", "S3 bytes/task mf")]
    for case in CASES:
        h, m, loc = get(case.name, hw), get(case.name, mf), get(case.name, local)

        def fmt(r: Result | None) -> str:
            return "-" if r is None else (f"{r.seconds:.2f} s" if r.ok else "FAILED")

        def per(r: Result | None, attr: str) -> str:
            return "-" if r is None or not r.ok else f"{r.per_run(attr) / case.tasks:.1f}"

        ratio = m.seconds / h.seconds if h and m and h.ok and m.ok else None
        rows.append((case.name, fmt(h), fmt(m), f"{ratio:.1f}x" if ratio else "-", fmt(loc),
                     per(h, "service_requests"), per(m, "service_requests"),
                     per(h, "s3_requests"), per(m, "s3_requests"),
                     per(h, "s3_bytes_written").split(".")[0],
                     per(m, "s3_bytes_written").split(".")[0]))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    print()
    for n, row in enumerate(rows):
        print("  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                        for i, (v, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print()
    pt = {label: per_task(get("foreach-100", label), get("3-step", label))
          for label in (hw, mf, local)}
    for label, value in pt.items():
        if value is not None:
            print(f"per-task wall time, {label}: {value * 1000:.1f} ms")
    for label in (hw, mf, local):
        f, t = get("foreach-100", label), get("3-step", label)
        if f is None or t is None or not f.ok or not t.ok:
            continue
        n = f.case.foreach

        def cpu_delta(pick) -> float:
            return (statistics.median(pick(r) for r in f.runs)
                    - statistics.median(pick(r) for r in t.runs)) / n

        parts = {"tool": cpu_delta(lambda r: r.cpu_tool)}
        if label != local:
            for name in f.runs[0].cpu_components:
                parts[name] = cpu_delta(lambda r, name=name: r.cpu_components.get(name, 0.0))
        shown = ", ".join(f"{k} {v * 1000:.1f}" for k, v in parts.items())
        print(f"CPU per foreach task, {label}: {sum(parts.values()) * 1000:.1f} ms ({shown})")
    if floor:
        print(f"floor per task (sequential, warm clients): {floor['total'] * 1000:.1f} ms "
              f"(service 3 requests {floor['service'] * 1000:.1f} ms, "
              f"S3 2 requests {floor['s3'] * 1000:.1f} ms)")
        if pt[hw] is not None:
            print(f"headwater shared per-task / floor: {pt[hw] / floor['total']:.1f}x "
                  f"(goal <= 3x)")
    h, m = get("foreach-100", hw), get("foreach-100", mf)
    if h and m and h.ok and m.ok:
        print(f"foreach-100 shared: Metaflow / Headwater = {m.seconds / h.seconds:.1f}x "
              f"(goal >= 30x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per case and tool (median)")
    parser.add_argument("--skip-metaflow", action="store_true")
    parser.add_argument("--skip-local", action="store_true", help="no local-mode reference")
    parser.add_argument("--floor-rounds", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=2400, help="seconds per run")
    parser.add_argument("--venv", type=Path, default=BENCH / ".venvs" / "metaflow-2.19-shared")
    args = parser.parse_args(argv)

    tools = [Tool("headwater", sys.executable, "headwater", "shared")]
    if not args.skip_local:
        tools.append(Tool("headwater", sys.executable, "headwater", "local"))
    if not args.skip_metaflow:
        tools.append(Tool("metaflow", metaflow_python(args.venv), "metaflow", "shared"))
    workdir = Path(tempfile.mkdtemp(prefix="hw-shared-bench-"))
    stack = start_stack(workdir)
    results: dict[tuple[str, str], Result] = {}
    failed = False
    try:
        os.environ.update(stack.aws_env())  # the floor's boto3 client reaches moto
        floor = floor_per_task(stack, args.floor_rounds)
        for case in CASES:
            for tool in tools:
                result = results[(case.name, tool.label)] = Result(case, tool)
                for _ in range(args.repeat):
                    m = measure(tool, case, stack, workdir, args.timeout)
                    result.runs.append(m)
                    print(f"{case.name:<12} {tool.label:<20} {m.seconds:7.2f} s"
                          f"{'' if m.ok else '  FAILED'}", file=sys.stderr)
                    if not m.ok:
                        print(m.detail, file=sys.stderr)
                        failed = True
                        break
        report(results, floor)
    finally:
        stop_stack(stack)
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
