"""Runtime benchmark: Headwater against Metaflow 2.19 in local mode, side by side in one run.

    python bench/runtime_bench.py                          # every case, both tools
    python bench/runtime_bench.py --only 3-step,foreach-100 --repeat 3
    python bench/runtime_bench.py --skip-metaflow          # Headwater alone

Each case runs the same flow file under ``bench/flows/`` for both tools, with only its import
line changed (``from headwater import`` / ``from metaflow import``); the variants are
generated into the work directory. Every run is ``python flow.py run --max-workers W
--max-num-splits 1000`` in a fresh directory with its own datastore, metadata and home, so no
run profits from an earlier one (the 400 MB array is never deduplicated across runs). Wall
time is measured around the whole command; memory is the peak, over the run, of the RSS
summed over the whole process tree, sampled from /proc every ``--sample-ms`` ms. RSS counts a
page shared by several processes (forked workers) once per process, so for the array case the
PSS (proportional set size: shared pages divided among their sharers) is sampled as well.

Metaflow is installed on first use into its own venv (``bench/.venvs/metaflow-2.19``, with
numpy); Headwater is the interpreter running this script. Not a test: numbers depend on the
machine, so the targets of issue 2 are printed as ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
FLOWS = BENCH / "flows"
METAFLOW_SPEC = "metaflow>=2.19,<2.20"
IMPORT_MARKER = "# bench: tool import"
MB = 2 ** 20


@dataclass
class Case:
    """One benchmark: a flow template, its arguments and the line that proves it worked."""

    name: str
    template: str
    args: list[str]
    expect: str  # printed by the flow's end step
    tasks: int = 0  # foreach tasks, for the per-task cost
    array_mb: int = 0
    headwater_only: bool = False  # Metaflow would need about half an hour


def make_cases(array_mb: int) -> list[Case]:
    return [
        Case("3-step", "three_step_flow.py", [], "RESULT value=2"),
        Case("foreach-100", "foreach_flow.py", ["--n", "100"],
             f"RESULT total={2 * sum(range(100))}", tasks=100),
        Case("foreach-1000", "foreach_flow.py", ["--n", "1000"],
             f"RESULT total={2 * sum(range(1000))}", tasks=1000),
        Case(f"array-{array_mb}MB", "big_array_flow.py", ["--mb", str(array_mb)],
             "RESULT intact=True", array_mb=array_mb),
        Case("foreach-10000", "foreach_flow.py", ["--n", "10000"],
             f"RESULT total={2 * sum(range(10000))}", tasks=10000, headwater_only=True),
    ]


@dataclass
class Tool:
    """A runtime under test: the interpreter that has it and the import it is used by."""

    name: str
    python: str
    module: str

    def flow_file(self, template: str, workdir: Path) -> Path:
        """The template with its marked import line rewritten for this tool."""
        lines = (FLOWS / template).read_text().splitlines(keepends=True)
        marked = [i for i, line in enumerate(lines) if IMPORT_MARKER in line]
        if len(marked) != 1 or not lines[marked[0]].startswith("from headwater import "):
            raise SystemExit(f"{FLOWS / template}: needs exactly one line "
                             f"'from headwater import ...  {IMPORT_MARKER}'")
        at = marked[0]
        lines[at] = lines[at].replace("from headwater import", f"from {self.module} import", 1)
        out = workdir / "flows" / self.name / template
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(lines))
        return out

    def environment(self, run_dir: Path) -> dict[str, str]:
        """A clean environment: local datastore and metadata under ``run_dir`` only."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("METAFLOW_", "HEADWATER_"))}
        env.update({
            "METAFLOW_DEFAULT_DATASTORE": "local",
            "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(run_dir / "sysroot"),
            "METAFLOW_HOME": str(run_dir / "home"),
            "METAFLOW_USER": "bench",
            "PYTHONDONTWRITEBYTECODE": "1",  # the generated flow files stay as they are
        })
        return env


@dataclass
class Measurement:
    seconds: float
    peak_rss: int  # bytes, summed over the process tree
    peak_pss: int
    ok: bool
    detail: str = ""
    peak_root: int = 0  # bytes: the command's own process (the scheduler) alone


@dataclass
class Result:
    case: Case
    tool: str
    runs: list[Measurement] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.ok for r in self.runs)

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_rss(self) -> int:
        return max(r.peak_rss for r in self.runs)

    @property
    def peak_pss(self) -> int:
        return max(r.peak_pss for r in self.runs)

    @property
    def peak_root(self) -> int:
        return max(r.peak_root for r in self.runs)


# --- measuring ------------------------------------------------------------------------------

