"""Configs: TOML and JSON files, attribute access, placeholders in decorator arguments,
``--config-file`` / ``--config NAME PATH``, and a clear error for every bad file."""

from __future__ import annotations

import json
import pickle

import cloudpickle
import pytest

from headwater import Config, config_expr
from headwater.cli.flow_cli import FlowContext
from headwater.config import (ConfigExpr, ConfigValue, flow_configs, parse_config_text,
                              resolve_placeholders)
from headwater.exceptions import ConfigurationError

from .flow_files import import_flow_module

TOML = """
[model]
type = "random_forest"
depth = 4

[resources]
memory = 2048

[schedule]
cron = "0 2 * * *"

[[stages]]
name = "clean"
"""

CONFIG_DICT = {"model": {"type": "gbm", "depth": 9}, "resources": {"memory": 8192},
               "schedule": {"cron": "30 4 * * *"}, "stages": [{"name": "train"}]}


@pytest.fixture
def toml_file(tmp_path):
    path = tmp_path / "prod.toml"
    path.write_text(TOML)
    return path


@pytest.fixture
def json_file(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(CONFIG_DICT))
    return path


# --- reading files --------------------------------------------------------------------------


def test_toml_and_json_files(toml_file, json_file):
    config = Config("config")
    from_toml = config.load(str(toml_file))
    assert from_toml.model.type == "random_forest" and from_toml.model.depth == 4
    assert from_toml.stages[0].name == "clean"  # tables inside arrays get attributes too
    assert config.load(str(json_file)) == CONFIG_DICT


def test_unknown_extension_tries_json_then_toml(tmp_path):
    assert parse_config_text('{"a": 1}', "x.conf") == {"a": 1}
    assert parse_config_text("a = 1", "x.conf") == {"a": 1}


def test_attribute_access_and_plain_dicts(toml_file):
    cfg = Config("config").load(str(toml_file))
    assert isinstance(cfg, ConfigValue)
    assert dict(cfg.model) == {"type": "random_forest", "depth": 4}
    assert cfg["model"]["type"] == cfg.model.type
    with pytest.raises(AttributeError) as info:
        cfg.model.kind
    assert "config has no key 'kind' (keys: type, depth)" in str(info.value)


def test_config_values_pickle_as_config_values(toml_file):
    cfg = Config("config").load(str(toml_file))
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        back = loads(dumps(cfg))
        assert isinstance(back, ConfigValue) and back.model.type == "random_forest"


def test_default_file_is_found_beside_the_flow_file(tmp_path, monkeypatch):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "settings.toml").write_text("[model]\ntype = 'beside'\n")
    monkeypatch.chdir(tmp_path)  # not the flow's folder
    cfg = Config("config", default="settings.toml").load(None, str(flows / "flow.py"))
    assert cfg.model.type == "beside"
    (tmp_path / "settings.toml").write_text("[model]\ntype = 'cwd'\n")
    assert Config("config", default="settings.toml").load(None, str(flows / "flow.py")
                                                          ).model.type == "cwd"


def test_default_value_custom_parser_and_no_config():
    assert Config("c", default_value={"a": {"b": 1}}).load(None).a.b == 1
    assert Config("c").load(None) is None


def test_custom_parser(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("a=1\nb=2\n")

    def parse(text):
        return dict(line.split("=") for line in text.splitlines())

    assert Config("c", parser=parse).load(str(path)) == {"a": "1", "b": "2"}


# --- bad files ------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ConfigurationError) as info:
        Config("config").load(str(tmp_path / "nope.toml"))
    assert info.value.message == (f"config file {tmp_path / 'nope.toml'} for config 'config' "
                                  f"does not exist")
    assert info.value.fix == "create it or pass another file with --config config PATH"


def test_missing_default_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="config file absent.toml for config 'c'"):
        Config("c", default="absent.toml").load(None, str(tmp_path / "flow.py"))


