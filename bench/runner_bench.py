"""Runner benchmark: what starting a run from Python costs over the run itself, Headwater's
``Runner`` against Metaflow 2.19's ``Runner``, side by side in one run.

    python bench/runner_bench.py --repeat 5
    python bench/runner_bench.py --skip-metaflow

For each tool, the 3-step flow (``bench/flows/three_step_flow.py``) is run ``--repeat`` times
as ``python flow.py run`` (the CLI, the floor) and as ``with Runner(flow).run() as r:
r.run.data.value`` (starting the run from Python and reading its result back), each in a fresh
directory with its own datastore and home. The Runner's *overhead* is the median Runner time
minus the median CLI time; ``+/-`` is the spread of those times (their standard deviations
added): an overhead below it is not told apart from noise, and no ratio is printed. The
import of ``Runner`` is shown beside it, not counted (Metaflow's loads its whole package,
Headwater's only the runner). Not a test: numbers depend on the machine. On a shared
machine, ``nice -n -15`` (as root) keeps other work from swamping the runs.
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
    with open(workdir / "cli.out", "wb") as out, open(workdir / "cli.err", "wb") as err:
        started = time.perf_counter()  # output to files, as a Runner's child writes it
        subprocess.run([tool.python, str(flow), "run"], cwd=workdir, env=isolated_env(workdir),
                       check=True, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        return time.perf_counter() - started


def time_runner(tool: Tool, flow: Path, workdir: Path) -> tuple[float, float]:
    """Import time of ``Runner``, and wall time of the Runner call inside its interpreter
    (the import not counted)."""
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
        for _ in range(args.repeat):  # alternated, so a burst of load hits both alike
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                cli.append(time_cli(tool, tool.flow_file("three_step_flow.py", work), work))
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                imported, ran = time_runner(tool, tool.flow_file("three_step_flow.py", work),
                                            work)
                imports.append(imported)
                runner.append(ran)
        c, r = statistics.median(cli), statistics.median(runner)
        spread = statistics.pstdev(cli) + statistics.pstdev(runner)
        rows.append((tool.name, c, r, r - c, spread, statistics.median(imports)))
    print(f"{'tool':<10} {'CLI run':>9} {'Runner':>9} {'overhead':>9} {'+/-':>8} {'import':>9}")
    for name, c, r, o, spread, i in rows:
        print(f"{name:<10} {c:>8.3f}s {r:>8.3f}s {o:>8.3f}s {spread:>7.3f}s {i:>8.3f}s")
    if len(rows) == 2:
        hw, mf = rows[0], rows[1]
        if hw[3] <= hw[4] or mf[3] <= mf[4]:
            print("Runner overhead: within the noise of the runs here (+/-: the spread of "
                  "the CLI and Runner times); no ratio")
        else:
            print(f"Runner overhead: Metaflow / Headwater = {mf[3] / hw[3]:.1f}x (goal >= 5x)")


if __name__ == "__main__":
    main()
