"""``current`` inside running tasks: the Client ``Run``/``Task`` of the task itself, tags,
retry count, @project names, and ``origin_run_id`` on every task a resume executes."""

from __future__ import annotations

import pytest

from headwater import Flow
from headwater.current import current
from headwater.exceptions import RunFailed

FLOW = """
    import os
    from headwater import FlowSpec, current, project, retry, step

    @project(name="parity")
    class CurrentFlow(FlowSpec):
        @step
        def start(self):
            self.task_pathspec = current.task.pathspec
            self.run_id_seen = current.run.id
            self.task_user = current.task.user
            self.tags = current.tags
            self.project = (current.project_flow_name, current.is_production)
            self.origin = current.origin_run_id
            self.next(self.flaky)

        @retry(times=1)
        @step
        def flaky(self):
            if current.retry_count == 0:
                raise RuntimeError("first attempt fails")
            self.retry_seen = current.retry_count
            self.next(self.end)

        @step
        def end(self):
            if os.environ.get("FAIL_END"):
                raise RuntimeError("fails until fixed")
            self.origin_in_end = current.origin_run_id

    if __name__ == "__main__":
        CurrentFlow()
"""


def test_current_outside_a_task_has_no_run_or_task():
    assert current.run is None and current.task is None


def test_current_inside_a_run_and_its_resume(flow_runner, flow_class, monkeypatch):
    flow = flow_class(FLOW)
    monkeypatch.setenv("FAIL_END", "1")
    with pytest.raises(RunFailed):
        flow_runner.run(flow, tags=["exp1"])
    monkeypatch.delenv("FAIL_END")
    origin = Flow("CurrentFlow").latest_run
    start = origin["start"].task
    assert start.data.task_pathspec == start.pathspec
    assert start.data.run_id_seen == origin.id and start.data.task_user == "tester"
    assert start.data.tags == {"exp1"}  # a set, as in Metaflow
    assert start.data.project == ("parity.user.tester.CurrentFlow", False)
    assert start.data.origin is None
    assert origin["flaky"].task.data.retry_seen == 1

    run = flow_runner.resume(flow, "flaky")
    assert run.successful
    # executed again in the resume (not cloned): they know the origin run
    assert run["flaky"].task.data.retry_seen == 1
    assert run["end"].task.data.origin_in_end == origin.id
