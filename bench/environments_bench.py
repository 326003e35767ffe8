"""Environment set-up benchmark: a step with 5 small packages, cold and warm.

    python bench/environments_bench.py [--repeat 3] [--conda]

Cases, each in fresh temporary folders (datastore, environment cache):
- headwater cold       no snapshot, no built environment: resolve with uv (index), download
                       the wheels, snapshot them, build the environment.
- headwater snapshot   a new machine (empty environment cache) with the snapshot: build
                       from the datastore's wheels, no index (what resume / a remote task do).
- headwater warm       snapshot and built environment present: what every later run pays.
- uv pip install       the same lock installed by hand: ``uv venv`` + ``uv pip install
                       --require-hashes -r lock.txt`` from the index (uv's own cache warm
                       after the first repeat), the baseline a user would otherwise script.

With ``--conda``, the same three cases for ``@conda`` with the rattler backend (5 tiny
``noarch: python`` packages in a local ``file://`` channel built like the tests' one, since no
conda channel is reachable here): cold (solve, copy from the channel, snapshot, build),
from the snapshot, warm.

Metaflow 2.19's ``@pypi`` is the comparison the issue asks for, but Metaflow's pypi
environment creates its base Python with micromamba, which is not installed here: the script
checks and says so, and the uv baseline stands in. Not a test: numbers depend on the machine
and the network; medians of ``--repeat`` runs are printed with ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"six": "1.16.0", "idna": "3.7", "packaging": "24.1", "attrs": "23.2.0",
            "typing-extensions": "4.12.2"}


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--conda", action="store_true", help="also @conda (rattler backend)")
    args = parser.parse_args()

    from headwater.datastore.local import LocalBackend
    from headwater.environments.cache import EnvironmentCache
    from headwater.environments.snapshot import SnapshotStore
    from headwater.environments.spec import EnvironmentSpec
    from headwater.environments.task_environment import ensure_environment
    from headwater.environments.tools import uv_binary

    quiet = lambda line: None  # noqa: E731
    spec = EnvironmentSpec.build("pypi", None, PACKAGES)
    times: dict[str, list[float]] = {k: [] for k in
                                     ("headwater cold", "headwater snapshot", "headwater warm",
                                      "uv pip install")}
    lock = None
    for _ in range(args.repeat):
        work = Path(tempfile.mkdtemp(prefix="hw-env-bench-"))
        try:
            store = SnapshotStore(LocalBackend(str(work / "ds")))
            os.environ["HEADWATER_ENV_CACHE"] = str(work / "cache-a")

            def cold():
                nonlocal lock
                lock, _ = ensure_environment(spec, store, EnvironmentCache(), quiet, "start")

            times["headwater cold"].append(_timed(cold))
            os.environ["HEADWATER_ENV_CACHE"] = str(work / "cache-b")
            times["headwater snapshot"].append(_timed(lambda: ensure_environment(
                spec, store, EnvironmentCache(), quiet, "start", offline=True)))
            times["headwater warm"].append(_timed(lambda: ensure_environment(
                spec, store, EnvironmentCache(), quiet, "start", offline=True)))
            requirements = work / "lock.txt"
            requirements.write_text(lock.requirements_text())
            venv = work / "plain"

            def plain():
                uv = uv_binary()
                subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)],
                               check=True)
                subprocess.run([uv, "pip", "install", "-q", "--python",
                                str(venv / "bin" / "python"), "--require-hashes", "--no-deps",
                                "-r", str(requirements)], check=True)

            times["uv pip install"].append(_timed(plain))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    base = statistics.median(times["uv pip install"])
    print(f"\nEnvironment set-up, 5 packages ({', '.join(PACKAGES)}), "
          f"median of {args.repeat}:\n")
    print(f"{'case':<22}{'median ms':>11}{'min ms':>9}{'vs uv pip install':>20}")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:<22}{med * 1000:>11.1f}{min(values) * 1000:>9.1f}{med / base:>19.3f}x")
    mamba = shutil.which("micromamba") or shutil.which("conda")
    print("\nMetaflow 2.19 @pypi: " + (
        f"micromamba/conda found at {mamba}; not measured by this script" if mamba else
        "not measured: its pypi environment needs micromamba, which is not installed here "
        "(the uv baseline above stands in)"))
    if args.conda:
        conda_cases(args.repeat)


def conda_cases(repeat: int) -> None:
    """Cold, from the snapshot and warm @conda set-up against a local channel."""
    sys.path.insert(0, str(ROOT))
    from headwater.datastore.local import LocalBackend
    from headwater.environments.cache import EnvironmentCache
    from headwater.environments.snapshot import SnapshotStore
    from headwater.environments.spec import EnvironmentSpec
    from headwater.environments.task_environment import ensure_environment
    from tests.environments.conda_channel import index_channel, write_package

    quiet = lambda line: None  # noqa: E731
    names = [f"tinypkg{i}" for i in range(5)]
    times: dict[str, list[float]] = {k: [] for k in ("conda cold", "conda snapshot",
                                                     "conda warm")}
    for _ in range(repeat):
        work = Path(tempfile.mkdtemp(prefix="hw-conda-bench-"))
        try:
            channel = work / "channel"
            for name in names:
                write_package(channel, name, "1.0")
            index_channel(channel)
            spec = EnvironmentSpec.build("conda", None, {n: "1.0" for n in names},
                                         (channel.as_uri(),))
            store = SnapshotStore(LocalBackend(str(work / "ds")))
            for case, cache, offline in (("conda cold", "cache-a", False),
                                         ("conda snapshot", "cache-b", True),
                                         ("conda warm", "cache-b", True)):
                os.environ["HEADWATER_ENV_CACHE"] = str(work / cache)
                times[case].append(_timed(lambda: ensure_environment(
                    spec, store, EnvironmentCache(), quiet, "start", offline=offline)))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n@conda set-up (rattler backend, 5 packages in a local channel), median of "
          f"{repeat}:\n")
    print(f"{'case':<22}{'median ms':>11}{'min ms':>9}")
    for name, values in times.items():
        print(f"{name:<22}{statistics.median(values) * 1000:>11.1f}{min(values) * 1000:>9.1f}")


if __name__ == "__main__":
    main()
