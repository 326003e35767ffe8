"""Parameters: types (given and inferred), defaults (plain and callable), required ones, and
values given on the command line as ``--name value``."""

from __future__ import annotations

import json

import pytest

from headwater import FlowSpec, JSONType, Parameter, step
from headwater.exceptions import ParameterError
from headwater.parameters import DeployTimeContext, flow_parameters, resolve_parameters


@pytest.mark.parametrize("kind,raw,value", [
    (str, "hello", "hello"),
    (str, 12, "12"),
    (int, "42", 42),
    (int, "-3", -3),
    (float, "0.25", 0.25),
    (float, "3", 3.0),
    (bool, "true", True),
    (bool, "False", False),
    (bool, "yes", True),
    (bool, "0", False),
    (bool, True, True),
    (JSONType, '{"depth": 3, "layers": [1, 2]}', {"depth": 3, "layers": [1, 2]}),
    (JSONType, "[1, 2]", [1, 2]),
    (JSONType, {"already": "parsed"}, {"already": "parsed"}),
])
def test_explicit_types_convert(kind, raw, value):
    converted = Parameter("p", type=kind).convert(raw)
    assert converted == value and type(converted) is type(value)


@pytest.mark.parametrize("kind,raw,expects,example", [
    (int, "abc", "an integer", "--my-param 42"),
    (int, "1.5", "an integer", "--my-param 42"),
    (float, "fast", "a number", "--my-param 0.5"),
    (bool, "maybe", "true or false", "--my-param true"),
    (JSONType, "{not json", "JSON", "--my-param '{\"key\": 1}'"),
])
def test_badly_typed_value_names_the_option_and_an_example(kind, raw, expects, example):
    with pytest.raises(ParameterError) as info:
        Parameter("my_param", type=kind).convert(raw)
    assert info.value.message == f"parameter --my-param expects {expects}, got {raw!r}"
    assert info.value.fix == f"pass e.g. {example}"


@pytest.mark.parametrize("default,kind", [
    (True, bool), (False, bool),  # bool before int: True is an int too
    (3, int), (0.5, float), ("text", str), ({"a": 1}, JSONType), ([1, 2], JSONType),
    (None, str), (lambda: 3, str),
])
def test_type_is_inferred_from_the_default(default, kind):
    assert Parameter("p", default=default).type is kind


def test_explicit_type_wins_over_the_default():
    param = Parameter("p", default="7", type=int)
    assert param.type is int and param.resolve_default("F", "u") == 7


def test_separator_splits_a_string():
    assert Parameter("tags", separator=",").convert("a,b,c") == ["a", "b", "c"]


@pytest.mark.parametrize("name", ["", "--alpha", None, 3])
def test_bad_parameter_names(name):
    with pytest.raises(ParameterError, match="is invalid") as info:
        Parameter(name)
    assert "Parameter('alpha'" in info.value.fix


def test_unsupported_type():
    with pytest.raises(ParameterError) as info:
        Parameter("when", type=list)
    assert "unsupported type" in info.value.message
    assert info.value.fix == "use str, int, float, bool or JSONType"


def test_callable_default_with_and_without_context():
    seen = []

    def with_context(ctx):
        seen.append(ctx)
        return f"{ctx.flow_name}:{ctx.user_name}:{ctx.parameter_name}"

    assert Parameter("tag", default=with_context).resolve_default("TrainFlow", "ana") \
        == "TrainFlow:ana:tag"
    assert isinstance(seen[0], DeployTimeContext)
    assert Parameter("n", default=lambda: "5", type=int).resolve_default("F", "u") == 5


def test_callable_default_is_evaluated_when_resolved_not_when_declared():
    calls = []
    param = Parameter("stamp", default=lambda: calls.append(1) or len(calls), type=int)
    assert calls == []
    assert param.resolve_default("F", "u") == 1
    assert param.resolve_default("F", "u") == 2


class ParamFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.01, help="learning rate")
    epochs = Parameter("epochs", type=int, required=True)
    model_name = Parameter("model-name", default="rf")
    settings = Parameter("settings", type=JSONType, default='{"depth": 3}')

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class ChildParamFlow(ParamFlow):
    extra = Parameter("extra", default=True)


