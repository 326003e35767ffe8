"""Decorators as plain objects: built from code (``@retry``, ``@retry(times=2)``) or from
``--with NAME:key=value``, inspected without running a flow, and every bad value a clear
``DecoratorError`` (raised when the flow is checked, as ``check`` and ``run`` do)."""

from __future__ import annotations

import pytest

from headwater import FlowSpec, catch, environment, project, resources, retry, schedule, step
from headwater import timeout
from headwater.cli.flow_cli import FlowContext
from headwater.decorators import (STEP_DECORATORS, DecoratorError, StepDecorator, parse_with,
                                  step_decorator_class)
from headwater.decorators.base import make_step_decorator
from headwater.decorators.catch import CatchDecorator
from headwater.decorators.project import ProjectDecorator, ScheduleDecorator
from headwater.decorators.retry import RetryDecorator
from headwater.decorators.timeout import KILL_GRACE_SECONDS

from .flow_files import import_flow_module


class TaggedDecorator(StepDecorator):
    """A decorator defined outside Headwater, registered the documented way (one line)."""

    name = "tagged"
    defaults = {"labels": [], "meta": {}, "note": None}


@pytest.fixture
def tagged(monkeypatch):
    monkeypatch.setitem(STEP_DECORATORS, "tagged", f"{__name__}:TaggedDecorator")


# --- built in code, inspected without running -----------------------------------------------


def test_bare_and_called_forms_attach_plain_objects():
    class Flow(FlowSpec):
        @retry
        @step
        def start(self):
            self.next(self.end)

        @step
        @retry(times=2, minutes_between_retries=0)
        @catch(var="error")
        def end(self):
            pass

    (bare,) = Flow.start.decorators
    assert isinstance(bare, RetryDecorator)
    # No wait given: retry at once, like Metaflow's local runner (issue 8, item 20).
    assert bare.attributes == {"times": 3, "minutes_between_retries": None}
    assert bare.retries() == 3 and bare.retry_delay_seconds() == 0
    assert RetryDecorator({"minutes_between_retries": 1.5}).retry_delay_seconds() == 90
    assert not bare.from_cli
    assert [d.name for d in Flow.end.decorators] == ["catch", "retry"]
    assert Flow.end.decorators[1].retries() == 2
    assert repr(Flow.end.decorators[0]) == "@catch(var='error', print_exception=True)"


def test_hooks_that_answer_without_a_task():
    assert timeout(seconds=30, minutes=1).timeout_seconds() == 90 + KILL_GRACE_SECONDS
    assert timeout(hours=1).total() == 3600
    assert resources(cpu=2, memory=512).requests() == {"cpu": 2, "memory": 512}
    assert StepDecorator().retries() == 0 and StepDecorator().timeout_seconds() is None


def test_unknown_argument_is_rejected_when_decorating():
    with pytest.raises(DecoratorError) as info:
        retry(tiems=2)
    assert info.value.message == "@retry got unknown argument(s) tiems"
    assert info.value.fix == "@retry accepts: times, minutes_between_retries"


def test_positional_argument_is_rejected():
    with pytest.raises(DecoratorError, match="@retry takes keyword arguments only"):
        retry(2)


def test_same_decorator_twice_on_a_step():
    with pytest.raises(DecoratorError) as info:
        @retry
        @retry(times=1)
        @step
        def start(self):
            pass
    assert info.value.message == "@retry is used twice on step 'start'"


def test_unknown_decorator_names():
    import headwater
    import headwater.decorators as decorators

    with pytest.raises(AttributeError, match="no attribute 'retyr'"):
        decorators.retyr
    with pytest.raises(AttributeError, match="no attribute 'retyr'"):
        headwater.retyr
    with pytest.raises(DecoratorError) as info:
        step_decorator_class("retyr")
    assert info.value.message.startswith("unknown step decorator 'retyr'; known: ")
    assert "catch" in info.value.message and "retry" in info.value.message
    assert "headwater.step_decorators entry point" in info.value.fix


def test_registered_decorator_whose_module_is_missing(monkeypatch):
    monkeypatch.setitem(STEP_DECORATORS, "gone", "headwater.decorators.not_written_yet:Gone")
    with pytest.raises(DecoratorError) as info:
        step_decorator_class("gone")
    assert info.value.message == ("step decorator 'gone' is registered as "
                                  "'headwater.decorators.not_written_yet:Gone', but module "
                                  "'headwater.decorators.not_written_yet' does not exist")
    assert "pip install" not in info.value.fix  # no install can add a Headwater module


