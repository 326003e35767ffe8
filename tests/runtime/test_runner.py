"""``Runner`` and ``NBRunner``: flows run from Python in a child process, read back with
the Client API (local mode, real runs)."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from headwater import NBRunner, Runner
from headwater.runner import RunnerError

# Runner runs each flow as `python flow.py run` in a child process: every test starts one.
pytestmark = pytest.mark.slow

FLOW = '''
from headwater import FlowSpec, Parameter, step

class RunnerFlow(FlowSpec):
    alpha = Parameter("alpha", default=1.0)
    fail = Parameter("fail", default=False)

    @step
    def start(self):
        print("starting with", self.alpha)
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.fail and self.input == 2:
            raise ValueError("item 2 broke")
        print("item", self.input)
        self.v = self.input * self.alpha
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.v for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    RunnerFlow()
'''


@pytest.fixture
def flow_path(tmp_path):
    path = tmp_path / "runner_flow.py"
    path.write_text(textwrap.dedent(FLOW))
    return path


def test_run_returns_the_client_run(flow_path):
    with Runner(str(flow_path)).run(alpha=0.5, tags=["from-runner"]) as running:
        assert running.status == "successful" and running.returncode == 0
        assert running.run.successful
        assert running.run.data.total == 3.0
        assert "from-runner" in running.run.tags
        assert "starting with 0.5" in running.stdout


def test_a_failed_run_is_reported_and_resumable(flow_path):
    runner = Runner(str(flow_path))
    failed = runner.run(fail=True)
    assert failed.status == "failed"
    assert "item 2 broke" in failed.stderr
    assert not failed.run.successful
    resumed = runner.resume(origin_run_id=failed.run.id)
    # the origin run's parameters are reused, so the same item fails again
    assert resumed.status == "failed" and resumed.run.id != failed.run.id


def test_async_run_and_stream_log(flow_path):
    async def main():
        running = await Runner(str(flow_path)).async_run(alpha=2)
        streamed = [pair async for pair in running.stream_log("stdout")]
        await running.async_wait()
        # from a position the stream goes on after that line (Metaflow's resumable stream)
        later = [pair async for pair in running.stream_log("stdout", position=streamed[0][0])]
        return running, streamed, later

    running, streamed, later = asyncio.run(main())
    assert running.status == "successful"
    assert running.run.data.total == 12
    output = running.stdout.encode()
    assert [line for _, line in streamed] == running.stdout.rstrip("\n").split("\n")
    assert any("starting with 2" in line for _, line in streamed)
    for position, line in streamed:  # each position is the byte offset after its line
        assert output[:position].decode().rstrip("\n").endswith(line)
    assert len(streamed) == 4 and later == streamed[1:]


def test_an_unknown_stream_is_one_clear_error(flow_path):
    running = Runner(str(flow_path)).run()
    with pytest.raises(RunnerError, match="use stream='stdout' or stream='stderr'"):
        running.wait(stream="stdlog")


def test_bad_input_is_one_clear_error(tmp_path, flow_path):
    with pytest.raises(RunnerError, match="does not exist"):
        Runner(str(tmp_path / "missing.py"))
    running = Runner(str(flow_path)).run(alpha="not-a-number")
    assert running.status == "failed"
    with pytest.raises(RunnerError, match="before it started a run"):
        running.run


def test_nbrunner_runs_a_class_from_a_module(tmp_path, monkeypatch):
    module = tmp_path / "nbflows.py"
    module.write_text(textwrap.dedent(FLOW).split("if __name__")[0])
    monkeypatch.syspath_prepend(str(tmp_path))
    from nbflows import RunnerFlow  # type: ignore[import-not-found]

    nb = NBRunner(RunnerFlow, show_output=False, base_dir=str(tmp_path / "nb"))
    run = nb.nbrun(alpha=3)
    assert run.data.total == 18
    resumed = nb.nbresume(origin_run_id=run.id, step="join")
    assert resumed.id != run.id and resumed.data.total == 18
    nb.cleanup()
    assert not (tmp_path / "nb" / "runnerflow.py").exists()


def test_wait_with_a_timeout_raises_and_the_run_can_be_stopped(tmp_path):
    import subprocess

    path = tmp_path / "slow_flow.py"
    path.write_text(textwrap.dedent('''
        import time
        from headwater import FlowSpec, step

        class SlowFlow(FlowSpec):
            @step
            def start(self):
                time.sleep(60)
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            SlowFlow()
    '''))
    running = asyncio.run(Runner(str(path)).async_run())
    with pytest.raises(subprocess.TimeoutExpired):
        running.wait(timeout=0.5)
    assert running.status == "running"
    running.kill()
    assert running.status == "failed"