def _parent(pid: int) -> int | None:
    """The parent pid of ``pid``; ``None`` if it has exited."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    return int(stat[stat.rindex(b")") + 2:].split()[1])


PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss(pid: int) -> int:
    """Resident set size of one process in bytes (0 if it has exited); cheap to read."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _pss(pid: int) -> int:
    """Proportional set size in bytes (shared pages divided among their sharers); 0 if the
    process has exited. The kernel walks the page tables for it, so it costs ~0.5 ms."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Samples the summed RSS (and optionally PSS) of a process tree until stopped; keeps
    the peaks.

    Sampling shares the 2 cores with the tools, so it is kept cheap: each pid's parent is
    read once, when the pid first appears, instead of rescanning every process each time
    (a full scan costs ~6 ms, which at 10 ms intervals would steal a third of a core), and
    PSS, which costs ~0.5 ms per process, only when asked for. A process stays a member
    once it joined, even if its parent exits and it is reparented.
    """

    def __init__(self, pid: int, interval: float, pss: bool = False):
        super().__init__(daemon=True)
        self.pid, self.interval, self.pss = pid, interval, pss
        self.peak_rss = self.peak_pss = self.peak_root = 0
        self.members = {pid}
        self._parents: dict[int, int | None] = {}
        self._stop_event = threading.Event()

    def _refresh(self) -> None:
        pids = {int(name) for name in os.listdir("/proc") if name.isdigit()}
        for gone in self._parents.keys() - pids:  # exited; the pid may be reused later
            del self._parents[gone]
            self.members.discard(gone)
        new = pids - self._parents.keys()
        for pid in new:
            self._parents[pid] = _parent(pid)
        grew = True
        while grew:  # a new process's parent may itself be new
            grew = False
            for pid in new - self.members:
                if self._parents[pid] in self.members:
                    self.members.add(pid)
                    grew = True

    def run(self) -> None:
        while not self._stop_event.is_set():
            self._refresh()
            members = list(self.members)
            rss = sum(_rss(pid) for pid in members)
            pss = sum(_pss(pid) for pid in members) if self.pss else 0
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.peak_root = max(self.peak_root, _rss(self.pid))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def measure(tool: Tool, case: Case, flow_file: Path, run_args: list[str], workdir: Path,
            sample_s: float, timeout: float) -> Measurement:
    """Run the case once with the tool in a fresh directory, timing it and sampling memory."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"{tool.name}-{case.name}-", dir=workdir))
    try:
        cmd = [tool.python, str(flow_file), "run", *run_args, *case.args]
        out_path, err_path = run_dir / "stdout", run_dir / "stderr"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=run_dir, env=tool.environment(run_dir),
                                    stdout=out, stderr=err, start_new_session=True)
            # PSS only where memory is the point: a foreach has many processes to walk
            sampler = TreeSampler(proc.pid, sample_s, pss=bool(case.array_mb))
            sampler.start()
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)  # its own session: the tool's workers go too
                proc.wait()
                rc = None
            seconds = time.perf_counter() - started
            sampler.stop()
        stdout = out_path.read_text(errors="replace")
        stderr = err_path.read_text(errors="replace")
        ok = rc == 0 and case.expect in stdout
        detail = ""
        if not ok:
            reason = "timed out" if rc is None else f"exit code {rc}"
            if rc == 0:
                reason = f"no {case.expect!r} in its output"
            tail = "\n".join((stdout + stderr).strip().splitlines()[-15:])
            detail = f"{' '.join(cmd)}: {reason}\n{tail}"
        return Measurement(seconds, sampler.peak_rss, sampler.peak_pss, ok, detail,
                           sampler.peak_root)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


# --- the tools ------------------------------------------------------------------------------

def headwater_tool() -> Tool:
    check = subprocess.run([sys.executable, "-c", "import headwater, numpy"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit("headwater and numpy must be importable by this interpreter: "
                         "pip install -e '.[dev]'\n" + check.stderr)
    return Tool("headwater", sys.executable, "headwater")


def metaflow_tool(venv: Path) -> Tool:
    """Metaflow 2.19 in its own venv, created (with numpy) on first use."""
    python = venv / "bin" / "python"
    probe = ("import metaflow, numpy; v = metaflow.__version__; "
             "assert v.startswith('2.19.'), v; print(v)")
    ready = python.exists() and subprocess.run([str(python), "-c", probe],
                                               capture_output=True).returncode == 0
    if not ready:
        print(f"installing {METAFLOW_SPEC} and numpy into {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", METAFLOW_SPEC, "numpy"], check=True)
    version = subprocess.run([str(python), "-c", probe], capture_output=True, text=True,
                             check=True).stdout.strip()
    print(f"metaflow {version} from {venv}", file=sys.stderr)
    return Tool("metaflow", str(python), "metaflow")


# --- report ---------------------------------------------------------------------------------

def _fmt_s(result: Result | None) -> str:
    if result is None:
        return "-"
    return f"{result.seconds:.2f} s" if result.ok else "FAILED"


def _fmt_mb(result: Result | None, kind: str) -> str:
    value = getattr(result, f"peak_{kind}") if result is not None and result.ok else 0
    return f"{value / MB:.0f} MB" if value else "-"  # 0: not measured


def per_task(result: Result | None, fixed: Result | None) -> float | None:
    """Cost of one foreach task: (time - time of the 3-step flow) / tasks."""
    if result is None or not result.ok or not result.case.tasks:
        return None
    base = fixed.seconds if fixed is not None and fixed.ok else 0.0
    return (result.seconds - base) / result.case.tasks


def report(cases: list[Case], results: dict[tuple[str, str], Result], settings: str) -> list[str]:
    """Print the table and the targets; return the targets that were missed."""
    hw = {c.name: results.get((c.name, "headwater")) for c in cases}
    mf = {c.name: results.get((c.name, "metaflow")) for c in cases}
    ratios: dict[str, float | None] = {}
    rows = [("case", "headwater", "metaflow", "ratio", "per-task hw", "per-task mf",
             "peak RSS hw", "peak RSS mf", "peak PSS hw", "peak PSS mf")]
    for c in cases:
        h, m = hw[c.name], mf[c.name]
        ratio = m.seconds / h.seconds if h and m and h.ok and m.ok else None
        ratios[c.name] = ratio
        pt_h, pt_m = per_task(h, hw.get("3-step")), per_task(m, mf.get("3-step"))
        rows.append((c.name, _fmt_s(h), _fmt_s(m), f"{ratio:.1f}x" if ratio else "-",
                     f"{pt_h * 1000:.1f} ms" if pt_h is not None else "",
                     f"{pt_m * 1000:.1f} ms" if pt_m is not None else "",
                     _fmt_mb(h, "rss"), _fmt_mb(m, "rss"), _fmt_mb(h, "pss"),
                     _fmt_mb(m, "pss")))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    print()
    print(settings)
    for n, row in enumerate(rows):
        print("  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                        for i, (v, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))

    targets: list[tuple[str, bool | None, str]] = []

    def target(label: str, value: float | None, ok: bool | None, shown: str) -> None:
        targets.append((label, None if value is None else ok, shown))

    for name, goal in (("3-step", 5), ("foreach-100", 10)):
        r = ratios.get(name)
        target(f"{name}: >= {goal}x faster than Metaflow", r, r is not None and r >= goal,
               f"{r:.1f}x" if r else "not measured")
    array = next((c for c in cases if c.array_mb), None)
    if array:
        r = ratios.get(array.name)
        target(f"{array.name}: >= 10x faster than Metaflow", r, r is not None and r >= 10,
               f"{r:.1f}x" if r else "not measured")
    pts = {c.tasks: per_task(hw[c.name], hw.get("3-step")) for c in cases if c.tasks}
    for n, pt in sorted(pts.items()):
        goal = 0.010 if n >= 10000 else 0.020
        target(f"foreach-{n}: per-task cost <= {goal * 1000:.0f} ms", pt,
               pt is not None and pt <= goal,
               f"{pt * 1000:.1f} ms" if pt is not None else "not measured")
    if pts.get(100) is not None and pts.get(1000) is not None:
        growth = pts[1000] / pts[100] if pts[100] > 0 else float("inf")
        target("linear to 1000 tasks: per-task(1000) <= 1.5 x per-task(100)", growth,
               growth <= 1.5, f"{growth:.2f} x")
    if array and hw.get(array.name) and hw[array.name].ok:
        limit = 1.5 * array.array_mb * MB
        for kind in ("rss", "pss"):
            peak = getattr(hw[array.name], f"peak_{kind}")
            target(f"{array.name}: peak {kind.upper()} <= 1.5 x the array "
                   f"({limit / MB:.0f} MB)", peak, peak <= limit, f"{peak / MB:.0f} MB")
    roots = [(c.name, hw[c.name].peak_root) for c in cases if hw[c.name] and hw[c.name].ok]
    if roots:
        print("\nHeadwater scheduler process alone, peak RSS: "
              + ", ".join(f"{name} {peak / MB:.0f} MB" for name, peak in roots))
    small, big = hw.get("foreach-1000"), hw.get("foreach-10000")
    if small and big and small.ok and big.ok:
        # What the scheduler keeps per task (its records) is what may grow with the count.
        per = (big.peak_root - small.peak_root) / (big.case.tasks - small.case.tasks)
        target("foreach-10000: scheduler memory per extra task <= 5 KB (its records only)",
               per, per <= 5 * 1024, f"{per / 1024:.1f} KB")
    print("\ntargets (Headwater, ratios from this run):")
    missed = []
    for label, ok, shown in targets:
        mark = "n/a " if ok is None else "PASS" if ok else "MISS"
        print(f"  [{mark}] {label}: {shown}")
        if ok is False:
            missed.append(label)
    return missed


# --- main -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated cases: 3-step, foreach-100, "
                                       "foreach-1000, array-<MB>MB, foreach-10000 "
                                       "(default: all)")
    parser.add_argument("--skip-metaflow", action="store_true", help="run Headwater only")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per case and tool; the median time is shown (default 1)")
    parser.add_argument("--max-workers", type=int, default=16,
                        help="--max-workers passed to both tools (default 16)")
    parser.add_argument("--array-mb", type=int, default=400, help="size of the array (400)")
    parser.add_argument("--sample-ms", type=float, default=10.0,
                        help="memory sampling interval in ms (default 10)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--no-warmup", action="store_true",
                        help="skip the untimed 3-step run of each tool")
    parser.add_argument("--venv", type=Path, default=BENCH / ".venvs" / "metaflow-2.19")
    parser.add_argument("--workdir", type=Path, default=BENCH / ".work",
                        help="scratch space for flows and datastores (on disk, not tmpfs)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    cases = make_cases(args.array_mb)
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        unknown = sorted(set(wanted) - {c.name for c in cases})
        if unknown:
            parser.error(f"unknown case {unknown[0]!r}; known: "
                         f"{', '.join(c.name for c in cases)}")
        cases = [c for c in cases if c.name in wanted]
    if args.repeat < 1 or args.max_workers < 1 or args.array_mb < 1:
        parser.error("--repeat, --max-workers and --array-mb must be at least 1")

    tools = [headwater_tool()]
    if not args.skip_metaflow:
        tools.append(metaflow_tool(args.venv))
    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="runtime-bench-", dir=args.workdir))
    splits = max([1000] + [c.tasks for c in cases])
    run_args = ["--max-workers", str(args.max_workers), "--max-num-splits", str(splits)]
    sample_s = args.sample_ms / 1000
    results: dict[tuple[str, str], Result] = {}
    failures: list[str] = []
    try:
        files = {(t.name, c.template): t.flow_file(c.template, workdir) for t in tools
                 for c in make_cases(args.array_mb)}
        if not args.no_warmup:  # first runs pay for cold caches; time neither tool's
            warm = make_cases(args.array_mb)[0]
            for tool in tools:
                m = measure(tool, warm, files[(tool.name, warm.template)], run_args, workdir,
                            sample_s, args.timeout)
                if not m.ok:
                    failures.append(f"{tool.name} warm-up failed: {m.detail}")
        for case in cases:
            for n in range(args.repeat):
                for tool in tools:  # interleaved, so both see the same machine noise
                    if case.headwater_only and tool.name != "headwater":
                        continue
                    m = measure(tool, case, files[(tool.name, case.template)], run_args,
                                workdir, sample_s, args.timeout)
                    results.setdefault((case.name, tool.name), Result(case, tool.name)
                                       ).runs.append(m)
                    status = f"{m.seconds:7.2f} s  peak RSS {m.peak_rss / MB:6.0f} MB" \
                        if m.ok else "FAILED"
                    print(f"{case.name:>14} {tool.name:>9} run {n + 1}: {status}",
                          file=sys.stderr, flush=True)
                    if not m.ok:
                        failures.append(f"{tool.name} {case.name}: {m.detail}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    settings = (f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}; both tools: run "
                f"{' '.join(run_args)}; median of {args.repeat} run(s); per-task = (time - "
                f"3-step time) / tasks; memory = peak summed over the process tree")
    missed = report(cases, results, settings)
    for failure in failures:
        print(f"\n{failure}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps([
            {"case": r.case.name, "tool": r.tool, "ok": r.ok,
             "seconds": [m.seconds for m in r.runs],
             "peak_rss_mb": [m.peak_rss / MB for m in r.runs],
             "peak_pss_mb": [m.peak_pss / MB for m in r.runs],
             "peak_scheduler_rss_mb": [m.peak_root / MB for m in r.runs]}
            for r in results.values()], indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
