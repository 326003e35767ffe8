"""Runner benchmark: what starting a run from Python costs over the run itself, Headwater's
``Runner`` against Metaflow 2.19's ``Runner``, side by side in one run.

    python bench/runner_bench.py --repeat 5
    python bench/runner_bench.py --skip-metaflow

For each tool, the 3-step flow (``bench/flows/three_step_flow.py``) is run ``--repeat`` times
as ``python flow.py run`` (the CLI, the floor) and as ``with Runner(flow).run() as r:
r.run.data.value`` (starting the run from Python and reading its result back), each in a fresh
directory with its own datastore and home. The Runner's overhead is shown two ways: the
median Runner time minus the median CLI time (``R - CLI``: what a user sees, but on a loaded
machine the noise in the run itself is larger than the overhead), and the Runner's *own
work*. For that a ``sitecustomize`` probe in each child interpreter reports when its Python
code began and ended; the time outside that window (the Runner's own steps, the process
start, the interpreter's start-up and exit) is taken for the Runner's call and for the
plain CLI run, and own work is the difference of their minimums (load only ever adds to
a gap, so the least is the cleanest view, as ``timeit`` reasons): what the Runner adds
around ``python flow.py run``, with the run itself and the interpreter's start and exit
(the same for both) taken out. The import of ``Runner`` (not counted: Metaflow's loads its
whole package, Headwater's only the runner) is shown beside it. Not a test: numbers depend
on the machine; the ratio is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime_bench import BENCH, Tool, headwater_tool, metaflow_tool  # noqa: E402

DRIVER = textwrap.dedent('''
    import os, sys, time
    imported = time.perf_counter()
    from {module} import Runner
    os.environ["BENCH_DRIVER_PID"] = str(os.getpid())  # the probe reports this one's children
    started, begun = time.perf_counter(), time.monotonic()
    with Runner(sys.argv[1]).run() as running:
        assert running.run.data.value == 2, running.stderr
    print(started - imported, time.perf_counter() - started, begun, time.monotonic())
''')

# Imported by every interpreter the driver's environment starts: each direct child of the
# Runner's process writes when it began and ended, so the Runner's own work (before, around
# and after that process) is measured apart from the flow's run, which load swamps.
PROBE = textwrap.dedent('''
    import atexit, os, time
    if os.environ.get("BENCH_DRIVER_PID") == str(os.getppid()):
        _began = time.monotonic()

        def _ended():
            with open(os.environ["BENCH_CHILD_TIMES"], "a") as f:
                f.write(f"{_began} {time.monotonic()}\\n")

        atexit.register(_ended)
''')


# Below this an own-work figure is not told apart from the noise of process start-up.
RESOLUTION = 0.01


def isolated_env(workdir: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE would make every import compile its module again: an
    # installed package has its bytecode, so the timed runs use it too
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "HEADWATER_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(METAFLOW_HOME=str(workdir / "home"), USERNAME="bench", METAFLOW_USER="bench",
               HOME=str(workdir))
    return env


def _probed(workdir: Path, driver_pid: int) -> dict[str, str]:
    """The environment with the probe first on PYTHONPATH, reporting ``driver_pid``'s
    children."""
    probe = workdir / "probe"
    probe.mkdir(exist_ok=True)
    (probe / "sitecustomize.py").write_text(PROBE)
    env = isolated_env(workdir)
    env["PYTHONPATH"] = os.pathsep.join([str(probe)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["BENCH_CHILD_TIMES"] = str(workdir / "child-times")
    env["BENCH_DRIVER_PID"] = str(driver_pid)
    return env


def _child_lifetimes(workdir: Path) -> float | None:
    times = workdir / "child-times"
    if not times.exists():
        return None
    lives = [list(map(float, line.split())) for line in times.read_text().splitlines()]
    times.unlink()
    return sum(end - start for start, end in lives)


def time_cli(tool: Tool, flow: Path, workdir: Path) -> tuple[float, float | None]:
    """Wall time of ``python flow.py run``, and of that the part outside the probe's view
    of the process (the interpreter's start and exit)."""
    env = _probed(workdir, os.getpid())
    started = time.monotonic()
    subprocess.run([tool.python, str(flow), "run"], cwd=workdir, env=env, check=True,
                   capture_output=True)
    took = time.monotonic() - started
    lived = _child_lifetimes(workdir)
    return took, None if lived is None else took - lived


def time_runner(tool: Tool, flow: Path, workdir: Path) -> tuple[float, float, float | None]:
    """Import time of ``Runner``, wall time of the Runner call (import not counted) inside
    its interpreter, and of that the part outside the probe's view of the children the
    Runner started."""
    driver = workdir / "driver.py"
    driver.write_text(DRIVER.format(module=tool.module))
    env = _probed(workdir, 0)  # the driver names itself
    out = subprocess.run([tool.python, str(driver), str(flow)], cwd=workdir, env=env,
                         check=True, capture_output=True, text=True)
    imported, ran, begun, ended = map(float, out.stdout.strip().splitlines()[-1].split())
    lived = _child_lifetimes(workdir)
    return imported, ran, None if lived is None else (ended - begun) - lived


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-metaflow", action="store_true")
    parser.add_argument("--venv", type=Path, default=BENCH / ".venvs" / "metaflow-2.19")
    args = parser.parse_args()
    tools = [headwater_tool()] + ([] if args.skip_metaflow else [metaflow_tool(args.venv)])
    rows = []
    for tool in tools:
        cli, runner, imports, cli_gap, runner_gap = [], [], [], [], []
        with tempfile.TemporaryDirectory() as tmp:  # untimed: compiles the bytecode once
            work = Path(tmp)
            time_runner(tool, tool.flow_file("three_step_flow.py", work), work)
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                took, gap = time_cli(tool, tool.flow_file("three_step_flow.py", work), work)
                cli.append(took)
                cli_gap += [gap] if gap is not None else []
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                imported, ran, gap = time_runner(
                    tool, tool.flow_file("three_step_flow.py", work), work)
                imports.append(imported)
                runner.append(ran)
                runner_gap += [gap] if gap is not None else []
        c, r = statistics.median(cli), statistics.median(runner)
        # the least of each: load only ever adds to a gap (timeit's reasoning)
        own = min(runner_gap) - min(cli_gap) if cli_gap and runner_gap else None
        rows.append((tool.name, c, r, r - c, own, statistics.median(imports)))
    print(f"{'tool':<10} {'CLI run':>9} {'Runner':>9} {'R - CLI':>9} {'own work':>9} "
          f"{'import':>9}")
    for name, c, r, diff, own, i in rows:
        shown = f"{own:>8.3f}s" if own is not None else f"{'-':>9}"
        print(f"{name:<10} {c:>8.3f}s {r:>8.3f}s {diff:>8.3f}s {shown} {i:>8.3f}s")
    if len(rows) == 2 and rows[0][4] is not None and rows[1][4] is not None:
        hw, mf = rows[0][4], rows[1][4]
        if hw < RESOLUTION:
            print(f"Runner's own work: Headwater's is within {RESOLUTION * 1000:.0f} ms of "
                  f"nothing (measured {hw * 1000:.0f} ms), Metaflow's {mf * 1000:.0f} ms")
        else:
            print(f"Runner's own work: Metaflow / Headwater = {mf / hw:.1f}x (goal >= 5x)")


if __name__ == "__main__":
    main()