@pytest.mark.parametrize("name,text,detail", [
    ("bad.toml", "x = [", "Invalid value"),
    ("bad.json", '{"a": ', "Expecting value"),
    ("bad.json", "[1, 2]", "top level is a list, not a table/object"),
    ("bad.yaml", "a: [", "Expecting value"),
])
def test_unparsable_file(tmp_path, name, text, detail):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigurationError) as info:
        Config("config").load(str(path))
    assert info.value.message.startswith(f"config file {path} cannot be parsed: ")
    assert detail in info.value.message
    assert info.value.fix == "fix the file's syntax (TOML or JSON)"


def test_unreadable_file(tmp_path):
    folder = tmp_path / "a_folder.toml"
    folder.mkdir()
    with pytest.raises(ConfigurationError) as info:
        Config("config").load(str(folder))
    assert f"config file {folder} cannot be read" in info.value.message


def test_custom_parser_failure(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("garbage")
    with pytest.raises(ConfigurationError, match=r"c.txt cannot be parsed: boom"):
        Config("c", parser=lambda text: (_ for _ in ()).throw(ValueError("boom"))
               ).load(str(path))


def test_required_config_without_file():
    with pytest.raises(ConfigurationError) as info:
        Config("creds", required=True).load(None)
    assert info.value.message == "config 'creds' is required"
    assert info.value.fix == "pass --config creds PATH"


# --- placeholders ---------------------------------------------------------------------------


def test_placeholders_resolve_against_loaded_configs(toml_file):
    config = Config("config")
    config.__set_name__(object, "config")
    expr = config.resources.memory
    assert isinstance(expr, ConfigExpr) and expr.expression == "config.resources.memory"
    assert config.stages[0].name.expression == "config.stages[0].name"
    values = {"config": config.load(str(toml_file))}
    assert expr.resolve(values) == 2048
    assert config_expr("config.schedule.cron").resolve(values) == "0 2 * * *"
    assert config_expr("config.model.depth * 2").resolve(values) == 8
    assert resolve_placeholders({"a": [expr, 1], "b": "x"}, values) == {"a": [2048, 1], "b": "x"}


def test_placeholder_with_a_wrong_key():
    with pytest.raises(ConfigurationError) as info:
        config_expr("config.resources.memroy").resolve(
            {"config": ConfigValue({"resources": {"memory": 1}})})
    assert "cannot evaluate config expression 'config.resources.memroy'" in info.value.message
    assert "memroy" in info.value.message
    assert info.value.fix == "check the key names against the config file"


def test_placeholders_are_python_expressions_with_builtins():
    # as in Metaflow: the flow's author writes them, e.g. to turn a value into a string
    config = {"config": ConfigValue({"value": 42, "names": ["b", "a"]})}
    assert config_expr("str(config.value)").resolve(config) == "42"
    assert config_expr("sorted(config.names)").resolve(config) == ["a", "b"]


def test_a_default_value_may_be_a_function_of_the_context():
    seen = []

    def default(ctx):
        seen.append((ctx.flow_name, ctx.user_name, ctx.parameter_name))
        return {"val": 456}

    assert Config("config3", default_value=default).load(None, None, "F", "ana").val == 456
    assert seen == [("F", "ana", "config3")]
    assert Config("c", default_value='{"a": 1}').load(None).a == 1  # JSON text works too


def test_config_values_are_read_only():
    cfg = ConfigValue({"val": 1, "nested": {"x": 2}})
    for change in (lambda: cfg.__setitem__("val", 5), lambda: setattr(cfg, "val", 5),
                   lambda: cfg.update(val=5), lambda: cfg.pop("val"),
                   lambda: cfg.nested.__setitem__("x", 3), lambda: cfg.clear()):
        with pytest.raises(TypeError, match="read-only"):
            change()
    assert cfg == {"val": 1, "nested": {"x": 2}}
    copy = dict(cfg)
    copy["val"] = 5  # a plain copy can change
    assert copy["val"] == 5 and pickle.loads(pickle.dumps(cfg)) == cfg


# --- configs on a flow ----------------------------------------------------------------------

FLOW = '''
from headwater import (Config, FlowSpec, config_expr, current, resources, schedule, step)


@schedule(cron=config_expr("config.schedule.cron"))
class ConfigFlow(FlowSpec):
    config = Config("config", default="default.toml")

    @resources(memory=config.resources.memory)
    @step
    def start(self):
        print("MODEL", self.config.model.type, sorted(dict(self.config.model).items()))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ConfigFlow()
'''


@pytest.fixture
def config_flow(tmp_path, json_file):
    (tmp_path / "default.toml").write_text(TOML)
    path = tmp_path / "config_flow.py"
    path.write_text(FLOW)
    return path


def _prepared(tmp_path, files: dict[str, str]):
    """The flow's decorators as ``check``/``run`` leave them, on a freshly imported class."""
    (tmp_path / "default.toml").write_text(TOML)
    module = import_flow_module(tmp_path, FLOW)
    ctx = FlowContext(module.ConfigFlow)
    ctx.config_files.update(files)
    graph = ctx.prepare()
    memory = graph["start"].decorators[0].attributes["memory"]
    cron = module.ConfigFlow._flow_decorators[0].attributes["cron"]
    return ctx.configs, memory, cron


def test_values_in_decorator_arguments_come_from_the_default_file(tmp_path):
    configs, memory, cron = _prepared(tmp_path, {})
    assert configs["config"].model.type == "random_forest"
    assert (memory, cron) == (2048, "0 2 * * *")


def test_config_file_option_replaces_the_default(tmp_path, json_file):
    _, memory, cron = _prepared(tmp_path, {"": str(json_file)})  # --config-file
    assert (memory, cron) == (8192, "30 4 * * *")
    _, memory, cron = _prepared(tmp_path, {"config": str(json_file)})  # --config config PATH
    assert (memory, cron) == (8192, "30 4 * * *")


def test_flow_object_outside_a_run_reads_the_default_file(tmp_path):
    (tmp_path / "default.toml").write_text(TOML)
    module = import_flow_module(tmp_path, FLOW)
    flow = module.ConfigFlow()
    assert flow.config.model.type == "random_forest"
    assert list(flow_configs(module.ConfigFlow)) == ["config"]


def _model_line(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if "MODEL " in line).split("MODEL ", 1)[1]


@pytest.mark.slow
def test_command_line_before_and_after_the_command(run_flow, config_flow, json_file):
    assert _model_line(run_flow(config_flow, "run").stdout) == \
        "random_forest [('depth', 4), ('type', 'random_forest')]"
    expected = "gbm [('depth', 9), ('type', 'gbm')]"
    for args in (["--config-file", json_file, "run"], ["run", "--config-file", json_file],
                 [f"--config-file={json_file}", "run"], ["run", "--config", "config", json_file]):
        assert _model_line(run_flow(config_flow, *args).stdout) == expected, args
    shown = run_flow(config_flow, "show", "--config-file", json_file).stdout
    assert "memory=8192" in shown


TWO_CONFIGS = '''
from headwater import Config, FlowSpec, step


class TwoConfigFlow(FlowSpec):
    train = Config("train", default_value={"lr": 1})
    serve = Config("serve", default_value={"port": 80})

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_config_file_on_a_flow_with_two_configs(tmp_path, json_file):
    module = import_flow_module(tmp_path, TWO_CONFIGS)
    ctx = FlowContext(module.TwoConfigFlow)
    ctx.config_files[""] = str(json_file)
    with pytest.raises(ConfigurationError) as info:
        ctx.prepare()
    assert info.value.message == ("--config-file needs a flow with exactly one Config "
                                  "(this one has: train, serve)")
    assert info.value.fix == "use --config NAME PATH"
    ctx = FlowContext(module.TwoConfigFlow)
    ctx.config_files["serve"] = str(json_file)
    ctx.prepare()
    assert ctx.configs["serve"].model.type == "gbm" and ctx.configs["train"].lr == 1


def test_config_option_with_an_unknown_name(tmp_path, json_file):
    module = import_flow_module(tmp_path, TWO_CONFIGS)
    ctx = FlowContext(module.TwoConfigFlow)
    ctx.config_files["trian"] = str(json_file)
    with pytest.raises(ConfigurationError) as info:
        ctx.prepare()
    assert info.value.message == "TwoConfigFlow has no config named 'trian'"
    assert info.value.fix == "known configs: train, serve"


# --- configs from the environment and --config-value, as Metaflow reads them -------------


def _from_env(tmp_path, env: dict[str, str], values: dict[str, str] | None = None,
              files: dict[str, str] | None = None):
    module = import_flow_module(tmp_path, TWO_CONFIGS)
    ctx = FlowContext(module.TwoConfigFlow)
    ctx.settings.env.update(env)
    ctx.config_values.update(values or {})
    ctx.config_files.update(files or {})
    ctx.prepare()
    return ctx.configs


def test_config_value_variable_gives_values_by_config_name(tmp_path):
    configs = _from_env(tmp_path, {"METAFLOW_FLOW_CONFIG_VALUE": json.dumps(
        {"train": {"lr": 0.5}, "serve": '{"port": 8080}', "other_flows": {"x": 1}})})
    assert configs["train"].lr == 0.5 and configs["serve"].port == 8080


def test_config_file_variable_gives_files_by_config_name(tmp_path, json_file):
    configs = _from_env(tmp_path, {"METAFLOW_FLOW_CONFIG": json.dumps({"serve": str(json_file)})})
    assert configs["serve"].model.type == "gbm" and configs["train"].lr == 1


def test_command_line_wins_over_the_environment(tmp_path, json_file):
    env = {"METAFLOW_FLOW_CONFIG_VALUE": json.dumps({"train": {"lr": 0.5}, "serve": {"p": 1}})}
    configs = _from_env(tmp_path, env, values={"train": 'lr = 7'},
                        files={"serve": str(json_file)})
    assert configs["train"].lr == 7 and configs["serve"].model.depth == 9


@pytest.mark.parametrize("env,message", [
    ({"METAFLOW_FLOW_CONFIG_VALUE": "{nope"}, "METAFLOW_FLOW_CONFIG_VALUE is not JSON"),
    ({"METAFLOW_FLOW_CONFIG_VALUE": "[1]"}, "METAFLOW_FLOW_CONFIG_VALUE is a JSON list"),
    ({"METAFLOW_FLOW_CONFIG": '{"train": 3}'}, "METAFLOW_FLOW_CONFIG gives config 'train'"),
    ({"METAFLOW_FLOW_CONFIG_VALUE": '{"train": 3}'}, "config 'train' from "
                                                     "METAFLOW_FLOW_CONFIG_VALUE is a int"),
])
def test_bad_environment_configs_are_one_clear_error(tmp_path, env, message):
    with pytest.raises(ConfigurationError) as info:
        _from_env(tmp_path, env)
    assert info.value.message.startswith(message)


def test_config_value_option_and_variable_in_a_run(run_flow, config_flow):
    value = json.dumps({"config": {"model": {"type": "from_env"}, "resources": {"memory": 1},
                                   "schedule": {"cron": "0 2 * * *"}}})
    proc = run_flow(config_flow, "run", env={"METAFLOW_FLOW_CONFIG_VALUE": value})
    assert _model_line(proc.stdout) == "from_env [('type', 'from_env')]"
    proc = run_flow(config_flow, "run", "--config-value", "config",
                    '{"model": {"type": "cli"}, "resources": {"memory": 1}, '
                    '"schedule": {"cron": "0 2 * * *"}}', env={"METAFLOW_FLOW_CONFIG_VALUE": value})
    assert _model_line(proc.stdout) == "cli [('type', 'cli')]"
    bad = run_flow(config_flow, "run", "--config-value", "confg", "{}", check=False)
    assert bad.returncode == 1 and "has no config named 'confg'" in bad.stderr
    assert "Traceback" not in bad.stderr
