"""The local compute backend in real runs: a failure while siblings keep writing output,
a segfault, a task that ignores SIGTERM past its @timeout, and the backend driven directly
(start, output and exit events, kill_all with output still in the pipes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from headwater import Flow

SIBLINGS = """
    import os, sys, time
    from headwater import FlowSpec, Parameter, step

    class SiblingsFlow(FlowSpec):
        marker = Parameter("marker", default="")

        @step
        def start(self):
            self.items = [0, 1, 2, 3, 4]
            self.next(self.work, foreach="items")

        @step
        def work(self):
            if self.input < 4:
                # four tasks keep writing to both streams until they are killed
                open(self.marker, "w").close()
                while True:
                    print("still printing " * 20, flush=True)
                    print("still on stderr", file=sys.stderr, flush=True)
            # the last one fails once they write, so their pipes are busy when it exits
            while not os.path.exists(self.marker):
                time.sleep(0.01)
            time.sleep(0.5)
            if self.input:
                raise RuntimeError(f"item {self.input} failed")
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        SiblingsFlow()
"""


def test_a_failure_while_siblings_write_output_fails_the_run_cleanly(run_flow, write_flow,
                                                                     tmp_path):
    # issue 8 item 13: stopping the printer used to close its log files while its pipes
    # were still being read ("ValueError: I/O operation on closed file" in the scheduler).
    flow = write_flow(SIBLINGS)
    marker = tmp_path / "printing"
    proc = run_flow(flow, "run", "--marker", marker, check=False, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "closed file" not in proc.stderr
    assert "Stopping the other running tasks." in proc.stderr
    assert "failed: RuntimeError: item " in proc.stderr
    assert "resume --origin-run-id" in proc.stderr
    assert "still printing" in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if "Traceback" in line]
    # the failing task's own traceback (prefixed with its path), nothing of the scheduler's
    assert lines and all(line.startswith("[") for line in lines)
    run = Flow("SiblingsFlow").latest_run
    printers = [t for t in run["work"] if "still printing" in t.stdout]
    assert len(printers) == 4
    leftover = subprocess.run(["pgrep", "-f", f"marker {marker}"], capture_output=True,
                              text=True).stdout.split()
    assert leftover == []


def test_a_segfault_is_named_in_the_failure_and_the_task_log(run_flow, write_flow):
    # issue 8 item 19
    flow = write_flow("""
        import ctypes
        from headwater import FlowSpec, step

        class CrashFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                print("about to crash", flush=True)
                ctypes.string_at(0)

        if __name__ == "__main__":
            CrashFlow()
    """)
    proc = run_flow(flow, "run", check=False)
    assert proc.returncode == 1
    failure = next(line for line in proc.stderr.splitlines() if "failed after" in line)
    assert "was killed by signal SIGSEGV (11, segmentation fault)" in failure
    task = Flow("CrashFlow").latest_run["end"].task
    assert "segmentation fault" in task.stderr.lower()
    assert "SIGSEGV (11" in task.stderr
    assert "TaskCrashed" in str(task.exception)
    assert task.stdout.strip() == "about to crash"


def test_a_task_ignoring_sigterm_past_its_timeout_is_killed(run_flow, write_flow):
    flow = write_flow("""
        import signal, time
        from headwater import FlowSpec, step, timeout

        class StuckFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @timeout(seconds=1)
            @step
            def end(self):
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                signal.signal(signal.SIGALRM, signal.SIG_IGN)  # the in-process alarm too
                time.sleep(60)

        if __name__ == "__main__":
            StuckFlow()
    """)
    proc = run_flow(flow, "run", check=False, timeout=60)
    assert proc.returncode == 1
    assert "exceeded its @timeout: killing it." in proc.stderr
    assert "was killed after running past its @timeout" in proc.stderr
    task = Flow("StuckFlow").latest_run["end"].task
    assert not task.successful


@pytest.mark.slow
def test_the_backend_reports_output_and_exit_and_kill_all_forgets_its_tasks(tmp_path):
    # In a fresh interpreter: the backend forks, and a test process must not fork itself.
    script = tmp_path / "drive.py"
    script.write_text('''
import os, sys, time
from headwater import FlowSpec, step
from headwater.cli.flow_cli import FlowContext
from headwater.compute.base import ComputeContext, TaskExited, TaskOutput
from headwater.compute.local import LocalCompute
from headwater.run_state import RunInfo, RunState
from headwater import attempt
from headwater.task import TaskSpec

class DriveFlow(FlowSpec):
    @step
    def start(self):
        if os.environ.get("ROLE") == "loud":
            while True:
                print("x" * 100, flush=True)
        print("hello")
        self.next(self.end)

    @step
    def end(self):
        pass

obj = FlowContext(DriveFlow)
graph = obj.prepare()
env = obj.environment()
env.metadata.register_flow("DriveFlow", "tester")
run_id = str(env.metadata.new_run("DriveFlow", "tester", [], [])["run_number"])
info = RunInfo("DriveFlow", run_id, "tester", None, [])
params = attempt.record_parameters(env, info, {})
state = RunState(graph, info, lambda step: str(env.metadata.new_task(
    "DriveFlow", run_id, step, "tester")["task_id"]))
backend = LocalCompute(ComputeContext(DriveFlow, graph, env, __file__, {}))
(first,) = state.start(params)
backend.start(first.spec, None)
events = []
while backend.running:
    events += backend.wait(1.0)
out = [e for e in events if isinstance(e, TaskOutput)]
(done,) = [e for e in events if isinstance(e, TaskExited)]
assert done.result.ok and done.result.targets == ["end"], done
assert b"hello" in b"".join(e.data for e in out) and out[0].where.startswith("pid ")
assert attempt.read_result(env, first.spec).targets == ["end"]

os.environ["ROLE"] = "loud"
(loud,) = state.start(params)
backend.start(loud.spec, None)
while not backend.wait(1.0):
    pass
time.sleep(0.2)  # output piles up in the pipe
backend.kill_all("test")
assert backend.running == 0
assert backend.wait(0.1) == []  # nothing of the killed task is read or reported
log = attempt.task_store(env, loud.spec).load_log(0, "stdout")
assert log.startswith("x" * 100)
backend.close()
print("DRIVE OK")
''')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "DRIVE OK" in proc.stdout


def test_retry_without_a_wait_given_retries_at_once(run_flow, write_flow, tmp_path):
    # issue 8 item 20: as Metaflow's local runner; before, a bare @retry waited 2 minutes
    # (this run would then take longer than run_flow's timeout allows).
    flow = write_flow("""
        import os
        from headwater import FlowSpec, Parameter, current, retry, step

        class RetryFlow(FlowSpec):
            @retry(times=1)
            @step
            def start(self):
                if current.retry_count == 0:
                    raise RuntimeError("first attempt fails")
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            RetryFlow()
    """)
    proc = run_flow(flow, "run", timeout=60)
    assert "failed (attempt 1 of 2): RuntimeError: first attempt fails. Retrying." \
        in proc.stderr
    assert Flow("RetryFlow").latest_run.successful