def test_registered_decorator_whose_third_party_package_is_missing(monkeypatch, tmp_path):
    (tmp_path / "needs_sdk_deco.py").write_text("import not_an_installed_sdk_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(STEP_DECORATORS, "needs_sdk", "needs_sdk_deco:Deco")
    with pytest.raises(DecoratorError) as info:
        step_decorator_class("needs_sdk")
    assert info.value.message == ("step decorator 'needs_sdk' needs the package "
                                  "'not_an_installed_sdk_xyz', which is not installed")
    assert "pip install not_an_installed_sdk_xyz" in info.value.fix


def test_every_exported_decorator_is_built():
    """Each decorator name headwater exports imports and builds a decorator (the compute and
    card decorators included, now that they exist)."""
    import headwater
    import headwater.decorators.api as api

    for name in ("card", "track_resources", "kubernetes", "batch"):
        assert name in STEP_DECORATORS and name in headwater.__all__
        assert callable(getattr(api, name))
        assert step_decorator_class(name).name == name


def test_a_new_decorator_is_one_class_and_one_registry_line(tagged):
    cls = step_decorator_class("tagged")
    assert cls is TaggedDecorator
    tagged_func = make_step_decorator(cls)

    @tagged_func(labels=["x"])
    @step
    def start(self):
        pass

    assert start.decorators[0].attributes == {"labels": ["x"], "meta": {}, "note": None}


# --- --with NAME:key=value ------------------------------------------------------------------


def test_with_bare_name_and_key_values():
    deco = parse_with("retry")
    assert isinstance(deco, RetryDecorator) and deco.from_cli
    assert deco.attributes == {"times": 3, "minutes_between_retries": None}
    deco = parse_with("retry:times=2,minutes_between_retries=0")
    assert deco.attributes == {"times": 2, "minutes_between_retries": 0}
    assert parse_with(" retry : times = 1 ").attributes["times"] == 1
    deco = parse_with("catch:var=load_error,print_exception=False")
    assert deco.attributes == {"var": "load_error", "print_exception": False}
    assert parse_with("timeout:minutes=1.5").total() == 90


def test_with_list_and_dict_values(tagged):
    deco = parse_with('tagged:labels=["a","b"],meta={"k": [1, 2], "s": "x,y"},note=plain text')
    assert deco.attributes == {"labels": ["a", "b"], "meta": {"k": [1, 2], "s": "x,y"},
                               "note": "plain text"}
    deco = parse_with("environment:vars={'MODE': 'fast', 'LIST': 'a,b'}")
    assert deco.attributes["vars"] == {"MODE": "fast", "LIST": "a,b"}


def test_with_secrets_sources_list():
    deco = parse_with('secrets:sources=["a","b"]')
    assert deco.attributes["sources"] == ["a", "b"]


@pytest.mark.parametrize("spec,message,fix", [
    ("nosuch", "unknown step decorator 'nosuch'; known: ", "use one of them"),
    ("nosuch:times=1", "unknown step decorator 'nosuch'; known: ", "use one of them"),
    ("retry:tims=1", "@retry got unknown argument(s) tims",
     "@retry accepts: times, minutes_between_retries"),
    ("retry:times", "--with 'retry:times': 'times' is not key=value",
     "e.g. --with retry:times=2,minutes_between_retries=0"),
    ("retry:=2", "--with 'retry:=2': '=2' is not key=value", "e.g. --with retry:times=2"),
])
def test_with_bad_specs(spec, message, fix):
    with pytest.raises(DecoratorError) as info:
        parse_with(spec)
    assert info.value.message.startswith(message)
    assert fix in info.value.fix


# --- bad values: rejected when the flow is checked ------------------------------------------

FLOW = '''
from headwater import (FlowSpec, catch, environment, project, resources, retry, schedule,
                       step, timeout)

{flow_decorator}
class DecoFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    {step_decorator}
    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def check_flow(tmp_path, step_decorator: str = "", flow_decorator: str = "",
               with_specs: tuple[str, ...] = ()) -> FlowContext:
    """Import a flow using the decorators and check it the way ``python flow.py check`` does."""
    module = import_flow_module(tmp_path, FLOW.format(step_decorator=step_decorator,
                                                      flow_decorator=flow_decorator))
    ctx = FlowContext(module.DecoFlow)
    ctx.with_specs = list(with_specs)
    ctx.prepare()
    return ctx


BAD_VALUES = [
    ("@retry(times=-1)", "@retry(times=-1) on step 'work': times must be an integer from 0 to 4"),
    ("@retry(times=5)", "@retry(times=5) on step 'work': times must be an integer from 0 to 4"),
    ("@retry(times='2')", "@retry(times='2') on step 'work': times must be an integer"),
    ("@retry(times=True)", "@retry(times=True) on step 'work': times must be an integer"),
    ("@retry(minutes_between_retries=-1)",
     "@retry(minutes_between_retries=-1) on step 'work' must be a number >= 0"),
    ("@timeout(seconds=0)", "@timeout on step 'work' needs a positive duration"),
    ("@timeout", "@timeout on step 'work' needs a positive duration"),
    ("@timeout(minutes=-5)", "@timeout on step 'work' needs a positive duration"),
    ("@timeout(seconds='soon')", "@timeout on step 'work' takes numbers"),
    ("@catch(var='not an identifier')",
     "@catch(var='not an identifier') on step 'work': var must be an attribute name"),
    ("@catch(var=3)", "@catch(var=3) on step 'work': var must be an attribute name"),
    ("@resources(memory=-1)", "@resources(memory=-1) on step 'work' must be a non-negative number"),
    ("@resources(cpu='lots')", "@resources(cpu='lots') on step 'work' must be a non-negative "
                               "number"),
    ("@environment(vars=['A'])", "@environment(vars=...) on step 'work' takes a dict"),
]


@pytest.mark.parametrize("decorator,message", BAD_VALUES, ids=[d for d, _ in BAD_VALUES])
def test_bad_step_decorator_values(tmp_path, decorator, message):
    with pytest.raises(DecoratorError) as info:
        check_flow(tmp_path, step_decorator=decorator)
    assert info.value.message.startswith(message)


def test_bad_values_from_the_command_line(tmp_path):
    with pytest.raises(DecoratorError, match=r"@retry\(times=9\) on step 'start'"):
        check_flow(tmp_path, with_specs=("retry:times=9",))


def test_catch_on_a_foreach_step(tmp_path):
    module = import_flow_module(tmp_path, FLOW.format(step_decorator="", flow_decorator="")
                                .replace("    @step\n    def start", "    @catch\n    @step\n"
                                                                       "    def start"))
    with pytest.raises(DecoratorError, match="@catch cannot be used on step 'start'"):
        FlowContext(module.DecoFlow).prepare()


def test_good_values_pass_the_check_and_with_adds_to_every_step(tmp_path):
    ctx = check_flow(tmp_path, step_decorator="@retry(times=4, minutes_between_retries=0.5)\n"
                                              "    @timeout(minutes=2)\n"
                                              "    @catch(var='err')\n"
                                              "    @resources(cpu=0.5, memory=1024, gpu=1)\n"
                                              "    @environment(vars={'A': 1})",
                     flow_decorator="@project(name='fraud_model')\n@schedule(hourly=True)",
                     with_specs=("retry:times=1", "timeout:seconds=30"))
    graph = ctx.prepare()
    work = {d.name: d for d in graph["work"].decorators}
    assert work["retry"].attributes["times"] == 4  # the step's own decorator wins over --with
    assert work["timeout"].total() == 120
    start = {d.name: d for d in graph["start"].decorators}
    assert start["retry"].attributes["times"] == 1 and start["retry"].from_cli
    assert start["timeout"].total() == 30


# --- flow decorators ------------------------------------------------------------------------


@pytest.mark.parametrize("decorator,message,fix", [
    ("@project(name='Bad Name')",
     "@project(name='Bad Name') needs lowercase letters, digits and underscores",
     "e.g. @project(name='fraud_model')"),
    ("@project", "@project(name=None) needs lowercase letters", "fraud_model"),
    ("@schedule(cron='nope')", "@schedule(cron='nope') is not a cron expression",
     "e.g. @schedule(cron='0 2 * * ? *')"),
    ("@schedule(cron=5)", "@schedule(cron=5) is not a cron expression", "cron="),
])
def test_bad_flow_decorator_values(tmp_path, decorator, message, fix):
    with pytest.raises(DecoratorError) as info:
        check_flow(tmp_path, flow_decorator=decorator)
    assert info.value.message.startswith(message)
    assert fix in info.value.fix


def test_flow_decorators_are_recorded_on_the_class():
    @schedule(cron="0 2 * * *")
    @project(name="fraud_model", branch="exp")
    class Flow(FlowSpec):
        pass

    proj, sched = Flow._flow_decorators
    assert isinstance(proj, ProjectDecorator) and isinstance(sched, ScheduleDecorator)
    assert proj.system_tags("ana") == ["project:fraud_model", "project_branch:test.exp"]
    assert sched.schedule == "0 2 * * *"
    assert FlowSpec._flow_decorators == []  # the base class is untouched


@pytest.mark.parametrize("attributes,branch", [
    ({}, "user.ana"), ({"branch": "exp"}, "test.exp"), ({"production": True}, "prod"),
    ({"production": True, "branch": "blue"}, "prod.blue"),
])
def test_project_branches(attributes, branch):
    assert ProjectDecorator({"name": "p", **attributes}).branch("ana") == branch


@pytest.mark.parametrize("attributes,cron", [
    ({}, "0 0 * * *"), ({"hourly": True}, "0 * * * *"), ({"weekly": True}, "0 0 * * 0"),
    ({"cron": "5 4 * * *"}, "5 4 * * *"),
])
def test_schedule_expression(attributes, cron):
    assert ScheduleDecorator(attributes).schedule == cron


def test_flow_decorator_errors_when_decorating():
    with pytest.raises(DecoratorError, match="@project decorates a FlowSpec class"):
        project(name="x")(object)
    with pytest.raises(DecoratorError, match="@schedule got unknown argument"):
        schedule(daly=True)


def test_catch_stores_a_picklable_error():
    import pickle

    from headwater.decorators.catch import CaughtException

    try:
        raise ValueError("broken input")
    except ValueError as exc:
        caught = CaughtException.from_exception(exc)
    back = pickle.loads(pickle.dumps(caught))
    assert str(back) == "builtins.ValueError: broken input"
    assert "Traceback" in back.traceback and back.message == "broken input"
    assert CatchDecorator({"var": "err"}).attributes["print_exception"] is True
