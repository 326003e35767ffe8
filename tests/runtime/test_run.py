"""End-to-end runs of real flow files in local mode, read back through the Client API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from headwater import Flow, namespace

FLOWS = Path(__file__).parent / "flows"


def test_branches_foreach_nested_and_joins(run_flow):
    proc = run_flow(FLOWS / "branching_flow.py", "run", "--n", "3")
    assert "Done!" in proc.stderr
    # task output is streamed live with a run/step/task prefix
    assert any(line.startswith("[") and "/start/" in line and line.endswith("hello from start")
               for line in proc.stdout.splitlines())
    run = Flow("BranchingFlow").latest_run
    assert run.successful and run.finished
    assert run.data.sides == ["left", "right"]
    assert run.data.left_side == "left"
    assert run.data.all_pairs == [(o, l, i) for o in range(3) for i, l in enumerate("ab")]
    assert run.data.shared == "same everywhere"  # agreed artifacts flow through joins
    inner = list(run["inner"])
    assert len(inner) == 6
    assert sorted(t.data.stack for t in inner)[0] == [(0, 3), (0, 2)]
    seen = run["start"].task.data.seen
    assert seen == {"flow": "BranchingFlow", "step": "start", "run": run.id,
                    "params": ["n"], "running": True, "namespace": "user:tester"}
    assert "hello from start" in run["start"].task.stdout


def test_parameters_reach_every_step_and_are_recorded(flow_runner, flow_class):
    run = flow_runner.run(flow_class(FLOWS / "branching_flow.py"), n=2)
    assert run["end"].task.data.n == 2
    assert len(run["fan"].tasks() if callable(getattr(run["fan"], "tasks", None))
               else list(run["fan"])) == 2


@pytest.mark.parametrize("score,method,n_cleaned", [(0.9, "advanced", False),
                                                    (0.6, "standard", False),
                                                    (0.2, "cleaned", True)])
def test_conditional_join_receives_only_the_branch_taken(flow_runner, flow_class, score, method,
                                                         n_cleaned):
    run = flow_runner.run(flow_class(FLOWS / "conditional_flow.py"), score=score, mode="slow")
    assert run.successful
    assert run.data.result == {"quality": score, "method": method, "cleaned": n_cleaned}
    assert run.data.n_inputs == 1
    assert run.data.speed == "slow"
    steps = {s.id for s in run}
    skipped = {"high", "standard", "cleaning"} - {
        {"advanced": "high", "standard": "standard", "cleaned": "cleaning"}[method]}
    assert not steps & skipped
    assert "fast" not in steps


def test_switch_with_unknown_condition_value_fails_clearly(run_flow):
    proc = run_flow(FLOWS / "conditional_flow.py", "run", "--mode", "warp", check=False)
    assert proc.returncode != 0
    assert "condition 'route' of step 'choose' is 'warp'" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_tags_run_id_file_and_namespaces(run_flow, tmp_path):
    id_file = tmp_path / "run-id"
    run_flow(FLOWS / "conditional_flow.py", "run", "--tag", "exp1", "--tag", "exp2",
             "--run-id-file", id_file)
    run = Flow("ConditionalFlow")[id_file.read_text()]
    assert {"exp1", "exp2"} <= set(run.tags)
    assert "user:tester" in run.system_tags
    run_flow(FLOWS / "conditional_flow.py", "run", env={"METAFLOW_USER_NAMESPACE": "team-a"})
    run_flow(FLOWS / "conditional_flow.py", "--namespace", "team-b", "run")
    with namespace("team-a"):
        assert len(list(Flow("ConditionalFlow").runs())) == 1
    with namespace("team-b"):
        assert Flow("ConditionalFlow").latest_run["start"].task.data.quality == 0.9
    namespace(None)
    try:
        assert len(list(Flow("ConditionalFlow").runs())) == 3
    finally:
        from headwater import default_namespace
        default_namespace()


@pytest.mark.slow
def test_foreach_bad_inputs(run_flow, write_flow):
    template = """
        from headwater import FlowSpec, step

        class ForeachBadFlow(FlowSpec):
            @step
            def start(self):
                self.items = {value}
                self.next(self.work, foreach="items")

            @step
            def work(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            ForeachBadFlow()
    """
    cases = {
        "42": "self.items, a int, which is not iterable",
        "[]": "self.items, which is empty",
        "list(range(5))": "would start 5 tasks, more than --max-num-splits (3)",
    }
    for value, message in cases.items():
        flow = write_flow(template.format(value=value), name=f"fe_{len(message)}.py")
        proc = run_flow(flow, "run", "--max-num-splits", "3", check=False)
        assert proc.returncode == 1, proc.stderr
        assert message in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
    ok = write_flow(template.format(value="list(range(5))"), name="fe_ok.py")
    run_flow(ok, "run", "--max-num-splits", "5")


def test_unpicklable_artifact_is_named(run_flow):
    proc = run_flow(FLOWS / "faults_flow.py", "run", "--fail", "unpicklable", check=False)
    assert proc.returncode == 1
    assert "artifact 'lock'" in proc.stdout + proc.stderr
    task = Flow("FaultsFlow").latest_run["middle"].task
    assert not task.successful
    assert "lock" in str(task.exception)


def test_a_step_error_is_kept_when_an_artifact_also_cannot_be_stored(run_flow):
    proc = run_flow(FLOWS / "faults_flow.py", "run", "--fail", "unpicklable_raise", check=False)
    assert proc.returncode == 1
    err = proc.stderr
    # the real error first, with its traceback, then what could not be stored
    assert "Traceback" in err and 'raise RuntimeError("boom after the lock")' in err
    assert "RuntimeError: boom after the lock" in err
    assert err.index("RuntimeError: boom after the lock") < err.index("artifact 'lock'")
    failure_lines = [line for line in err.splitlines() if "middle" in line and "failed" in line]
    assert any("boom after the lock" in line for line in failure_lines), err
    task = Flow("FaultsFlow").latest_run["middle"].task
    assert not task.successful
    assert "boom after the lock" in str(task.exception)
    assert "artifact 'lock'" in next(line for line in failure_lines if "boom" in line)


def test_a_crashing_step_only_fails_its_task(run_flow):
    for mode, reason in (("exit", "exited with code 3"), ("kill", "killed by signal SIGKILL")):
        proc = run_flow(FLOWS / "faults_flow.py", "run", "--fail", mode, check=False)
        assert proc.returncode == 1
        assert reason in proc.stderr
        assert "resume --origin-run-id" in proc.stderr
        run = Flow("FaultsFlow").latest_run
        assert not run.successful
        assert run["start"].task.successful
        assert run["start"].task.data.big == list(range(1000))
        assert "TaskCrashed" in str(run["middle"].task.exception)


def test_stdout_and_stderr_are_captured_per_task(run_flow, write_flow):
    flow = write_flow("""
        import sys
        from headwater import FlowSpec, step

        class LogsFlow(FlowSpec):
            @step
            def start(self):
                print("to stdout")
                print("to stderr", file=sys.stderr)
                self.next(self.end)

            @step
            def end(self):
                print("bye")

        if __name__ == "__main__":
            LogsFlow()
    """)
    proc = run_flow(flow, "run")
    assert "to stderr" in proc.stderr and "to stdout" in proc.stdout
    run = Flow("LogsFlow").latest_run
    assert run["start"].task.stdout.strip() == "to stdout"
    assert run["start"].task.stderr.strip() == "to stderr"
    quiet = run_flow(flow, "run", "--quiet")
    assert "to stdout" not in quiet.stdout


LOCATION_FLOW = """
    from headwater import FlowSpec, step

    class WhereFlow(FlowSpec):
        @step
        def start(self):
            self.x = 1
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        WhereFlow()
"""

READ_LATEST = "from headwater import Flow; r = Flow('WhereFlow').latest_run; print(r.id, r.data.x)"


def test_local_runs_are_stored_where_the_run_was_started(run_flow, write_flow, tmp_path,
                                                          monkeypatch):
    # As Metaflow does with .metaflow: the nearest existing store from the current directory
    # upwards, else a new one in the current directory; the Client reads the same place.
    (tmp_path / "flows").mkdir()
    flow = write_flow(LOCATION_FLOW, name="flows/where_flow.py")
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    monkeypatch.delenv("METAFLOW_DATASTORE_SYSROOT_LOCAL")
    env = dict(os.environ)
    run_flow(flow, "run", cwd=project)
    assert (project / ".headwater" / "WhereFlow").is_dir()
    assert not (flow.parent / ".headwater").exists()
    read = subprocess.run([sys.executable, "-c", READ_LATEST], cwd=project, env=env,
                          capture_output=True, text=True)
    assert read.stdout.split() == ["1", "1"], read.stderr
    # from a subdirectory: the existing store above it is found, for runs and for reads
    run_flow(flow, "run", cwd=project / "sub")
    assert not (project / "sub" / ".headwater").exists()
    read = subprocess.run([sys.executable, "-c", READ_LATEST], cwd=project / "sub", env=env,
                          capture_output=True, text=True)
    assert read.stdout.split() == ["2", "1"], read.stderr


def test_a_flow_that_overrides_init_runs_it_in_every_task(flow_runner, flow_class):
    source = """
        import threading
        from headwater import FlowSpec, step

        class Helper:
            def __init__(self, name):
                self.name = name
                self.lock = threading.Lock()  # cannot be pickled: it must never be stored

        class InitFlow(FlowSpec):
            def __init__(self):
                super().__init__()
                self.helper = Helper(type(self).__name__)
                self.counter = 0

            @step
            def start(self):
                print("start", self.helper.name)
                self.counter = 5  # assigned by a step: an artifact, not reset by __init__
                self.next(self.a, self.b)

            @step
            def a(self):
                self.x = self.helper.name + "-a"
                self.next(self.join)

            @step
            def b(self):
                self.x = self.helper.name + "-b"
                self.next(self.join)

            @step
            def join(self, inputs):
                self.xs = sorted(i.x for i in inputs)
                self.merge_artifacts(inputs, exclude=["x"])
                self.next(self.end)

            @step
            def end(self):
                print("end", self.helper.name, self.counter, self.xs)

        if __name__ == "__main__":
            InitFlow()
    """
    run = flow_runner.run(flow_class(source))
    assert run.successful
    assert "end InitFlow 5 ['InitFlow-a', 'InitFlow-b']" in run["end"].task.stdout
    for step_name in ("start", "a", "join", "end"):
        names = {a.id for a in run[step_name].task}
        assert "helper" not in names, (step_name, names)
    assert run["start"].task["counter"].data == 5
    assert run["end"].task.data.counter == 5


NESTED_SWITCH_FLOW = """
    from headwater import FlowSpec, Parameter, step

    class NestedSwitchFlow(FlowSpec):
        first = Parameter("first", default="a")
        second = Parameter("second", default="c")

        @step
        def start(self):
            self.route = self.first
            self.next({"a": self.a, "b": self.b}, condition="route")

        @step
        def a(self):
            self.route2 = self.second
            self.next({"c": self.c, "d": self.d}, condition="route2")

        @step
        def b(self):
            self.took = "b"
            self.next(self.end)

        @step
        def c(self):
            self.took = "c"
            self.next(self.end)

        @step
        def d(self):
            self.took = "d"
            self.next(self.end)

        @step
        def end(self):
            print("took", self.took)

    if __name__ == "__main__":
        NestedSwitchFlow()
"""


@pytest.mark.parametrize("first,second,steps", [
    ("a", "d", ["start", "a", "d", "end"]),
    ("b", "c", ["start", "b", "end"]),
])
def test_a_switch_whose_branch_is_another_switch_runs(flow_runner, flow_class, first, second,
                                                       steps):
    run = flow_runner.run(flow_class(NESTED_SWITCH_FLOW), first=first, second=second)
    assert run.successful
    assert f"took {steps[-2]}" in run["end"].task.stdout
    assert sorted(s.id for s in run) == sorted(steps)


SWITCH_IN_BRANCH_FLOW = """
    from headwater import FlowSpec, Parameter, step

    class SwitchInBranchFlow(FlowSpec):
        pick = Parameter("pick", default="x")

        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.choice = self.pick
            self.next({"x": self.x, "y": self.y}, condition="choice")

        @step
        def x(self):
            self.value = "x"
            self.next(self.join)

        @step
        def y(self):
            self.value = "y"
            self.next(self.join)

        @step
        def b(self):
            self.value = "b"
            self.next(self.join)

        @step
        def join(self, inputs):
            self.values = sorted(i.value for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            print("values", self.values)

    if __name__ == "__main__":
        SwitchInBranchFlow()
"""


@pytest.mark.parametrize("pick", ["x", "y"])
def test_a_switch_inside_a_static_branch_runs(flow_runner, flow_class, pick):
    run = flow_runner.run(flow_class(SWITCH_IN_BRANCH_FLOW), pick=pick)
    assert f"values {sorted(['b', pick])}" in run["end"].task.stdout
    assert run.successful and run.data.values == sorted(["b", pick])
    assert pick in {s.id for s in run} and ({"x", "y"} - {pick}).isdisjoint(s.id for s in run)


def test_from_headwater_import_current_inside_a_step(flow_runner, flow_class):
    # as the Azure guide writes it: the import inside the step, after the runtime imported
    # the module headwater.current
    run = flow_runner.run(flow_class("""
        from headwater import FlowSpec, step

        class CurrentFlow(FlowSpec):
            @step
            def start(self):
                from headwater import current
                self.seen = (type(current).__name__, current.flow_name, current.step_name)
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            CurrentFlow()
    """))
    assert run["start"].task.data.seen == (
        "Current", "CurrentFlow", "start")
