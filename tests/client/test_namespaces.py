"""Namespaces: user by default, shared via METAFLOW_USER_NAMESPACE, global with None; the
three forms of ``namespace``; NamespaceMismatch."""

from __future__ import annotations

import pytest

from headwater import (DataArtifact, Flow, FlowSpec, Metaflow, Run, Step, Task,
                       default_namespace, get_namespace, namespace)
from headwater.exceptions import ConfigurationError, NamespaceMismatch, ObjectNotFound


@pytest.fixture
def three_users(make_run):
    """Runs of one flow by tester (mine), alice, and bob in the shared 'production'."""
    runs = {}
    for user, ns in (("tester", None), ("alice", None), ("bob", "production")):
        b = make_run("TeamFlow", user=user, namespace=ns)
        b.linear({"start": {"who": user}, "end": {"who": user}})
        runs[user] = b.run_id
    return runs


def test_default_is_the_user_namespace(three_users, monkeypatch):
    assert get_namespace() == "user:tester" == default_namespace()
    assert [r.id for r in Flow("TeamFlow").runs()] == [three_users["tester"]]
    assert Flow("TeamFlow").latest_run.data.who == "tester"
    monkeypatch.setenv("METAFLOW_USER", "alice")  # the default follows the settings
    assert get_namespace() == "user:alice"
    assert Flow("TeamFlow").latest_run.data.who == "alice"


def test_shared_namespace_from_the_environment(three_users, monkeypatch):
    monkeypatch.setenv("METAFLOW_USER_NAMESPACE", "production")
    assert get_namespace() == "production"
    assert [r.id for r in Flow("TeamFlow").runs()] == [three_users["bob"]]


def test_global_namespace_sees_every_run(three_users):
    result = namespace(None)
    assert result == None and get_namespace() is None  # noqa: E711 (Metaflow compares so)
    assert sorted(r.id for r in Flow("TeamFlow")) == sorted(three_users.values())
    assert Run(f"TeamFlow/{three_users['bob']}").data.who == "bob"
    assert default_namespace() == "user:tester" and get_namespace() == "user:tester"


def test_plain_call_switches_until_the_next_switch(three_users):
    assert namespace("user:alice") == "user:alice"
    assert get_namespace() == "user:alice"
    assert [r.data.who for r in Flow("TeamFlow").runs()] == ["alice"]
    namespace("production")
    assert [r.data.who for r in Flow("TeamFlow").runs()] == ["bob"]


def test_context_manager_restores_the_previous_namespace(three_users):
    with namespace("production") as ns:
        assert ns == "production" == get_namespace()
        runs = Flow("TeamFlow").runs()
        with namespace(None):
            assert len(Flow("TeamFlow").runs()) == 3
        assert get_namespace() == "production"
    assert get_namespace() == "user:tester"
    assert [r.data.who for r in runs] == ["bob"]
    namespace("user:alice")
    with namespace("production"):
        pass
    assert get_namespace() == "user:alice"
    with pytest.raises(KeyError):
        with namespace(None):
            raise KeyError("boom")
    assert get_namespace() == "user:alice"  # restored on error too


def test_objects_keep_the_namespace_they_were_created_in(three_users):
    with namespace("production"):
        flow = Flow("TeamFlow")
    assert [r.data.who for r in flow.runs()] == ["bob"]
    assert get_namespace() == "user:tester"


def test_class_decorator_marks_the_flow_and_leaves_the_client_alone():
    namespace("user:alice")

    @namespace("ml-experiments")
    class ExperimentFlow(FlowSpec):
        pass

    assert ExperimentFlow._flow_namespace == "ml-experiments"
    assert FlowSpec._flow_namespace is None
    assert get_namespace() == "user:alice"

    default_namespace()

    @namespace("other")
    class Other(FlowSpec):
        pass

    assert Other._flow_namespace == "other" and get_namespace() == "user:tester"


def test_bad_namespace_arguments():
    for bad in ("", "  ", 12, ["a"]):
        with pytest.raises(ConfigurationError, match="namespace must be a non-empty string"):
            namespace(bad)
    assert get_namespace() == "user:tester"
    with pytest.raises(ConfigurationError, match="decorates a flow class"):
        namespace("x")(lambda: None)
    assert get_namespace() == "user:tester"
    with pytest.raises(ConfigurationError, match=r"@namespace\(None\) on F has no effect"):
        @namespace(None)
        class F(FlowSpec):
            pass
    assert get_namespace() == "user:tester"


def test_objects_outside_the_namespace_raise_namespace_mismatch(three_users):
    bob = f"TeamFlow/{three_users['bob']}"
    with pytest.raises(NamespaceMismatch) as info:
        Run(bob)
    text = str(info.value)
    assert f"run {bob} is not in the current namespace 'user:tester'" in text
    assert "started by user:bob" in text and "namespace(None)" in text
    assert isinstance(info.value, ObjectNotFound)  # `except MetaflowNotFound` catches it
    with namespace(None):
        task = Run(bob)["start"].task
    for cls, path in ((Step, f"{bob}/start"), (Task, task.pathspec),
                      (DataArtifact, f"{task.pathspec}/who")):
        with pytest.raises(NamespaceMismatch):
            cls(path)
    with pytest.raises(NamespaceMismatch):
        Flow("TeamFlow")[three_users["bob"]]
    assert three_users["bob"] not in Flow("TeamFlow")
    with namespace("production"):
        assert Run(bob).data.who == "bob" and Step(f"{bob}/start").task.data.who == "bob"


def test_metaflow_lists_flows_with_runs_in_the_namespace(make_run):
    make_run("MineFlow").linear({"start": {}, "end": {}})
    make_run("TheirFlow", user="alice").linear({"start": {}, "end": {}})
    assert [f.id for f in Metaflow()] == ["MineFlow"]
    with namespace(None):
        assert [f.id for f in Metaflow()] == ["MineFlow", "TheirFlow"]
    # a flow is never out of the namespace itself; its runs are
    assert Flow("TheirFlow").runs() == [] and Flow("TheirFlow").latest_run is None
