"""``logs``, ``dump`` and ``tag`` on recorded runs, attached to a bare click group the way the
flow CLI attaches them (its ``ctx.obj`` carries ``flow_name`` and ``settings``)."""

from __future__ import annotations

import os
import pickle
import re
import time
from types import SimpleNamespace

import click
import numpy as np
import pytest
from click.testing import CliRunner

from headwater import Run, get_namespace, namespace
from headwater.cli.inspect import add_inspect_commands
from headwater.exceptions import InvalidPathspec, ObjectNotFound, ParameterError
from headwater.settings import Settings


@pytest.fixture
def cli():
    @click.group()
    @click.pass_context
    def group(ctx):
        ctx.obj = SimpleNamespace(flow_name="CliFlow", settings=Settings())

    add_inspect_commands(group)

    def invoke(*args: str, ok: bool = True):
        result = CliRunner().invoke(group, list(args), prog_name="cli_flow.py")
        if ok and result.exit_code != 0:
            raise AssertionError(f"exit {result.exit_code}: {result.output}\n"
                                 f"{result.exception!r}")
        return result

    return invoke


@pytest.fixture
def recorded(make_run):
    b = make_run("CliFlow", tags=("t1",))
    ids = {"start": b.task("start", {"items": [1, 2]}, stdout="starting\n", stderr="warn\n")}
    ids["fan"] = [b.task("fan", {"item": i, "_hidden": 0}, foreach=[("start", i, 2)],
                         stdout=f"item {i}\n") for i in range(2)]
    ids["end"] = b.task("end", {"arr": np.zeros((3, 4)), "text": "x" * 50}, attempts=2,
                        stdout="done\n")
    return b, ids


def test_logs_of_a_task_and_of_every_task_of_a_step(cli, recorded):
    b, ids = recorded
    out = cli("logs", f"{b.run_id}/start/{ids['start']}")
    assert out.stdout == "[attempt 0] starting\n" and out.stderr == "[attempt 0] warn\n"
    assert cli("logs", f"{b.run_id}/start", "--stdout").stderr == ""
    only_err = cli("logs", f"{b.run_id}/start", "--stderr")  # to stdout, as in Metaflow
    assert only_err.stdout == "[attempt 0] warn\n" and only_err.stderr == ""
    fan = cli("logs", f"{b.run_id}/fan").stdout.splitlines()
    assert fan == [f"==> {b.run_id}/fan/{ids['fan'][0]} (attempt 0) <==", "[attempt 0] item 0",
                   f"==> {b.run_id}/fan/{ids['fan'][1]} (attempt 0) <==", "[attempt 0] item 1"]
    # a full pathspec works too; attempts default to the latest
    assert cli("logs", f"CliFlow/{b.run_id}/end/{ids['end']}").stdout == "[attempt 1] done\n"
    assert cli("logs", f"{b.run_id}/end", "--attempt", "0").stdout == "[attempt 0] done\n"
    assert cli("logs", f"{b.run_id}/start", "--stdout").stdout == "[attempt 0] starting\n"
    empty = cli("logs", f"{b.run_id}/end", "--stderr")
    assert empty.stdout == "" and "No stderr output" in empty.stderr


def test_dump_shows_values_and_respects_the_options(cli, recorded):
    b, ids = recorded
    out = cli("dump", f"{b.run_id}/fan").stdout.splitlines()
    assert out == [f"CliFlow/{b.run_id}/fan/{ids['fan'][0]} (attempt 0, successful)",
                   "  item (int) = 0",
                   f"CliFlow/{b.run_id}/fan/{ids['fan'][1]} (attempt 0, successful)",
                   "  item (int) = 1"]
    private = cli("dump", f"{b.run_id}/fan/{ids['fan'][0]}", "--private").stdout
    assert "  _hidden (int) = 0" in private and "  _success (bool) = True" in private
    end = cli("dump", f"{b.run_id}/end", "--max-value-size", "20").stdout
    assert "(attempt 1, successful)" in end
    assert "  text (str) = 'xxxxxxxxxxxxxxxxxxx... (32 more characters; raise " \
           "--max-value-size to see them)" in end
    full = cli("dump", f"{b.run_id}/end").stdout
    assert "  arr (numpy.ndarray) = array([[0., 0., 0., 0.],\n           [0., " in full
    only = cli("dump", f"{b.run_id}/end", "--include", "text, arr").stdout
    assert "text (str)" in only and "arr (" in only and "_success" not in only
    failed = cli("dump", f"{b.run_id}/end", "--attempt", "0", "--private").stdout
    assert "(attempt 0, failed)" in failed and "_exception (headwater.decorators.catch" in failed


