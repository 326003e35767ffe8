"""``headwater.testing``: a flow run in the test's process, stored under its own root, read
back as a Client ``Run``; failures and bad input raise."""

from __future__ import annotations

import pytest

from headwater.exceptions import ParameterError, RunFailed
from headwater.testing import FlowRunner, run_flow

# FlowRunner runs the flow (forked tasks and all).
pytestmark = pytest.mark.slow

FLOW = """
    import os
    from headwater import FlowSpec, Parameter, step

    class SquareFlow(FlowSpec):
        n = Parameter("n", default=3, type=int)

        @step
        def start(self):
            print("squaring", self.n)
            self.items = list(range(self.n))
            self.next(self.square, foreach="items")

        @step
        def square(self):
            self.value = self.input ** 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.value for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            if self.total > 100:
                raise ValueError(f"total {self.total} is too large")
            self.user = os.environ.get("METAFLOW_USER")
"""


def test_a_run_is_stored_under_its_own_root_and_read_back(flow_class, tmp_path, monkeypatch):
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_LOCAL", str(tmp_path / "machine"))
    flow = flow_class(FLOW)
    with FlowRunner(env={"METAFLOW_USER": "ci"}) as runner:
        run = runner.run(flow, n="4", tags=["t1"])
        assert run.successful and run.data.total == 14 and run.data.user == "ci"
        assert "t1" in run.tags and len(list(run["square"])) == 4
        assert run["start"].task.stdout.strip() == "squaring 4"
        assert (runner.sysroot / "SquareFlow").is_dir()
        root = runner.root
    assert not root.exists()  # a temporary root goes with the runner
    assert not (tmp_path / "machine").exists()  # the machine's settings did not apply
    assert run_flow(flow, n=2).data.total == 1


def test_failures_raise_or_are_returned_and_resume_continues(flow_class, tmp_path):
    flow = flow_class(FLOW)
    runner = FlowRunner(tmp_path)
    with pytest.raises(RunFailed, match="total 285 is too large"):
        runner.run(flow, n=10)
    failed = FlowRunner(tmp_path, raise_on_failure=False).run(flow, n=10)
    assert not failed.successful and failed["join"].task.data.total == 285
    with pytest.raises(RunFailed):  # the same input fails again in the resumed run
        runner.resume(flow, "end", origin_run_id=failed.id)
    with pytest.raises(ParameterError, match="--n expects an integer"):
        runner.run(flow, n="many")
    with pytest.raises(ParameterError, match="has no parameter 'm'"):
        runner.run(flow, m=1)