def test_flow_parameters_by_attribute_including_inherited():
    assert list(flow_parameters(ParamFlow)) == ["alpha", "epochs", "model_name", "settings"]
    assert list(flow_parameters(ChildParamFlow))[-1] == "extra"
    assert ParamFlow.model_name.option_name == "model-name"


def test_resolve_parameters_converts_given_values_and_defaults_the_rest():
    values = resolve_parameters(ParamFlow, {"epochs": "10", "model_name": "xgb"}, "ana")
    assert values == {"alpha": 0.01, "epochs": 10, "model_name": "xgb",
                      "settings": {"depth": 3}}


def test_missing_required_parameter():
    with pytest.raises(ParameterError) as info:
        resolve_parameters(ParamFlow, {}, "ana")
    assert info.value.message == "parameter --epochs is required"
    assert info.value.fix == "pass --epochs VALUE"


def test_unknown_parameter_lists_the_known_ones():
    with pytest.raises(ParameterError) as info:
        resolve_parameters(ParamFlow, {"epochs": "1", "nope": "1"}, "ana")
    assert info.value.message == "ParamFlow has no parameter 'nope'"
    assert info.value.fix == "known parameters: --alpha, --epochs, --model-name, --settings"


def test_badly_typed_given_value():
    with pytest.raises(ParameterError, match="--epochs expects an integer, got 'ten'"):
        resolve_parameters(ParamFlow, {"epochs": "ten"}, "ana")


FLOW = """
    import json
    from headwater import FlowSpec, JSONType, Parameter, step

    def default_tag(ctx):
        return f"{ctx.flow_name}-{ctx.user_name}"

    class CliParamFlow(FlowSpec):
        alpha = Parameter("alpha", default=0.01, help="Learning rate of the optimizer")
        epochs = Parameter("epochs", type=int, required=True, help="Passes over the data")
        model_name = Parameter("model_name", default="rf")
        settings = Parameter("settings", type=JSONType, default='{"depth": 3}')
        verbose = Parameter("verbose", default=False)
        tag = Parameter("tag", default=default_tag)

        @step
        def start(self):
            print("PARAMS " + json.dumps({"alpha": self.alpha, "epochs": self.epochs,
                                          "model_name": self.model_name,
                                          "settings": self.settings, "verbose": self.verbose,
                                          "tag": self.tag}))
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        CliParamFlow()
"""


def _printed_params(stdout: str) -> dict:
    line = next(line for line in stdout.splitlines() if "PARAMS " in line)
    return json.loads(line.split("PARAMS ", 1)[1])


def test_values_on_the_command_line(run_flow, write_flow):
    flow = write_flow(FLOW)
    proc = run_flow(flow, "run", "--epochs", "5", "--alpha", "0.5", "--model-name", "xgb",
                    "--settings", '{"depth": 7}')
    assert _printed_params(proc.stdout) == {"alpha": 0.5, "epochs": 5, "model_name": "xgb",
                                            "settings": {"depth": 7}, "verbose": False,
                                            "tag": "CliParamFlow-tester"}
    proc = run_flow(flow, "run", "--epochs=2")
    assert _printed_params(proc.stdout) == {"alpha": 0.01, "epochs": 2, "model_name": "rf",
                                            "settings": {"depth": 3}, "verbose": False,
                                            "tag": "CliParamFlow-tester"}


def test_help_shows_parameters(run_flow, write_flow):
    proc = run_flow(write_flow(FLOW), "run", "--help")
    text = " ".join(proc.stdout.split())  # click wraps long lines
    assert "--alpha FLOAT Learning rate of the optimizer [default: 0.01]" in text
    assert "--epochs INT Passes over the data [required]" in text
    assert "--model-name STR" in text and "[default: rf]" in text
    assert "--settings JSONTYPE" in text
    assert "--verbose" in text


def test_bool_parameter_takes_a_value(run_flow, write_flow):
    """Metaflow users write ``--flag true`` / ``--flag False`` (the issue: ``--name value``)."""
    flow = write_flow(FLOW)
    assert _printed_params(run_flow(flow, "run", "--epochs", "1", "--verbose", "true").stdout
                           )["verbose"] is True
    assert _printed_params(run_flow(flow, "run", "--epochs", "1", "--verbose", "False").stdout
                           )["verbose"] is False


