"""Resume: successful tasks are cloned by reference, the rest runs again; a crash never
corrupts what earlier tasks and runs stored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headwater import Flow

FLOWS = Path(__file__).parent / "flows"


def _blobs(sysroot: Path, flow: str) -> set[str]:
    data = sysroot / flow / "data"
    return {p.name for p in data.rglob("*") if p.is_file()} if data.exists() else set()


def _snapshot(sysroot: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sysroot.rglob("*")
            if p.is_file() and "heartbeat" not in p.name}


def test_kill_9_then_resume_succeeds_and_clones_by_reference(run_flow, hw_env, tmp_path):
    marker = tmp_path / "fixed"
    failed = run_flow(FLOWS / "faults_flow.py", "run", "--fail", "kill", "--marker", marker,
                      check=False)
    assert failed.returncode == 1 and "SIGKILL" in failed.stderr
    origin = Flow("FaultsFlow").latest_run
    before = _snapshot(hw_env)
    blobs_before = _blobs(hw_env, "FaultsFlow")

    marker.touch()  # "fix the code"
    resumed = run_flow(FLOWS / "faults_flow.py", "resume")
    assert f"resuming run {origin.id}" in resumed.stderr
    run = Flow("FaultsFlow").latest_run
    assert run.id != origin.id and run.successful
    assert run.data.after == "done" and run.data.big == list(range(1000))
    start = run["start"].task
    assert start.metadata_dict.get("origin-run-id") == origin.id
    # cloned by reference: same content hash, and the blob store gained only new values
    assert start.artifacts.big.sha == origin["start"].task.artifacts.big.sha
    assert "middle attempt" not in start.stdout  # start was not executed again
    new_blobs = _blobs(hw_env, "FaultsFlow") - blobs_before
    assert len(new_blobs) <= 3  # 'before', 'after', and nothing else large
    # nothing the failed run stored was changed by the resume
    after = _snapshot(hw_env)
    changed = [p for p, data in before.items() if after.get(p) != data]
    assert changed == []


def test_resume_from_a_named_step_reruns_it_and_what_follows(run_flow):
    run_flow(FLOWS / "faults_flow.py", "run")
    origin = Flow("FaultsFlow").latest_run
    run_flow(FLOWS / "faults_flow.py", "resume", "middle")
    run = Flow("FaultsFlow").latest_run
    assert run.successful
    assert "origin-task-id" in run["start"].task.metadata_dict  # cloned
    # executed again: the run it resumes, and no origin task (as in Metaflow)
    middle = run["middle"].task.metadata_dict
    assert "origin-task-id" not in middle and middle["origin-run-id"] == origin.id
    assert middle["python_version"] == run["start"].task.metadata_dict["python_version"]
    assert run["end"].task.data.after == "done"
    assert run.id != origin.id


def test_resume_step_given_twice_says_which_one_is_used(run_flow):
    run_flow(FLOWS / "faults_flow.py", "run")
    proc = run_flow(FLOWS / "faults_flow.py", "resume", "--step", "start", "--step", "middle")
    assert "--step was given 2 times (start, middle): resuming from 'middle'" in proc.stderr
    run = Flow("FaultsFlow").latest_run
    assert "origin-task-id" in run["start"].task.metadata_dict  # start was cloned
    assert "origin-task-id" not in run["middle"].task.metadata_dict
    both = run_flow(FLOWS / "faults_flow.py", "resume", "end", "--step", "middle")
    assert "resuming from 'middle'" in both.stderr
    same = run_flow(FLOWS / "faults_flow.py", "resume", "middle", "--step", "middle")
    assert "given 2 times" not in same.stderr


@pytest.mark.slow
def test_resume_errors(run_flow, write_flow):
    proc = run_flow(FLOWS / "faults_flow.py", "resume", check=False)
    assert proc.returncode == 1
    assert "there is no earlier run of FaultsFlow to resume" in proc.stderr
    assert "Traceback" not in proc.stderr
    run_flow(FLOWS / "faults_flow.py", "run")
    proc = run_flow(FLOWS / "faults_flow.py", "resume", check=False)
    assert "succeeded; there is nothing to resume" in proc.stderr
    proc = run_flow(FLOWS / "faults_flow.py", "resume", "--origin-run-id", "999", check=False)
    assert "run FaultsFlow/999 does not exist" in proc.stderr
    proc = run_flow(FLOWS / "faults_flow.py", "resume", "nosuchstep", check=False)
    assert "has no step 'nosuchstep'" in proc.stderr


def test_resume_after_exception_reuses_foreach_tasks(run_flow, write_flow, tmp_path):
    marker = tmp_path / "fixed"
    flow = write_flow(f"""
        import os
        from headwater import FlowSpec, step

        class ResumeForeachFlow(FlowSpec):
            @step
            def start(self):
                self.items = [1, 2, 3]
                self.next(self.work, foreach="items")

            @step
            def work(self):
                print("working on", self.input)
                self.out = self.input * 10
                self.next(self.join)

            @step
            def join(self, inputs):
                if not os.path.exists({str(marker)!r}):
                    raise ValueError("join is broken")
                self.total = sum(i.out for i in inputs)
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            ResumeForeachFlow()
    """)
    assert run_flow(flow, "run", check=False).returncode == 1
    marker.touch()
    proc = run_flow(flow, "resume")
    assert "working on" not in proc.stdout  # foreach tasks were cloned, not rerun
    run = Flow("ResumeForeachFlow").latest_run
    assert run.data.total == 60
    assert sorted(t.data.out for t in run["work"]) == [10, 20, 30]
