"""Runner benchmark: what starting a run from Python costs over the run itself, Headwater's
``Runner`` against Metaflow 2.19's ``Runner``, side by side in one run.

    python bench/runner_bench.py --repeat 5
    python bench/runner_bench.py --skip-metaflow

For each tool, the 3-step flow (``bench/flows/three_step_flow.py``) is run ``--repeat`` times
as ``python flow.py run`` (the CLI) and as ``with Runner(flow).run() as r: r.run.data.value``
(starting the run from Python and reading its result back), each in a fresh directory with
its own datastore and home.

The Runner's *own cost* is measured inside each Runner call: the driver wraps
``subprocess.Popen`` (both Runners start the flow's ``run`` command through it) and watches
the child with a pidfd, so it knows when the child had started (``Popen`` returned) and when
it exited; the own cost is the call's wall time minus the child's lifetime (constructing the
``Runner``, starting the child, noticing its exit, reading the result back, cleaning up). It
is a difference within one run, so the noise of the runs themselves cancels out. The child
is the run itself: the same command as the CLI column, which is shown beside it. The import
of ``Runner`` is shown too, not counted (Metaflow's loads its whole package). Not a test:
numbers depend on the machine. On a shared machine, ``nice -n -15`` (as root) keeps other
work from swamping the runs.
"""

from __future__ import annotations

import argparse
import json
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
    import json, os, select, subprocess, sys, threading, time

    # the watcher takes the GIL back within microseconds of the child's exit, whatever
    # the main thread is doing (at the default 5 ms it could be late by up to that much,
    # which would count Runner work as the child's)
    sys.setswitchinterval(1e-6)
    children = []  # (started, exited, watcher) of each child the Runner starts

    class WatchedPopen(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # started once Popen returns (the child has exec'd): starting it is the Runner's
            times = [time.perf_counter(), None]
            fd = os.pidfd_open(self.pid)

            def watch():
                select.select([fd], [], [])
                times[1] = time.perf_counter()
                os.close(fd)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            children.append((times, watcher))

    subprocess.Popen = WatchedPopen
    imported = time.perf_counter()
    from {module} import Runner
    started = time.perf_counter()
    with Runner(sys.argv[1]).run() as running:
        assert running.run.data.value == 2, running.stderr
    ended = time.perf_counter()
    sys.setswitchinterval(0.005)
    (times, watcher), = children
    watcher.join()
    print(json.dumps({{"import": started - imported, "call": ended - started,
                      "child": times[1] - times[0]}}))
''')


def isolated_env(workdir: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE would make every import compile its module again: an
    # installed package has its bytecode, so the timed runs use it too
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "HEADWATER_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(METAFLOW_HOME=str(workdir / "home"), USERNAME="bench", METAFLOW_USER="bench",
               HOME=str(workdir))
    return env


def time_cli(tool: Tool, flow: Path, workdir: Path) -> float:
    with open(workdir / "cli.out", "wb") as out, open(workdir / "cli.err", "wb") as err:
        started = time.perf_counter()  # output to files, as a Runner's child writes it
        subprocess.run([tool.python, str(flow), "run"], cwd=workdir, env=isolated_env(workdir),
                       check=True, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        return time.perf_counter() - started


def time_runner(tool: Tool, flow: Path, workdir: Path) -> dict[str, float]:
    """Import time of ``Runner``, wall time of the Runner call inside its interpreter (the
    import not counted) and the lifetime of the child it started."""
    driver = workdir / "driver.py"
    driver.write_text(DRIVER.format(module=tool.module))
    out = subprocess.run([tool.python, str(driver), str(flow)], cwd=workdir,
                         env=isolated_env(workdir), check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-metaflow", action="store_true")
    parser.add_argument("--venv", type=Path, default=BENCH / ".venvs" / "metaflow-2.19")
    args = parser.parse_args()
    tools = [headwater_tool()] + ([] if args.skip_metaflow else [metaflow_tool(args.venv)])
    rows = []
    for tool in tools:
        cli: list[float] = []
        calls: list[dict[str, float]] = []
        with tempfile.TemporaryDirectory() as tmp:  # untimed: compiles the bytecode once
            work = Path(tmp)
            time_runner(tool, tool.flow_file("three_step_flow.py", work), work)
        for _ in range(args.repeat):  # alternated, so a burst of load hits both alike
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                cli.append(time_cli(tool, tool.flow_file("three_step_flow.py", work), work))
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                calls.append(time_runner(tool, tool.flow_file("three_step_flow.py", work), work))
        own = [c["call"] - c["child"] for c in calls]
        rows.append({"tool": tool.name, "cli": statistics.median(cli),
                     "call": statistics.median(c["call"] for c in calls),
                     "child": statistics.median(c["child"] for c in calls),
                     "own": statistics.median(own), "own_sd": statistics.pstdev(own),
                     "import": statistics.median(c["import"] for c in calls)})
    print(f"{'tool':<10} {'CLI run':>9} {'Runner':>9} {'child':>9} {'own cost':>9} "
          f"{'+/-':>8} {'import':>9}")
    for r in rows:
        print(f"{r['tool']:<10} {r['cli']:>8.3f}s {r['call']:>8.3f}s {r['child']:>8.3f}s "
              f"{r['own'] * 1000:>7.1f}ms {r['own_sd'] * 1000:>6.1f}ms {r['import']:>8.3f}s")
    if len(rows) == 2:
        hw, mf = rows
        print(f"Runner's own cost: Metaflow / Headwater = {mf['own'] / hw['own']:.1f}x "
              f"(goal >= 5x); whole Runner call {mf['call'] / hw['call']:.1f}x")


if __name__ == "__main__":
    main()