@pytest.mark.parametrize("assignment,what", [
    ("self.THRESHOLD = 0.9", "self.THRESHOLD, a class attribute"),
    ("self.alpha = 2.0", "self.alpha, a Parameter"),
    ("self.settings = {}", "self.settings, a Config"),
])
def test_a_step_cannot_modify_flow_level_attributes_or_parameters(run_flow, write_flow,
                                                                 assignment, what):
    flow = write_flow(f"""
        from headwater import Config, FlowSpec, Parameter, step

        class ConstFlow(FlowSpec):
            THRESHOLD = 0.5
            alpha = Parameter("alpha", default=1.0)
            settings = Config("settings", default_value={{"a": 1}})

            @step
            def start(self):
                {assignment}
                self.next(self.end)

            @step
            def end(self):
                print("end", self.THRESHOLD, self.alpha)

        if __name__ == "__main__":
            ConstFlow()
    """)
    proc = run_flow(flow, "run", check=False)
    assert proc.returncode == 1
    assert "Flow level attributes and Parameters are not modifiable" in proc.stderr
    assert what in proc.stderr
    assert assignment in proc.stderr  # the traceback points at the line


def test_a_plain_flow_object_may_set_class_attributes():
    class ConstFlow(FlowSpec):
        THRESHOLD = 0.5

    flow = ConstFlow()
    flow.THRESHOLD = 0.9  # outside a run: an ordinary object, as in a unit test
    assert flow.THRESHOLD == 0.9


def test_a_parameter_can_come_from_the_environment(write_flow, run_flow):
    """``METAFLOW_RUN_<NAME>`` sets a parameter the command line does not (Metaflow's
    convention); the command line wins; a bad value is the parameter's own error."""
    path = write_flow('''
        from headwater import FlowSpec, Parameter, step

        class EnvParamFlow(FlowSpec):
            n_items = Parameter("n-items", default=1)

            @step
            def start(self):
                print("n_items =", self.n_items)
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            EnvParamFlow()
    ''')
    assert "n_items = 7" in run_flow(path, "run", env={"METAFLOW_RUN_N_ITEMS": "7"}).stdout
    assert "n_items = 3" in run_flow(path, "run", "--n-items", "3",
                                     env={"METAFLOW_RUN_N_ITEMS": "7"}).stdout
    bad = run_flow(path, "run", env={"METAFLOW_RUN_N_ITEMS": "many"}, check=False)
    assert bad.returncode == 1 and "n-items" in bad.stderr and "Traceback" not in bad.stderr


def test_a_default_function_sees_the_project_in_current(run_flow, write_flow):
    flow = write_flow("""
        from headwater import FlowSpec, Parameter, current, project, step

        def branch_default(ctx):
            return f"{current.project_name}:{current.branch_name}"

        @project(name="demo")
        class ProjectParamFlow(FlowSpec):
            where = Parameter("where", default=branch_default)

            @step
            def start(self):
                print("WHERE", self.where)
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            ProjectParamFlow()
    """)
    proc = run_flow(flow, "run")
    assert "WHERE demo:user.tester" in proc.stdout


def test_defaults_from_configs(run_flow, write_flow):
    flow = write_flow("""
        from headwater import Config, FlowSpec, Parameter, config_expr, step

        def from_config(ctx):
            return ctx.configs.settings.base + 1

        class ConfigParamFlow(FlowSpec):
            settings = Config("settings", default_value={"base": 41})
            direct = Parameter("direct", default=config_expr("settings.base"), type=int)
            derived = Parameter("derived", default=from_config, type=int)

            @step
            def start(self):
                print("VALUES", self.direct, self.derived)
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            ConfigParamFlow()
    """)
    assert "VALUES 41 42" in run_flow(flow, "run").stdout
    proc = run_flow(flow, "--config-value", "settings", '{"base": 1}', "run")
    assert "VALUES 1 2" in proc.stdout
