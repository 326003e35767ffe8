"""What one foreach task costs the dev stack's components in shared mode (``--cloud aws``),
counted in their own logs: moto's access log and the service's access log.

A foreach task that prints nothing makes, to S3, one read of the foreach list and one write
each of its artifact and its index; its parent's index comes from the scheduler's memory
(the finished parent handed it back), and silent logs are not uploaded. To the service: the
task, its start and end metadata, its artifacts (and a heartbeat only once the task has run
for a full interval, which these never do). The bench (``bench/shared_mode_bench.py``)
measures the time; this keeps the counts from creeping back up.
"""

from __future__ import annotations

import re
import textwrap

import pytest

from headwater import Flow, namespace

from .test_dev_stack import run_python

pytestmark = pytest.mark.slow

N = 8

FLOW = f'''
from headwater import FlowSpec, step


class CountedFlow(FlowSpec):

    @step
    def start(self):
        self.items = list(range({N}))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CountedFlow()
'''


def test_a_foreach_task_makes_only_the_requests_it_needs(dev_stack, tmp_path):
    stack = dev_stack("aws")
    moto_log = stack.folder / "logs" / "moto.log"
    moto_at, service_at = len(moto_log.read_text()), len(stack.service_log())
    flow_file = tmp_path / "counted_flow.py"
    flow_file.write_text(textwrap.dedent(FLOW))
    run_python([flow_file, "run", "--max-workers", "4"], cwd=tmp_path)
    # what the run made, before this test's own reads add to the logs
    moto_text, service_text = moto_log.read_text()[moto_at:], stack.service_log()[service_at:]
    namespace(None)
    run = Flow("CountedFlow").latest_run
    assert run.successful and run.data.total == 2 * sum(range(N))

    s3 = re.findall(r'"(GET|PUT|HEAD) /headwater/\S*?/CountedFlow/(\S+) HTTP',
                    moto_text)
    start_index = f"{run.id}/start/{run['start'].task.id}/0.index.json"
    assert ("GET", start_index) not in s3, "a foreach task read its parent's index"
    work = [t for t in run["work"]]
    assert len(work) == N
    for task in work:
        prefix = f"{run.id}/work/{task.id}/0."
        of_task = sorted(f"{m} {p[len(prefix):]}" for m, p in s3 if p.startswith(prefix))
        assert of_task == ["PUT index.json"], of_task  # no GET by the join, no empty logs
        assert task.stdout == task.stderr == ""

    service = re.findall(r'"message":"(\w+) (/flows/CountedFlow/\S+) \d+"',
                         service_text)
    for task in work:
        path = f"/flows/CountedFlow/runs/{run.id}/steps/work/tasks/{task.id}/"
        calls = sorted(f"{m} {p[len(path):]}" for m, p in service
                       if p.startswith(path) and not p.endswith("/heartbeat"))
        assert calls == ["POST artifact", "POST metadata", "POST metadata"], calls
    creations = [p for m, p in service if m == "POST" and p.endswith("/steps/work/task")]
    assert len(creations) == N
