"""``spin``: one step of an earlier run runs again, locally, with the inputs its task had,
recorded apart from the original run (real runs, local mode)."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest

from headwater import Flow, Runner

# Every test runs the flow and spins it in child processes.
pytestmark = pytest.mark.slow

FLOWS = Path(__file__).parent / "flows"
SPIN_FLOW = FLOWS / "spin_flow.py"


@pytest.fixture
def origin(run_flow, hw_env):
    """A finished run of SpinFlow with alpha=3 (its id)."""
    run_flow(SPIN_FLOW, "run", "--alpha", "3")
    return Flow("SpinFlow").latest_run.id


def _spin(run_flow, tmp_path, *args, check=True):
    """Run ``spin`` and return (process, the spun Client Task or None)."""
    attributes = tmp_path / "attributes.json"
    attributes.unlink(missing_ok=True)
    proc = run_flow(SPIN_FLOW, "spin", *args, "--runner-attribute-file", attributes,
                    check=check)
    return proc, (_read_spun(json.loads(attributes.read_text()))
                  if proc.returncode == 0 else None)


def _read_spun(found):
    from headwater import Task
    from headwater.client import _services
    from headwater.settings import Settings
    from headwater.spin import spin_settings

    with _services.pinned(spin_settings(Settings(), found["spin_root"])):
        return Task(found["pathspec"], _namespace_check=False)


def _task_of(run_id, step, index=None):
    tasks = list(Flow("SpinFlow")[run_id][step])
    if index is None:
        return tasks[0]
    return next(t for t in tasks if t.index == index)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and "heartbeat" not in p.name}


# --- what a spun task starts from ---------------------------------------------------------


def test_a_linear_step_gets_its_parent_artifacts_and_the_run_parameters(run_flow, tmp_path,
                                                                       origin):
    proc, task = _spin(run_flow, tmp_path, f"{origin}/double", "--persist")
    assert task.pathspec.startswith("SpinFlow/spin-1/double/")
    assert task.successful
    assert task.data.base2 == 20 and task.data.alpha == 3 and task.data.items == [1, 2, 3]
    assert "doubling 10" in task.stdout and "doubling 10" in proc.stdout
    assert task.metadata_dict["origin-run-id"] == origin


def test_a_foreach_item_gets_its_input_index_and_stack(run_flow, tmp_path, origin):
    original = _task_of(origin, "work", index=1)
    _, task = _spin(run_flow, tmp_path, original.pathspec, "--persist")
    assert task.index == 1 and task.data.v == 2 * 3 + 20
    assert "item 2 at 1" in task.stdout
    assert task.data.v == original.data.v


def test_a_join_gets_every_input(run_flow, tmp_path, origin):
    _, task = _spin(run_flow, tmp_path, f"SpinFlow/{origin}/join", "--persist")
    assert task.data.total == 3 * 6 + 60 and task.data.seen == [23, 26, 29]


def test_the_artifacts_module_overrides_named_inputs(run_flow, tmp_path, origin):
    module = tmp_path / "inputs.py"
    module.write_text("ARTIFACTS = {'base2': 100, 'alpha': 0}\n")
    original = _task_of(origin, "work", index=2)
    _, task = _spin(run_flow, tmp_path, original.pathspec, "--persist",
                    "--artifacts-module", module)
    assert task.data.v == 100 and task.data.base2 == 100
    assert original.data.v == 3 * 3 + 20  # the original keeps what it had


def test_no_persist_stores_no_artifact(run_flow, tmp_path, origin):
    proc, task = _spin(run_flow, tmp_path, f"{origin}/double", "--no-persist")
    assert "artifacts not persisted" in proc.stderr
    assert task.successful and "doubling 10" in task.stdout
    assert "base2" not in task.data and "base" not in task.data


def test_persisting_is_off_unless_asked_for_like_metaflow(run_flow, tmp_path, origin):
    _, task = _spin(run_flow, tmp_path, f"{origin}/double")
    assert "base2" not in task.data
    _, task = _spin(run_flow, tmp_path, f"{origin}/double")
    assert task.pathspec.startswith("SpinFlow/spin-2/")


def test_the_original_run_is_untouched(run_flow, tmp_path, hw_env, origin):
    before = _snapshot(hw_env)
    module = tmp_path / "inputs.py"
    module.write_text("ARTIFACTS = {'base': 7}\n")
    for args in ([f"{origin}/double", "--persist", "--artifacts-module", module],
                 [f"{origin}/join", "--persist"], [f"{origin}/start", "--no-persist"]):
        _spin(run_flow, tmp_path, *args)
    after = _snapshot(hw_env)
    assert [p for p, data in before.items() if after.get(p) != data] == []
    added = [p for p in after if p not in before]
    # new files: the spun runs' records and the blobs of the values they made, nothing else
    assert added and all(p.startswith(("SpinFlow/spin-", ".spin/", "SpinFlow/data/"))
                         for p in added)
    assert [r.id for r in Flow("SpinFlow").runs()] == [origin]
    assert Flow("SpinFlow").latest_run.id == origin


def test_a_step_asking_for_remote_compute_runs_here(run_flow, tmp_path, origin):
    proc, task = _spin(run_flow, tmp_path, "--with", "kubernetes", f"{origin}/double",
                       "--persist")
    assert "Ignoring @kubernetes on step 'double'" in proc.stderr
    assert "not on kubernetes" in proc.stderr
    assert task.data.base2 == 20


def test_skip_decorators_drops_them_all(run_flow, tmp_path, origin):
    proc, _ = _spin(run_flow, tmp_path, f"{origin}/work", "--skip-decorators")
    assert "Ignoring @retry on step 'work' (--skip-decorators)" in proc.stderr
    assert "spinning the first" in proc.stderr  # work has three tasks


def test_a_failing_step_fails_the_spin_and_is_recorded(run_flow, tmp_path, origin):
    module = tmp_path / "inputs.py"
    module.write_text("ARTIFACTS = {'base2': 'text'}\n")
    proc, _ = _spin(run_flow, tmp_path, f"{origin}/work", "--artifacts-module", module,
                    check=False)
    assert proc.returncode == 1
    assert "Run failed: spun task SpinFlow/spin-1/work/1 failed" in proc.stderr
    assert f"spin SpinFlow/{origin}/work/" in proc.stderr


# --- bad input: one line naming the problem and the fix -----------------------------------


def _refused(run_flow, *args, flow=SPIN_FLOW) -> str:
    proc = run_flow(flow, "spin", *args, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("Cannot spin: ") and lines[1].startswith("  Fix: ")
    return proc.stderr


def test_bad_pathspecs_are_refused(run_flow, tmp_path, origin):
    assert "SpinFlow has no step 'nope'" in _refused(run_flow, f"{origin}/nope")
    assert "has no step 'nope'" in _refused(run_flow, "nope")
    assert "names flow 'OtherFlow'" in _refused(run_flow, f"OtherFlow/{origin}/join/2")
    assert "names flow 'OtherFlow'" in _refused(run_flow, f"OtherFlow/{origin}/join")
    assert "is not a spin pathspec" in _refused(run_flow, "a/b/c/d/e")
    assert "run SpinFlow/999 does not exist" in _refused(run_flow, "999/join")
    out = _refused(run_flow, f"{origin}/join/999")
    assert f"task SpinFlow/{origin}/join/999 does not exist" in out
    assert "tasks of step 'join'" in out


def test_a_run_without_that_step_is_refused(run_flow, hw_env):
    run_flow(SPIN_FLOW, "run", "--fail-double", "true", check=False)
    failed = Flow("SpinFlow").latest_run.id
    out = _refused(run_flow, f"{failed}/work")
    assert f"run SpinFlow/{failed} has no task of step 'work'" in out


def test_no_run_to_spin_is_refused(run_flow, hw_env):
    assert "there is no run of SpinFlow" in _refused(run_flow, "start")


@pytest.mark.parametrize("source, message", [
    ("VALUES = {'x': 1}\n", "has no ARTIFACTS"),
    ("ARTIFACTS = [('x', 1)]\n", "is of type list, not a dict"),
    ("ARTIFACTS = {'_hidden': 1}\n", "is not an artifact name"),
    ("raise RuntimeError('nope')\n", "raised RuntimeError: nope"),
])
def test_bad_artifacts_modules_are_refused(run_flow, tmp_path, origin, source, message):
    module = tmp_path / "inputs.py"
    module.write_text(source)
    assert message in _refused(run_flow, f"{origin}/double", "--artifacts-module", module)


def test_a_missing_artifacts_module_is_refused(run_flow, tmp_path, origin):
    out = _refused(run_flow, f"{origin}/double", "--artifacts-module", tmp_path / "no.py")
    assert "does not exist" in out


def test_a_parallel_step_is_refused(run_flow, tmp_path, hw_env):
    flow = tmp_path / "parallel_flow.py"
    flow.write_text(textwrap.dedent('''
        from headwater import FlowSpec, parallel, step

        class ParallelSpinFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.train, num_parallel=2)

            @parallel
            @step
            def train(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            ParallelSpinFlow()
    '''))
    assert "uses @parallel, which spin cannot run" in _refused(run_flow, "train", flow=flow)


# --- from Python ----------------------------------------------------------------------------


def test_runner_spin_returns_the_spun_task(origin):
    running = Runner(str(SPIN_FLOW)).spin(f"{origin}/join", persist=True)
    assert running.status == "successful" and running.returncode == 0
    assert running.task.data.total == 78
    assert running.run.id == running.task.pathspec.split("/")[1]
    assert running.task.pathspec.startswith("SpinFlow/spin-")
    assert "Done! Spun task" in running.stderr


def test_runner_spin_options(tmp_path, origin):
    module = tmp_path / "inputs.py"
    module.write_text("ARTIFACTS = {'base': 1}\n")
    runner = Runner(str(SPIN_FLOW))
    running = runner.spin(f"{origin}/double", persist=True, artifacts_module=str(module))
    assert running.task.data.base2 == 2
    running = runner.spin(f"{origin}/double", persist=False, skip_decorators=True)
    assert "base2" not in running.task.data


def test_async_spin_and_stream_log(origin):
    async def main():
        running = await Runner(str(SPIN_FLOW)).async_spin(f"{origin}/double", persist=True)
        lines = [line async for _, line in running.stream_log("stdout")]
        await running.async_wait()
        return running, lines

    running, lines = asyncio.run(main())
    assert running.status == "successful"
    assert any("doubling 10" in line for line in lines)
    assert running.task.data.base2 == 20


def test_runner_spin_of_a_bad_pathspec_says_why(origin):
    running = Runner(str(SPIN_FLOW)).spin(f"{origin}/nope")
    assert running.status == "failed"
    assert "Cannot spin: SpinFlow has no step 'nope'" in running.stderr
    from headwater.runner import RunnerError

    with pytest.raises(RunnerError, match="before it started a task"):
        running.task