def test_dump_and_logs_reject_bad_input(cli, recorded):
    b, ids = recorded
    cases = [
        (("logs", "12"), InvalidPathspec, "'12' is not RUN/STEP or RUN/STEP/TASK"),
        (("logs", "a/b/c/d/e"), InvalidPathspec, "e.g. python cli_flow.py logs 12/start"),
        (("dump", "OtherFlow/1/start/2"), InvalidPathspec, "is not RUN/STEP"),
        (("logs", "99/start"), ObjectNotFound, "run CliFlow/99 does not exist"),
        (("logs", f"{b.run_id}/trian"), ObjectNotFound, "steps of run"),
        (("dump", f"{b.run_id}/start/999"), ObjectNotFound, "task CliFlow/.*/start/999"),
        (("logs", f"{b.run_id}/end", "--attempt", "7"), ObjectNotFound, "has no attempt 7"),
        (("dump", f"{b.run_id}/end", "--include", "nope,text"), ObjectNotFound,
         "has no artifact 'nope'"),
        (("dump", f"{b.run_id}/end", "--include", " , "), ParameterError, "no artifact names"),
    ]
    for args, error, message in cases:
        result = cli(*args, ok=False)
        assert isinstance(result.exception, error), (args, result.exception)
        assert result.exit_code == 1
        assert re.search(message, str(result.exception)), (args, str(result.exception))
    bad_attempt = cli("logs", f"{b.run_id}/end", "--attempt", "-1", ok=False)
    assert bad_attempt.exit_code == 2 and "-1" in bad_attempt.output


def test_tag_commands(cli, make_run):
    mine = make_run("CliFlow", tags=("t1",))
    mine.linear({"start": {}, "end": {}})
    theirs = make_run("CliFlow", user="alice", tags=("x",))
    theirs.linear({"start": {}, "end": {}})

    added = cli("tag", "add", "good", "exp:1").stdout  # default: my latest run
    assert f"Run CliFlow/{mine.run_id} (tester," in added
    assert "user tags:   exp:1, good, t1" in added
    assert Run(mine.pathspec).user_tags == {"t1", "good", "exp:1"}
    cli("tag", "remove", "exp:1")
    warned = cli("tag", "add", "user:mallory")
    assert warned.stderr == ("Warning: 'user:mallory' is a system tag, which cannot be added "
                             "as a user tag: ignored\n")
    assert "user:mallory" not in Run(mine.pathspec).tags
    cli("tag", "replace", "good", "best")
    assert Run(mine.pathspec).user_tags == {"t1", "best"}
    # another user's run, by id, in any namespace
    cli("tag", "add", "--run-id", theirs.run_id, "reviewed")
    with namespace(None):
        assert "reviewed" in Run(theirs.pathspec).user_tags
    assert get_namespace() == "user:tester"  # the command did not leave its namespace behind

    listed = cli("tag", "list").stdout
    assert f"Run CliFlow/{mine.run_id}" in listed and f"CliFlow/{theirs.run_id}" not in listed
    assert "system tags: " in listed and "user:tester" in listed
    every = cli("tag", "list", "--all", "--hide-system-tags").stdout
    assert f"CliFlow/{theirs.run_id} (alice," in every and "system tags" not in every
    one = cli("tag", "list", "--run-id", theirs.run_id).stdout
    assert "user tags:   reviewed, x" in one and "user:alice" in one


def test_tag_commands_reject_bad_input(cli, make_run):
    assert cli("tag", "list").stdout == "No runs of CliFlow by user:tester.\n"  # never ran
    assert "does not exist" in str(cli("tag", "add", "x", ok=False).exception)
    make_run("CliFlow", user="alice").linear({"start": {}, "end": {}})
    assert cli("tag", "list").stdout == "No runs of CliFlow by user:tester.\n"
    cases = [
        (("tag", "add", "x"), ObjectNotFound, "user:tester has no run of CliFlow"),
        (("tag", "add", "--run-id", "99", "x"), ObjectNotFound, "run CliFlow/99 does not exist"),
        (("tag", "add", "--run-id", "1", ""), ParameterError, "not a non-empty string"),
        (("tag", "remove", "--run-id", "1", "user:alice"), ParameterError, "is a system tag"),
        (("tag", "remove", "--run-id", "1", "absent"), ParameterError, "has no tag 'absent'"),
        (("tag", "replace", "--run-id", "1", "absent", "y"), ParameterError,
         "has no tag 'absent'"),
    ]
    for args, error, message in cases:
        result = cli(*args, ok=False)
        assert isinstance(result.exception, error), (args, result.exception)
        assert message in str(result.exception), (args, str(result.exception))
    with namespace(None):
        assert Run("CliFlow/1").user_tags == set()
    assert cli("tag", "add", ok=False).exit_code == 2  # click: missing TAGS


