"""Flow, Run, Step, Task and DataArtifact over recorded runs: navigation, outcome, errors."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from headwater import DataArtifact, Flow, Metaflow, Run, Step, Task, get_metadata
from headwater.exceptions import InvalidPathspec, ObjectNotFound


def hello_run(make_run, **kwargs):
    b = make_run("HelloFlow", parameters={"message": "hi"}, **kwargs)
    ids = b.linear({"start": {"x": 1}, "process": {"x": 2, "squares": [0, 1, 4]},
                    "end": {"x": 3}})
    return b, ids


def test_pathspecs_ids_and_navigation(make_run):
    b, ids = hello_run(make_run)
    run = Run(b.pathspec)
    assert run.id == b.run_id and run.pathspec == f"HelloFlow/{b.run_id}"
    assert repr(run) == f"Run('HelloFlow/{b.run_id}')"
    assert [s.id for s in run] == ["end", "process", "start"]  # newest first, no _parameters
    step = run["start"]
    assert isinstance(step, Step) and step.pathspec == f"{b.pathspec}/start"
    task = step.task
    assert isinstance(task, Task) and task.id == ids["start"]
    assert task.path_components == ["HelloFlow", b.run_id, "start", ids["start"]]
    assert task.parent == step and step.parent == run and run.parent == Flow("HelloFlow")
    assert Task(task.pathspec) == task and hash(Task(task.pathspec)) == hash(task)
    assert step[ids["start"]] == task and step[int(ids["start"])] == task
    assert Flow("HelloFlow")[b.run_id] == run and Flow("HelloFlow")[int(b.run_id)] == run
    assert "start" in run and "nope" not in run
    assert ids["start"] in step and "999" not in step
    assert b.run_id in Flow("HelloFlow") and "999" not in Flow("HelloFlow")
    # the parameters step is hidden from iteration but readable
    assert run["_parameters"].task.data.message == "hi"
    # standalone constructors reach the same records
    assert Step(f"{b.pathspec}/end").task.data.x == 3
    art = DataArtifact(f"{task.pathspec}/x")
    assert art.data == 1 and art.parent == task and art.id == "x"


def test_flow_runs_latest_and_metaflow(make_run):
    first, _ = hello_run(make_run)
    failed = make_run("HelloFlow")
    failed.linear({"start": {}, "end": {}}, ok=False)
    running = make_run("HelloFlow")
    running.task("start", {}, finished=False)
    make_run("OtherFlow").linear({"start": {}, "end": {}})

    flow = Flow("HelloFlow")
    runs = flow.runs()
    assert [r.id for r in runs] == [running.run_id, failed.run_id, first.run_id]
    assert [r.id for r in flow] == [r.id for r in runs]
    assert flow.latest_run.id == running.run_id
    assert flow.latest_successful_run.id == first.run_id
    assert not flow.latest_run.finished and flow.latest_run.end_task is None
    assert flow.latest_run.data is None and flow.latest_run.finished_at is None
    assert sorted(f.id for f in Metaflow()) == ["HelloFlow", "OtherFlow"]
    assert sorted(f.id for f in Metaflow().flows) == ["HelloFlow", "OtherFlow"]
    assert get_metadata().startswith("local@") and get_metadata().endswith("sysroot")


def test_run_outcome_data_and_times(make_run):
    before = datetime.now() - timedelta(seconds=1)
    b, ids = hello_run(make_run)
    run = Run(b.pathspec)
    assert run.successful and run.finished
    assert run.end_task.id == ids["end"]
    assert run.data.x == 3 and run.data.message == "hi"  # parameters are inherited
    assert run["process"].task.data.squares == [0, 1, 4]
    assert before <= run.created_at <= run.finished_at <= datetime.now() + timedelta(seconds=1)
    assert run.finished_at == run.end_task.finished_at
    assert run["start"].finished_at == run["start"].task.finished_at
    assert run.user == "tester"

    bad = make_run("HelloFlow")
    bad.linear({"start": {}, "end": {"y": 1}}, ok=False)
    failed = Run(bad.pathspec)
    assert failed.finished and not failed.successful
    assert failed.end_task.exception.message == "attempt 0 failed"


def test_task_outcome_logs_exception_attempts(make_run):
    b = make_run("RetryFlow")
    t = b.task("start", {"v": 42}, attempts=3, stdout="out\n", stderr="err\n")
    task = Task(f"{b.pathspec}/start/{t}")
    assert task.current_attempt == 2
    assert task.successful and task.finished and task.exception is None
    assert task.data.v == 42
    assert task.stdout == "[attempt 2] out\n" and task.stderr == "[attempt 2] err\n"
    # an earlier attempt, chosen explicitly
    first = Task(task.pathspec, attempt=0)
    assert first.current_attempt == 0 and not first.successful and first.finished
    assert first.exception.type == "builtins.RuntimeError"
    assert "attempt 0 failed" in first.exception.traceback
    assert "v" not in first.data and first.stdout == "[attempt 0] out\n"
    assert task.metadata_dict["attempt"] == "2" and task.metadata_dict["attempt_ok"] == "True"
    assert first.metadata_dict["attempt_ok"] == "False"
    rows = task.metadata
    assert [m.value for m in rows if m.name == "attempt"] == ["0", "1", "2"]
    assert all(m.task is task and isinstance(m.created_at, datetime) for m in rows)
    with pytest.raises(ObjectNotFound, match=r"(?s)has no attempt 5.*attempts are: 0, 1, 2"):
        Task(task.pathspec, attempt=5)

    err = b.task("train", {}, ok=False, error=ValueError("bad learning rate"))
    failed = Task(f"{b.pathspec}/train/{err}")
    assert failed.finished and not failed.successful
    assert failed.exception.type == "builtins.ValueError"
    assert failed.exception.message == "bad learning rate"

    running = Task(f"{b.pathspec}/end/{b.task('end', {'z': 1}, finished=False)}")
    assert not running.finished and not running.successful and running.finished_at is None
    assert list(running) == [] and "z" not in running.data


def test_foreach_index_tasks_and_origin(make_run):
    b = make_run("FanFlow")
    b.task("start", {"items": [10, 20, 30]})
    for i in range(3):
        b.task("fan", {"item": [10, 20, 30][i]}, foreach=[("start", i, 3)])
    b.task("join", {"total": 60})
    b.task("end", {}, origin=("7", "42"))
    run = Run(b.pathspec)
    tasks = run["fan"].tasks()
    assert len(tasks) == 3
    assert sorted((t.index, t.data.item) for t in tasks) == [(0, 10), (1, 20), (2, 30)]
    assert run["start"].task.index is None and run["join"].task.index is None
    assert run["end"].task.origin_pathspec == "FanFlow/7/end/42"
    assert run["start"].task.origin_pathspec is None
    nested = make_run("NestFlow")
    nested.task("inner", {}, foreach=[("start", 1, 2), ("mid", 4, 5)])
    assert Run(nested.pathspec)["inner"].task.index == 4


def test_tags_and_filters(make_run):
    b = make_run("TagFlow", tags=("exp", "v2"))
    b.linear({"start": {}, "end": {}})
    other = make_run("TagFlow", tags=("exp",))
    other.linear({"start": {}, "end": {}})
    run = Run(b.pathspec)
    assert run.user_tags == {"exp", "v2"}
    assert "user:tester" in run.system_tags and "runtime:dev" in run.system_tags
    assert run.tags == run.user_tags | run.system_tags
    # steps, tasks and artifacts carry the run's tags
    assert run["start"].tags == run.tags and run["start"].task.tags == run.tags
    assert run["start"].task["_success"].tags == run.tags
    assert [r.id for r in Flow("TagFlow").runs("exp")] == [other.run_id, b.run_id]
    assert [r.id for r in Flow("TagFlow").runs("exp", "v2")] == [b.run_id]
    assert Flow("TagFlow").runs("nope") == []
    assert len(run.steps("v2")) == 2 and run.steps("nope") == []
    assert len(run["start"].tasks("exp")) == 1


@pytest.mark.parametrize("cls,pathspec", [
    (Run, "HelloFlow"), (Run, "HelloFlow/1/start"), (Run, "HelloFlow/"), (Run, 12),
    (Step, "HelloFlow/1"), (Task, "HelloFlow/1/start"), (Task, "HelloFlow//start/2"),
    (DataArtifact, "HelloFlow/1/start/2"), (Flow, ""), (Flow, None),
])
def test_malformed_pathspecs(cls, pathspec):
    with pytest.raises(InvalidPathspec) as info:
        cls(pathspec)
    assert cls.__name__ in str(info.value) and "e.g." in str(info.value)


def test_not_found_names_the_object_and_what_exists(make_run):
    with pytest.raises(ObjectNotFound, match=r"flow 'NoFlow' does not exist in local@.*\n"
                                             r".*no flow has run there yet"):
        Flow("NoFlow")
    b, ids = hello_run(make_run)
    with pytest.raises(ObjectNotFound, match=r"(?s)flow 'Helo' does not exist.*known flows: "
                                             r"HelloFlow"):
        Run("Helo/1")
    with pytest.raises(ObjectNotFound, match=r"run HelloFlow/99 does not exist.*\n.*Flow\('HelloFlow'\).runs\(\)"):
        Run("HelloFlow/99")
    with pytest.raises(ObjectNotFound, match=rf"run HelloFlow/99 does not exist.*\n.*runs of "
                                             rf"HelloFlow in namespace 'user:tester': "
                                             rf"{b.run_id}"):
        Flow("HelloFlow")["99"]
    with pytest.raises(ObjectNotFound, match=r"step .*/trian does not exist.*\n.*steps of run "
                                             r".*: end, process, start"):
        Run(b.pathspec)["trian"]
    with pytest.raises(ObjectNotFound, match=r"step .*/trian does not exist"):
        Step(f"{b.pathspec}/trian")
    with pytest.raises(ObjectNotFound, match=rf"task .*/start/77 does not exist.*\n.*tasks of "
                                             rf"step .*: {ids['start']}"):
        Task(f"{b.pathspec}/start/77")
    task = Run(b.pathspec)["start"].task
    with pytest.raises(ObjectNotFound, match=r"has no artifact 'y'.*\n.*artifacts are: "
                                             r"_success, message, x"):
        task["y"]
    with pytest.raises(ObjectNotFound, match="has no artifact 'y'"):
        DataArtifact(f"{task.pathspec}/y")
    with pytest.raises(AttributeError, match="has no artifact 'y'"):
        task.data.y
    assert not hasattr(task.data, "y") and getattr(task.data, "y", 5) == 5


def test_a_missing_child_by_key_is_also_a_key_error(make_run):
    # Metaflow code catches KeyError around task['name'], run['step'], flow['run']
    b, ids = hello_run(make_run)
    run = Run(b.pathspec)
    task = run["start"].task
    lookups = [(lambda: task["nope"], "has no artifact 'nope'"),
               (lambda: run["nope"], "step .*/nope does not exist"),
               (lambda: run["start"]["77"], "task .*/start/77 does not exist"),
               (lambda: Flow("HelloFlow")["99"], "run HelloFlow/99 does not exist")]
    for lookup, message in lookups:
        with pytest.raises(KeyError) as info:
            lookup()
        assert isinstance(info.value, ObjectNotFound)
        assert re.search(message, str(info.value))
        assert not str(info.value).startswith(('"', "'"))  # not KeyError's repr of it
