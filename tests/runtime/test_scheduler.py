"""The scheduler (``headwater/scheduler.py``): how many tasks run at once, which compute
backend each step runs on, and several backends in one run. What the scheduler decides after
each task (``run_state.py``) is tested in ``test_run_state.py``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .test_run_state import graph_of


def test_max_workers_runs_tasks_side_by_side_but_no_more(flow_runner, flow_class, tmp_path):
    """Items 0 and 1 each wait (bounded) until the other has started, so they can only both
    finish in time if they ran at the same time; every task counts the markers of the tasks
    running beside it."""
    run = flow_runner.run(flow_class(f"""
        import os, time
        from headwater import FlowSpec, step

        class WorkersFlow(FlowSpec):
            @step
            def start(self):
                self.items = list(range(6))
                self.next(self.work, foreach="items")

            @step
            def work(self):
                here = {str(tmp_path)!r}
                self.began = time.time()
                marker = os.path.join(here, f"running-{{os.getpid()}}")
                open(marker, "w").close()
                if self.input in (0, 1):
                    open(os.path.join(here, f"arrived-{{self.input}}"), "w").close()
                    other = os.path.join(here, f"arrived-{{1 - self.input}}")
                    deadline = time.monotonic() + 60
                    while not os.path.exists(other) and time.monotonic() < deadline:
                        time.sleep(0.01)
                    self.met = os.path.exists(other)
                self.concurrent = len([n for n in os.listdir(here) if n.startswith("running-")])
                self.ended = time.time()
                os.unlink(marker)
                self.next(self.join)

            @step
            def join(self, inputs):
                self.peak = max(i.concurrent for i in inputs)
                self.pair = sorted((i.began, i.ended, i.met) for i in inputs if i.input < 2)
                self.next(self.end)

            @step
            def end(self):
                pass
    """), max_workers=2)
    (began_0, ended_0, met_0), (began_1, ended_1, met_1) = run.data.pair
    assert met_0 and met_1  # each saw the other start before it finished
    assert began_1 < ended_0  # so their intervals intersect
    assert run.data.peak == 2


@pytest.mark.slow
def test_steps_on_another_backend_run_beside_local_ones(tmp_path):
    # The scheduler multiplexes backends and routes steps by their decorators'
    # compute_backend(). The second backend here runs each attempt as
    # `python flow.py step --spec JSON`, the entry point remote containers run, and learns
    # the outcome from the attempt's record (ctx.read_result), as remote backends do. What
    # this does not prove: any real remote backend (tests/compute covers those).
    flow = tmp_path / "mixed_flow.py"
    flow.write_text('''
import os, sys
from headwater import FlowSpec, step
from headwater.decorators.base import StepDecorator

class ElsewhereDecorator(StepDecorator):
    name = "elsewhere"
    def compute_backend(self):
        return "subprocess"

class MixedFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.entry = os.path.basename(sys.modules["__main__"].__file__)
        self.next(self.work, foreach="items")

    @ElsewhereDecorator()
    @step
    def work(self):
        print("working on", self.input, flush=True)
        self.value = self.input * 10
        self.entry = os.path.basename(sys.modules["__main__"].__file__)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.entries = sorted({i.entry for i in inputs})
        self.next(self.end)

    @step
    def end(self):
        print("TOTAL", self.total)

if __name__ == "__main__":
    MixedFlow()
''')
    script = tmp_path / "drive.py"
    script.write_text('''
import json, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from mixed_flow import MixedFlow
from headwater import Flow, attempt
from headwater.cli.flow_cli import FlowContext
from headwater.compute.base import Compute, ComputeContext, Stream, TaskExited, TaskOutput, task_key
from headwater.console import Console
from headwater.run_state import RunInfo
from headwater.scheduler import Scheduler, step_backends

class SubprocessCompute(Compute):
    name = "subprocess"
    def __init__(self, ctx):
        super().__init__(ctx)
        self.procs = {}
    def start(self, spec, timeout):
        proc = subprocess.Popen([sys.executable, self.ctx.flow_file, "step", "--spec",
                                 json.dumps(spec.to_json())], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.procs[task_key(spec)] = (spec, proc)
    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            done = [(k, s, p) for k, (s, p) in self.procs.items() if p.poll() is not None]
            if done or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        events = []
        for key, spec, proc in done:
            del self.procs[key]
            out, err = proc.communicate()
            events.append(TaskOutput(key, Stream.STDOUT, out, "subprocess"))
            events.append(TaskOutput(key, Stream.STDERR, err, "subprocess"))
            result = self.ctx.read_result(spec)
            events.append(TaskExited(key, result, None if result else "exited"))
        return events
    def kill(self, key, reason):
        self.procs[key][1].terminate()
    @property
    def running(self):
        return len(self.procs)
    def kill_all(self, reason):
        for _, proc in self.procs.values():
            proc.kill()
            proc.wait()
        self.procs.clear()

obj = FlowContext(MixedFlow)
graph = obj.prepare()
assert step_backends(graph) == {"start": "local", "work": "subprocess", "join": "local",
                                "end": "local"}
env = obj.environment()
env.metadata.register_flow("MixedFlow", "tester")
run_id = str(env.metadata.new_run("MixedFlow", "tester", [], obj.system_tags())["run_number"])
info = RunInfo("MixedFlow", run_id, "tester", None, [])
ctx = ComputeContext(MixedFlow, graph, env, sys.argv[1] + "/mixed_flow.py", {})
remote = SubprocessCompute(ctx)
scheduler = Scheduler(ctx, info, console=Console(), backends={"subprocess": remote})
assert scheduler.start(attempt.record_parameters(env, info, {}))
run = Flow("MixedFlow")[run_id]
assert run.data.total == 60
# start was forked from this script; the work tasks ran the flow file's step command
assert run["start"].task.data.entry == "drive.py"
assert run["join"].task.data.entries == ["mixed_flow.py"]
print("DRIVE OK")
''')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DRIVE OK" in proc.stdout
    assert "/work/" in proc.stdout and "(subprocess)] working on 2" in proc.stdout
    assert "TOTAL 60" in proc.stdout


# --- where steps run ------------------------------------------------------------------------

BACKENDS = '''
from headwater.decorators.base import StepDecorator

class Far(StepDecorator):
    name = "far"
    def compute_backend(self):
        return "kubernetes"

class Farther(StepDecorator):
    name = "farther"
    def compute_backend(self):
        return "batch"

class TheFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @Far()
    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_each_step_runs_on_the_backend_its_decorators_name(tmp_path):
    from headwater.scheduler import step_backends

    graph = graph_of(tmp_path, BACKENDS)
    assert step_backends(graph) == {"start": "local", "middle": "kubernetes", "end": "local"}


def test_a_step_claimed_by_two_backends_is_refused(tmp_path):
    from headwater.decorators.base import DecoratorError
    from headwater.scheduler import step_backends

    graph = graph_of(tmp_path, BACKENDS.replace("    @Far()\n", "    @Far()\n    @Farther()\n"))
    with pytest.raises(DecoratorError) as info:
        step_backends(graph)
    assert info.value.message == ("step 'middle' asks for more than one compute backend "
                                  "(batch, kubernetes)")