def test_dump_file_writes_the_artifacts_pickled(cli, recorded, tmp_path):
    b, ids = recorded
    target = tmp_path / "out.pkl"
    out = cli("dump", f"{b.run_id}/fan", "--file", str(target))
    assert out.stdout == f"Artifacts of 2 tasks written to {target}\n"
    with open(target, "rb") as f:
        dumped = pickle.load(f)
    assert dumped == {f"{b.run_id}/fan/{ids['fan'][0]}": {"item": 0},
                      f"{b.run_id}/fan/{ids['fan'][1]}": {"item": 1}}
    # whole values, whatever --max-value-size (it only cuts what is shown)
    cli("dump", f"{b.run_id}/end/{ids['end']}", "--private", "--include", "text,arr",
        "--max-value-size", "10", "--file", str(target))
    with open(target, "rb") as f:
        (values,) = pickle.load(f).values()
    assert values["text"] == "x" * 50 and values["arr"].shape == (3, 4)


def test_tag_list_flat_prints_one_tag_a_line(cli, make_run):
    mine = make_run("CliFlow", tags=("t1", "b2"))
    mine.linear({"start": {}, "end": {}})
    flat = cli("tag", "list", "--flat", "--hide-system-tags", "--run-id", mine.run_id).stdout
    assert flat.splitlines() == ["b2", "t1"]
    every = cli("tag", "list", "--flat", "--run-id", mine.run_id).stdout.splitlines()
    assert "user:tester" in every and "t1" in every and every == sorted(every)


@pytest.mark.slow
def test_list_runs_shows_status_duration_and_tags(cli, make_run, hw_env):
    ok = make_run("CliFlow", tags=("baseline",))
    ok.linear({"start": {}, "end": {}})
    failed = make_run("CliFlow")
    failed.linear({"start": {}, "end": {}}, ok=False)
    stopped = make_run("CliFlow")
    stopped.task("start", ok=False)
    beat = hw_env / "CliFlow" / stopped.run_id / "_meta" / "heartbeat"
    beat.parent.mkdir(parents=True, exist_ok=True)
    beat.touch()
    os.utime(beat, (time.time() - 3600, time.time() - 3600))  # its scheduler is gone
    running = make_run("CliFlow", tags=("live",))
    running.task("start", finished=False)
    make_run("CliFlow", user="alice").linear({"start": {}, "end": {}})

    lines = cli("list-runs").stdout.splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "STARTED", "DURATION", "TAGS"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {ok.run_id, failed.run_id, stopped.run_id, running.run_id}
    assert rows[ok.run_id].split()[1] == "successful" and rows[ok.run_id].endswith("baseline")
    assert rows[failed.run_id].split()[1] == "failed"
    assert rows[stopped.run_id].split()[1] == "failed"
    assert rows[running.run_id].split()[1] == "running" and rows[running.run_id].endswith("live")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d+(\.\d)? s", rows[ok.run_id])
    every = cli("list-runs", "--all").stdout
    assert len(every.splitlines()) == 6
    assert cli("list-runs", "--limit", "1").stdout.splitlines()[1].split()[0] == running.run_id


def test_headwater_runs_lists_a_flows_runs_without_the_flow_file(make_run):
    from headwater.cli.main import cli as headwater_cli

    b = make_run("CliFlow", tags=("baseline",))
    b.linear({"start": {}, "end": {}})
    result = CliRunner().invoke(headwater_cli, ["runs", "CliFlow"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split()[:2] == [b.run_id, "successful"]
    missing = CliRunner().invoke(headwater_cli, ["runs", "NoSuchFlow"])
    assert isinstance(missing.exception, ObjectNotFound)
    assert "flow 'NoSuchFlow' does not exist" in str(missing.exception)
