"""Where Headwater's ``Runner`` spends its own time: each step of ``Runner(flow).run()`` timed
inside the calling process, with and without preparing the Client while the child runs.

    python bench/runner_steps_bench.py --repeat 8

Steps: ``init`` (``Runner(...)``), ``start`` (the child process started), ``read`` (from the
child's exit to ``running.run.data.value``), and ``own`` (their sum: what the Runner adds to
the child's lifetime, which is the run itself). The whole-run comparison with Metaflow is
``runner_bench.py``; on a busy machine its noise is larger than these steps, which is why they
are timed here one by one. Not a test.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runner_bench import isolated_env  # noqa: E402
from runtime_bench import headwater_tool  # noqa: E402

STEPS = textwrap.dedent('''
    import json, sys, time
    from headwater import Runner, runner
    if sys.argv[2] == "cold":
        runner._warm_client = lambda: None  # the Client loads only when read
    t0 = time.perf_counter()
    r = Runner(sys.argv[1])
    t1 = time.perf_counter()
    running = r._start_run({})
    t2 = time.perf_counter()
    running.process.wait() if sys.argv[2] == "cold" else running.wait()
    t3 = time.perf_counter()
    assert running.run.data.value == 2, running.stderr
    t4 = time.perf_counter()
    print(json.dumps({"init": t1 - t0, "start": t2 - t1, "read": t4 - t3,
                      "own": (t1 - t0) + (t2 - t1) + (t4 - t3)}))
''')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=8)
    args = parser.parse_args()
    tool = headwater_tool()
    results: dict[str, list[dict[str, float]]] = {"warm": [], "cold": []}
    for i in range(args.repeat + 1):  # the first compiles the bytecode: not counted
        for mode in results:
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                flow = tool.flow_file("three_step_flow.py", work)
                (work / "steps.py").write_text(STEPS)
                out = subprocess.run([tool.python, str(work / "steps.py"), str(flow), mode],
                                     cwd=work, env=isolated_env(work), check=True,
                                     capture_output=True, text=True)
                if i:
                    results[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'Client':<22} {'init':>8} {'start':>8} {'read':>8} {'own':>8}   (medians, ms)")
    for mode, label in (("warm", "prepared during run"), ("cold", "loaded when read")):
        med = {k: statistics.median(r[k] for r in results[mode]) * 1000 for k in results[mode][0]}
        print(f"{label:<22} {med['init']:>8.1f} {med['start']:>8.1f} {med['read']:>8.1f} "
              f"{med['own']:>8.1f}")
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
