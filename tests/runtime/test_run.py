"""End-to-end runs of real flow files in local mode, read back through the Client API."""

from __future__ import annotations

import os
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


def test_parameters_reach_every_step_and_are_recorded(run_flow):
    run_flow(FLOWS / "branching_flow.py", "run", "--n", "2")
    run = Flow("BranchingFlow").latest_run
    assert run["end"].task.data.n == 2
    assert len(run["fan"].tasks() if callable(getattr(run["fan"], "tasks", None))
               else list(run["fan"])) == 2


@pytest.mark.parametrize("score,method,n_cleaned", [(0.9, "advanced", False),
                                                    (0.6, "standard", False),
                                                    (0.2, "cleaned", True)])
def test_conditional_join_receives_only_the_branch_taken(run_flow, score, method, n_cleaned):
    run_flow(FLOWS / "conditional_flow.py", "run", "--score", score, "--mode", "slow")
    run = Flow("ConditionalFlow").latest_run
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


def test_max_workers_limits_parallelism(run_flow, write_flow, tmp_path):
    flow = write_flow(f"""
        import os, time
        from headwater import FlowSpec, step

        class WorkersFlow(FlowSpec):
            @step
            def start(self):
                self.items = list(range(6))
                self.next(self.work, foreach="items")

            @step
            def work(self):
                marker = os.path.join({str(tmp_path)!r}, f"running-{{os.getpid()}}")
                open(marker, "w").close()
                self.concurrent = len([n for n in os.listdir({str(tmp_path)!r})
                                       if n.startswith("running-")])
                time.sleep(0.3)
                os.unlink(marker)
                self.next(self.join)

            @step
            def join(self, inputs):
                self.peak = max(i.concurrent for i in inputs)
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            WorkersFlow()
    """)
    run_flow(flow, "run", "--max-workers", "2")
    assert Flow("WorkersFlow").latest_run.data.peak <= 2


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


def test_local_datastore_defaults_beside_the_flow(run_flow, write_flow, monkeypatch, tmp_path):
    monkeypatch.delenv("METAFLOW_DATASTORE_SYSROOT_LOCAL")
    flow = write_flow("""
        from headwater import FlowSpec, step

        class BesideFlow(FlowSpec):
            @step
            def start(self):
                self.x = 1
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            BesideFlow()
    """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ)
    env.pop("METAFLOW_DATASTORE_SYSROOT_LOCAL", None)
    run_flow(flow, "run", cwd=elsewhere)
    assert (flow.parent / ".headwater" / "BesideFlow").is_dir()
    assert not (elsewhere / ".headwater").exists()
