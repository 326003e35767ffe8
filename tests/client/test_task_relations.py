"""Client additions for Metaflow parity: ``Task.parent_tasks`` / ``child_tasks`` (from the
parents each attempt's index records), ``Task.loglines``, ``Task.exception``'s Metaflow
names, and ``Run.code`` / ``Task.code`` for a run whose task metadata names a package."""

from __future__ import annotations

import os

import pytest

from headwater import Flow
from headwater.exceptions import RunFailed

FLOW = """
    import os
    from headwater import FlowSpec, catch, step

    class RelationsFlow(FlowSpec):
        @step
        def start(self):
            print("hello from start")
            print("second line")
            self.items = [1, 2, 3]
            self.next(self.work, foreach="items")

        @step
        def work(self):
            self.value = self.input * 10
            self.next(self.gather)

        @step
        def gather(self, inputs):
            self.total = sum(i.value for i in inputs)
            self.next(self.left, self.right)

        @step
        def left(self):
            self.next(self.both)

        @catch(var="oops", print_exception=False)
        @step
        def right(self):
            raise ValueError("right went wrong")
            self.next(self.both)

        @step
        def both(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            if os.environ.get("FAIL_END"):
                raise RuntimeError("end fails until fixed")

    if __name__ == "__main__":
        RelationsFlow()
"""


def _ids(tasks) -> list[str]:
    return sorted(t.pathspec.split("/", 2)[2] for t in tasks)


def test_parents_and_children_across_foreach_join_and_split(flow_runner, flow_class):
    run = flow_runner.run(flow_class(FLOW))
    start = run["start"].task
    assert start.parent_tasks == []
    works = list(run["work"])
    assert len(works) == 3 and sorted(start.child_tasks, key=lambda t: t.id) == sorted(
        works, key=lambda t: t.id)
    gather = run["gather"].task
    assert _ids(gather.parent_tasks) == _ids(works)
    assert all(w.child_tasks == [gather] for w in works)
    assert _ids(gather.child_tasks) == _ids([run["left"].task, run["right"].task])
    both = run["both"].task
    assert _ids(both.parent_tasks) == _ids([run["left"].task, run["right"].task])
    assert run["end"].task.parent_tasks == [both] and run["end"].task.child_tasks == []


def test_parent_and_child_steps_follow_the_run(flow_runner, flow_class):
    run = flow_runner.run(flow_class(FLOW))

    def names(steps):
        return [s.id for s in steps]

    assert names(run["start"].parent_steps) == [] and names(run["start"].child_steps) == ["work"]
    assert names(run["work"].parent_steps) == ["start"]
    assert names(run["gather"].parent_steps) == ["work"]
    assert sorted(names(run["gather"].child_steps)) == ["left", "right"]
    assert sorted(names(run["both"].parent_steps)) == ["left", "right"]
    assert names(run["end"].parent_steps) == ["both"] and names(run["end"].child_steps) == []


def test_a_resumed_run_links_its_own_tasks(flow_runner, flow_class, monkeypatch):
    flow = flow_class(FLOW)
    monkeypatch.setenv("FAIL_END", "1")
    with pytest.raises(RunFailed):
        flow_runner.run(flow)
    origin = Flow("RelationsFlow").latest_run
    monkeypatch.delenv("FAIL_END")
    run = flow_runner.resume(flow)
    assert run.id != origin.id
    gather = run["gather"].task  # a clone of the origin's task
    assert gather.origin_pathspec is not None
    assert all(p.pathspec.split("/")[1] == run.id for p in gather.parent_tasks)
    assert run["end"].task.parent_tasks == [run["both"].task]
    # a clone keeps the times its origin's lines were printed at
    assert list(run["start"].task.loglines("stdout")) == list(
        origin["start"].task.loglines("stdout"))


