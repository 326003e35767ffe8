"""The metadata service dying (not the run) while a foreach runs in shared mode on the dev
stack, then ``dev up`` restarts it: the run completes (the provider retries its requests)
or fails with a clear error and ``resume`` completes it. Either way no task record is lost
or duplicated: every foreach index has exactly one task in the run that completed.

The service dies at the worst moment, which no outside ``kill -9`` can time: right after it
committed a task and before it answered (the fault injection point of
``headwater_service/faults.py``), so the provider's retry of that POST must get the same
task back (its ``Idempotency-Key``) instead of creating a second one.

What it does not prove: a service down for longer than the provider's retry budget (the run
then fails and is resumed, the second branch below).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from headwater import Flow, namespace
from headwater.dev import process
from headwater_service.faults import CRASH_FILE_ENV

from .test_dev_stack import run_python

pytestmark = pytest.mark.slow

N = 12

FOREACH_FLOW = f'''
import time
from headwater import FlowSpec, step


class CrashForeachFlow(FlowSpec):

    @step
    def start(self):
        self.items = list(range({N}))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        time.sleep(0.4)
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CrashForeachFlow()
'''


def _tasks_started(stack, flow: str, step: str) -> int:
    req = urllib.request.Request(f"{stack.service_url}/flows/{flow}/runs",
                                 headers={"x-api-key": stack.api_key})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            runs = json.loads(resp.read())
    except OSError:
        return 0
    if not runs:
        return 0
    run = max(int(r["run_number"]) for r in runs)
    req = urllib.request.Request(f"{stack.service_url}/flows/{flow}/runs/{run}/steps/{step}/tasks",
                                 headers={"x-api-key": stack.api_key})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return len(json.loads(resp.read()))
    except OSError:
        return 0


def test_service_killed_during_a_foreach(dev_stack, tmp_path, monkeypatch):
    crash_file = tmp_path / "crash-after-commit"
    monkeypatch.setenv(CRASH_FILE_ENV, str(crash_file))
    stack = dev_stack("azure")
    flow_file = tmp_path / "crash_foreach_flow.py"
    flow_file.write_text(textwrap.dedent(FOREACH_FLOW))
    proc = subprocess.Popen([sys.executable, str(flow_file), "run", "--max-workers", "3"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 120
        while _tasks_started(stack, "CrashForeachFlow", "work") < 3:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the foreach did not start"
            time.sleep(0.1)
        service_pid = stack.pid("service")
        # the next task the scheduler creates is committed, then the service dies unanswered
        crash_file.write_text("create_task")
        while crash_file.exists() or process.alive(service_pid):
            assert proc.poll() is None, "the run ended before the service crashed:\n" + \
                proc.stdout.read()
            assert time.monotonic() < deadline, "the service did not reach its crash point"
            time.sleep(0.05)
        restarted = stack.up()
        assert "service   started" in restarted.stdout, restarted.stdout
        assert "postgres  already running" in restarted.stdout
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    namespace(None)
    run = Flow("CrashForeachFlow").latest_run
    if proc.returncode != 0:
        # failed: the error must say what happened, and resume must finish the run
        assert "metadata service" in output, output[-3000:]
        assert "Traceback" not in output, output[-3000:]
        run_python([flow_file, "resume", "--origin-run-id", run.id], cwd=tmp_path)
        run = Flow("CrashForeachFlow").latest_run
    assert run.successful, output[-3000:]
    assert run.data.total == sum(i * i for i in range(N))
    tasks = list(run["work"])
    assert len(tasks) == N, [t.pathspec for t in tasks]
    orphans = [t.pathspec for t in tasks if t.index is None]
    assert not orphans, (f"task records without an attempt (created twice: the first "
                         f"answer was lost with the service): {orphans}")
    indexes = sorted(t.index for t in tasks)
    assert indexes == list(range(N)), indexes  # none lost, none twice
    assert sorted(t.data.square for t in tasks) == [i * i for i in range(N)]
    assert all(t.successful for t in tasks)
