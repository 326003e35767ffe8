"""Cards benchmark: default-card render time and size, and @track_resources' overhead.

    python bench/cards_bench.py                 # both parts, about a minute
    python bench/cards_bench.py --only render   # or: --only overhead
    python bench/cards_bench.py --repeat 5

Render: the default card of a task with hundreds of artifacts, and of a task holding a
large DataFrame and array, rendered exactly as ``@card`` does at the end of a task
(``render_card(DefaultCard(), TaskInfo, [])``), side by side with what a user would
otherwise write by hand: ``DataFrame.to_html()`` (of the first 20,000 rows: the whole
2-million-row frame takes many minutes) and ``repr`` of every artifact. Reported: median wall time and page size, and the ratios.

Overhead: a CPU-bound workload (pure Python and numpy) timed with and without the
``@track_resources`` sampler running (interval 1 s and 0.1 s), interleaved; plus the cost of
one sample measured directly (which, divided by the interval, is the overhead with no
scheduling noise). Target (issue 13): under 2% at the default interval.
Not a test: numbers depend on the machine, so both sides run in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

MB = 2 ** 20
HAND_ROWS = 20_000


def _median_time(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _task(artifacts: dict):
    from headwater.cards.task_info import TaskInfo

    graph = [{"name": "start", "type": "linear", "next": ["train"]},
             {"name": "train", "type": "linear", "next": ["end"]},
             {"name": "end", "type": "end", "next": []}]
    return TaskInfo("BenchFlow", "1", "train", "2", 0, "bench", [], time.time() - 5,
                    time.time(), True, None, {"alpha": 0.1}, artifacts, graph,
                    "line\n" * 200)


def many_artifacts() -> dict:
    import numpy as np

    values: dict = {}
    for i in range(100):
        values[f"scalar_{i:03d}"] = i * 1.5
    for i in range(100):
        values[f"dict_{i:03d}"] = {f"k{j}": list(range(20)) for j in range(50)}
    for i in range(50):
        values[f"list_{i:03d}"] = list(range(1000))
    for i in range(50):
        values[f"array_{i:03d}"] = np.random.default_rng(i).random((1000, 100))
    return values


def large_frame() -> dict:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((2_000_000, 20)), columns=[f"f{i}" for i in range(20)])
    return {"frame": frame, "array": rng.random(10_000_000), "label": "big"}


def bench_render(repeat: int) -> None:
    from headwater.cards.default_card import DefaultCard
    from headwater.cards.renderer import render_card

    print("Default card render (median of", repeat, "runs)")
    print(f"{'case':<30}{'headwater card':>16}{'size':>10}{'by hand':>12}{'size':>12}"
          f"{'time ratio':>12}")
    for name, make, by_hand_label in (
            ("300 artifacts", many_artifacts, "repr of every artifact"),
            ("2M x 20 DataFrame + 10M array", large_frame,
             f"to_html() of the first {HAND_ROWS:,} rows only")):
        artifacts = make()
        task = _task(artifacts)
        card_time, page = _median_time(lambda: render_card(DefaultCard(), task, []), repeat)
        if "frame" in artifacts:
            frame = artifacts["frame"]
            # The whole frame would take many minutes: time 1% of it and say so.
            hand_time, hand = _median_time(lambda: frame.head(HAND_ROWS).to_html(), 1)
        else:
            hand_time, hand = _median_time(
                lambda: "".join(repr(v) for v in artifacts.values()), repeat)
        print(f"{name:<30}{card_time * 1000:>13.0f} ms{len(page) / 1024:>7.0f} KiB"
              f"{hand_time * 1000:>9.0f} ms{len(hand) / MB:>9.1f} MiB"
              f"{hand_time / card_time:>11.1f}x  ({by_hand_label})")


def _workload() -> float:
    import numpy as np

    total = 0
    for i in range(3_000_000):
        total += i % 7
    a = np.random.default_rng(1).random((600, 600))
    for _ in range(6):
        a = a @ a
        a /= a.max()
    return total + float(a.sum())


def bench_overhead(repeat: int) -> None:
    from headwater.cards.resource_sampler import ResourceSampler

    def timed(interval: float | None) -> float:
        sampler = ResourceSampler(interval).start() if interval else None
        started = time.perf_counter()
        _workload()
        elapsed = time.perf_counter() - started
        if sampler is not None:
            sampler.stop()
        return elapsed

    timed(None)  # warm-up
    runs: dict[str, list[float]] = {"off": [], "1 s": [], "0.1 s": []}
    for _ in range(repeat):  # interleaved: every variant sees the same machine noise
        runs["off"].append(timed(None))
        runs["1 s"].append(timed(1.0))
        runs["0.1 s"].append(timed(0.1))
    base = statistics.median(runs["off"])
    print(f"\n@track_resources overhead on a CPU-bound workload (median of {repeat}, "
          f"interleaved)")
    print(f"{'sampler':<10}{'time':>10}{'vs off':>10}")
    for name, values in runs.items():
        median = statistics.median(values)
        print(f"{name:<10}{median:>8.3f} s{(median / base - 1) * 100:>+9.2f}%")
    sampler = ResourceSampler(1.0)
    sampler.sample()
    count = 300
    started = time.perf_counter()
    for _ in range(count):
        sampler.sample()
    per_sample = (time.perf_counter() - started) / count
    at_default = per_sample / 1.0 * 100
    print(f"one sample: {per_sample * 1000:.2f} ms -> {at_default:.3f}% of one core at the "
          f"default 1 s interval, {per_sample / 0.1 * 100:.2f}% at 0.1 s  "
          f"[target < 2%: {'PASS' if at_default < 2 else 'MISS'}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["render", "overhead"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.only in (None, "render"):
        bench_render(args.repeat)
    if args.only in (None, "overhead"):
        bench_overhead(args.repeat)


if __name__ == "__main__":
    main()
