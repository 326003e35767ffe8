"""Runner benchmark: what starting a run from Python costs over the run itself, Headwater's
``Runner`` against Metaflow 2.19's ``Runner``, side by side in one run.

    python bench/runner_bench.py --repeat 5
    python bench/runner_bench.py --skip-metaflow

For each tool, the 3-step flow (``bench/flows/three_step_flow.py``) is run ``--repeat`` times
as ``python flow.py run`` (the CLI, the floor) and as ``with Runner(flow).run() as r:
r.run.data.value`` (starting the run from Python and reading its result back), each in a fresh
directory with its own datastore and home. The Runner's *overhead* is the median Runner time
minus the median CLI time; the import of ``Runner`` (not counted: Metaflow's loads its whole
package, Headwater's only the runner) is shown beside it. Not a test: numbers depend on the
machine; the ratio is printed.
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
    import sys, time
    imported = time.perf_counter()
    from {module} import Runner
    started = time.perf_counter()
    with Runner(sys.argv[1]).run() as running:
        assert running.run.data.value == 2, running.stderr
    print(started - imported, time.perf_counter() - started)
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
    started = time.perf_counter()
    subprocess.run([tool.python, str(flow), "run"], cwd=workdir, env=isolated_env(workdir),
                   check=True, capture_output=True)
    return time.perf_counter() - started


def time_runner(tool: Tool, flow: Path, workdir: Path) -> tuple[float, float]:
    """Import time of ``Runner`` and wall time of the Runner call (import not counted)
    inside its interpreter."""
    driver = workdir / "driver.py"
    driver.write_text(DRIVER.format(module=tool.module))
    out = subprocess.run([tool.python, str(driver), str(flow)], cwd=workdir,
                         env=isolated_env(workdir), check=True, capture_output=True, text=True)
    imported, ran = out.stdout.strip().splitlines()[-1].split()
    return float(imported), float(ran)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-metaflow", action="store_true")
    parser.add_argument("--venv", type=Path, default=BENCH / ".venvs" / "metaflow-2.19")
    args = parser.parse_args()
    tools = [headwater_tool()] + ([] if args.skip_metaflow else [metaflow_tool(args.venv)])
    rows = []
    for tool in tools:
        cli, runner, imports = [], [], []
        with tempfile.TemporaryDirectory() as tmp:  # untimed: compiles the bytecode once
            work = Path(tmp)
            time_runner(tool, tool.flow_file("three_step_flow.py", work), work)
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                flow = tool.flow_file("three_step_flow.py", work)
                cli.append(time_cli(tool, flow, work))
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                flow = tool.flow_file("three_step_flow.py", work)
                imported, ran = time_runner(tool, flow, work)
                imports.append(imported)
                runner.append(ran)
        c, r = statistics.median(cli), statistics.median(runner)
        rows.append((tool.name, c, r, r - c, statistics.median(imports)))
    print(f"{'tool':<10} {'CLI run':>9} {'Runner':>9} {'overhead':>9} {'import':>9}")
    for name, c, r, o, i in rows:
        print(f"{name:<10} {c:>8.3f}s {r:>8.3f}s {o:>8.3f}s {i:>8.3f}s")
    if len(rows) == 2:
        hw, mf = rows[0][3], rows[1][3]
        print(f"Runner overhead: Metaflow / Headwater = {mf / max(hw, 1e-3):.1f}x "
              f"(goal >= 5x)")


if __name__ == "__main__":
    main()