def test_loglines_and_exception_shape(flow_runner, flow_class):
    run = flow_runner.run(flow_class(FLOW))
    task = run["start"].task
    lines = list(task.loglines("stdout"))
    assert [line for _, line in lines] == ["hello from start", "second line"]
    times = [ts for ts, _ in lines]
    assert all(ts is not None for ts in times) and times == sorted(times)
    assert times[0] >= run.created_at.replace(microsecond=0)  # stamped as printed
    assert task.stdout == "hello from start\nsecond line\n"  # the log itself stays plain
    with pytest.raises(ValueError):
        list(run["start"].task.loglines("stdlog"))
    caught = run["right"].task.data.oops
    assert caught.type == "builtins.ValueError" and caught.exception == "right went wrong"
    assert "raise ValueError" in caught.stacktrace and caught.stacktrace == caught.traceback
    assert run["start"].task.exception is None


def test_run_code_is_none_when_every_task_ran_here(flow_runner, flow_class):
    run = flow_runner.run(flow_class(FLOW))
    assert run.code is None and run["start"].task.code is None


def test_run_code_reads_the_package_a_task_names(run_flow, write_flow, hw_env):
    """Stand-in: the package is made and its rows written with the same functions the
    container backend uses (``create_package``, ``CodePackage.metadata``) on a local run, so
    this proves the Client reads what a remote task records, not that a remote task ran."""
    from headwater.datastore import get_backend
    from headwater.metadata import get_provider
    from headwater.package import create_package
    from headwater.settings import Settings

    flow = write_flow(FLOW)
    run_flow(flow, "run")
    run = Flow("RelationsFlow").latest_run
    settings = Settings()
    backend = get_backend(settings)
    package = create_package(backend, "RelationsFlow", str(flow), settings)
    task = run["left"].task
    get_provider(settings).register_metadata(
        "RelationsFlow", run.id, "left", task.id, "tester",
        package.metadata(backend.TYPE, backend.root))
    code = Flow("RelationsFlow").latest_run.code
    assert code is not None and code.sha == package.sha
    assert code.path.endswith(package.key)
    assert code.info["flow_file"] == "flow.py"
    assert "class RelationsFlow(FlowSpec)" in code.flowspec
    assert "flow.py" in code.tarball.getnames()


def test_origin_pathspec_of_a_resumed_run_and_its_steps(flow_runner, flow_class, monkeypatch):
    from headwater.testing import FlowRunner

    flow = flow_class(FLOW)
    runner = FlowRunner(flow_runner.root, env=flow_runner.env, raise_on_failure=False)
    monkeypatch.setenv("FAIL_END", "1")
    origin = runner.run(flow)
    assert not origin.successful
    assert origin.origin_pathspec is None and origin["start"].origin_pathspec is None
    monkeypatch.delenv("FAIL_END")
    run = runner.resume(flow, "both")
    assert run.successful
    assert run.origin_pathspec == origin.pathspec
    assert run["start"].origin_pathspec == f"{origin.pathspec}/start"
    assert run["both"].origin_pathspec is None  # executed again


def test_merge_artifacts_exceptions_under_metaflows_names():
    from headwater.exception import (MergeArtifactsException,
                                     UnhandledInMergeArtifactsException)
    from headwater.exceptions import MergeArtifactsError

    assert MergeArtifactsException is MergeArtifactsError
    assert UnhandledInMergeArtifactsException is MergeArtifactsError


def test_a_log_stored_without_times_reads_back_with_none(run_flow, write_flow):
    """Logs written before line times were kept have no sidecar: their lines come with
    ``None`` rather than a made-up time."""
    run_flow(write_flow(FLOW), "run")
    task = Flow("RelationsFlow").latest_run["start"].task
    store = task._store()
    os.unlink(store.backend.file_path(store.log_times_key(task.current_attempt, "stdout")))
    assert list(task.loglines("stdout")) == [(None, "hello from start"), (None, "second line")]


@pytest.mark.parametrize("chunks,expected", [
    ([b"a\nb\n"], 2), ([b"a", b"b\n", b"c"], 2), ([b"\n\n"], 2), ([b"x\ny", b"\nz\n"], 3),
    ([b""], 0)])
def test_line_clock_stamps_each_line_once(chunks, expected):
    from headwater.log_times import LineClock, timed_lines

    clock = LineClock()
    times = b"".join(clock.stamps(c, now_ms=1000 * (i + 1)) for i, c in enumerate(chunks))
    text = b"".join(chunks).decode()
    paired = list(timed_lines(text, times))
    assert len(times.split()) == expected == len(paired)
    assert all(ts is not None for ts, _ in paired)
