"""Client additions for Metaflow parity: ``Task.parent_tasks`` / ``child_tasks`` (from the
parents each attempt's index records), ``Task.loglines``, ``Task.exception``'s Metaflow
names, and ``Run.code`` / ``Task.code`` for a run whose task metadata names a package."""

from __future__ import annotations

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


def test_loglines_and_exception_shape(flow_runner, flow_class):
    run = flow_runner.run(flow_class(FLOW))
    lines = list(run["start"].task.loglines("stdout"))
    assert [line for _, line in lines] == ["hello from start", "second line"]
    assert all(ts is None for ts, _ in lines)  # stored logs carry no per-line times
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
