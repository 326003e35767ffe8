"""Changing a run's user tags through the Client API."""

from __future__ import annotations

import pytest

from headwater import Flow, Run
from headwater.exceptions import ObjectNotFound, ParameterError


@pytest.fixture
def run(make_run):
    b = make_run("TagFlow", tags=("first",))
    b.linear({"start": {}, "end": {}})
    return Run(b.pathspec)


def test_add_remove_replace_are_stored(run):
    run.add_tag("baseline")
    run.add_tags(["exp:1", "exp:2", "baseline"])
    assert run.user_tags == {"first", "baseline", "exp:1", "exp:2"}
    assert Run(run.pathspec).user_tags == run.user_tags  # persisted, not just cached
    run.remove_tag("exp:1")
    run.remove_tags(["exp:2"])
    run.replace_tag("first", "second")
    assert Run(run.pathspec).user_tags == {"baseline", "second"}
    run.replace_tags(["baseline", "second"], ["final"])
    assert Run(run.pathspec).user_tags == {"final"}
    assert [r.id for r in Flow("TagFlow").runs("final")] == [run.id]
    # system tags are untouched by all of this
    assert "user:tester" in Run(run.pathspec).system_tags
    # steps and tasks read the run's current tags
    assert "final" in Run(run.pathspec)["start"].task.tags


def test_system_tags_cannot_be_removed(run):
    with pytest.raises(ParameterError, match="'user:tester' of run .* is a system tag"):
        run.remove_tag("user:tester")
    with pytest.raises(ParameterError, match="are system tags"):
        run.replace_tags(["runtime:dev", "user:tester"], ["x"])
    assert Run(run.pathspec).user_tags == {"first"}  # nothing changed
    assert "user:tester" in Run(run.pathspec).system_tags


def test_system_tags_are_not_added_as_user_tags(run):
    with pytest.warns(UserWarning, match=r"'user:mallory', 'runtime:dev' .*system tags.*ignored"):
        run.add_tags(["ok", "user:mallory", "runtime:dev"])
    stored = Run(run.pathspec)
    assert stored.user_tags == {"first", "ok"}
    assert "user:mallory" not in stored.tags
    with pytest.warns(UserWarning, match="'user:tester' .*system tag"):
        run.replace_tags(["ok"], ["user:tester"])
    assert Run(run.pathspec).user_tags == {"first"}


def test_a_remove_that_names_a_system_tag_removes_nothing(run):
    run.add_tag("second")
    # a system tag by its prefix, even one this run does not carry
    with pytest.raises(ParameterError, match="'user:someone' .* is a system tag"):
        run.remove_tags(["first", "user:someone"])
    with pytest.raises(ParameterError, match="system tag"):
        run.remove_tags(["second", "user:tester"])
    assert Run(run.pathspec).user_tags == {"first", "second"}


@pytest.mark.parametrize("bad", ["", "   ", 5, None, "x" * 501])
def test_bad_tags_are_refused_before_anything_is_written(run, bad):
    with pytest.raises(ParameterError, match="tag"):
        run.add_tags(["ok", bad])
    assert Run(run.pathspec).user_tags == {"first"}


def test_a_single_string_is_one_tag(run):
    run.add_tags("whole-tag")
    assert "whole-tag" in run.user_tags and "w" not in run.user_tags


def test_the_single_tag_methods_take_a_list_too(run):
    run.add_tag(["whoop", "eee"])
    assert {"whoop", "eee"} <= Run(run.pathspec).user_tags
    run.replace_tag(["whoop", "eee"], ["woo", "hoo"])
    assert Run(run.pathspec).user_tags == {"first", "woo", "hoo"}
    run.remove_tag(["woo", "hoo"])
    assert Run(run.pathspec).user_tags == {"first"}


def test_replacing_nothing_with_nothing_is_refused(run):
    with pytest.raises(ParameterError, match="no tag to remove and none to add"):
        run.replace_tags([], [])


def test_tagging_a_run_that_disappeared(run, hw_env):
    import shutil

    shutil.rmtree(hw_env / "TagFlow" / run.id)
    with pytest.raises(ObjectNotFound, match="does not exist"):
        run.add_tag("late")
