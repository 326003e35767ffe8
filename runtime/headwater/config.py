"""``Config``: settings read from a TOML or JSON file when a run starts.

    class TrainFlow(FlowSpec):
        config = Config("config", default="config.toml")

        @resources(memory=config.resources.memory)      # resolved when the run starts
        @step
        def start(self):
            print(self.config.model.type)

The file comes from ``--config-file PATH`` (the flow's only Config) or ``--config NAME PATH``
(or the value itself from ``--config-value NAME VALUE``), else from the environment as
Metaflow reads it (``METAFLOW_FLOW_CONFIG_VALUE='{"config": {...}}'``, values by config
name; ``METAFLOW_FLOW_CONFIG='{"config": "path.toml"}'``, files by config name), else from
``default`` (relative paths are tried from the current directory, then beside the
flow file). Values are plain dicts with attribute access, stored with the run like parameters.
Inside decorator arguments and flow decorators, ``config.a.b`` and ``config_expr("config.a.b")``
are placeholders resolved once the file is read.
"""

from __future__ import annotations

import builtins
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Callable

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .flowspec import FlowSpec


class ConfigValue(dict):
    """A dict whose keys are also attributes (``cfg.model.type``), recursively. Read-only,
    as Metaflow's: changing it raises ``TypeError`` (a config is the same in every step)."""

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a config is read-only; copy it (dict(config)) to change a value")

    __setitem__ = __delitem__ = __setattr__ = __delattr__ = _read_only
    update = pop = popitem = clear = setdefault = __ior__ = _read_only

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r} (keys: {', '.join(self)})") from None

    def __getitem__(self, key: str) -> Any:
        return _wrap(dict.__getitem__(self, key))

    def __reduce__(self):
        return (ConfigValue, (dict(self),))


def _wrap(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, ConfigValue):
        return ConfigValue(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class ConfigExpr:
    """A placeholder for a value from a config, resolved when the run starts."""

    def __init__(self, expression: str):
        self.expression = expression

    def __getattr__(self, name: str) -> "ConfigExpr":
        if name.startswith("__"):
            raise AttributeError(name)
        return ConfigExpr(f"{self.expression}.{name}")

    def __getitem__(self, key: Any) -> "ConfigExpr":
        return ConfigExpr(f"{self.expression}[{key!r}]")

    def resolve(self, configs: dict[str, Any]) -> Any:
        try:
            # the flow's author wrote the expression: Python's builtins are there, as in
            # Metaflow (`config_expr("str(config.value)")`)
            return eval(self.expression, {"__builtins__": builtins}, dict(configs))  # noqa: S307
        except Exception as exc:
            raise ConfigurationError(
                f"cannot evaluate config expression {self.expression!r}: {exc}",
                "check the key names against the config file") from None

    def __repr__(self) -> str:
        return f"config_expr({self.expression!r})"


def config_expr(expression: str) -> ConfigExpr:
    """A value computed from configs, e.g. ``config_expr("config.schedule.cron")``."""
    return ConfigExpr(expression)


def resolve_placeholders(value: Any, configs: dict[str, Any]) -> Any:
    """Replace every ``ConfigExpr`` inside ``value`` (recursing into lists and dicts)."""
    if isinstance(value, ConfigExpr):
        return value.resolve(configs)
    if isinstance(value, list):
        return [resolve_placeholders(v, configs) for v in value]
    if isinstance(value, dict) and not isinstance(value, ConfigValue):
        return {k: resolve_placeholders(v, configs) for k, v in value.items()}
    return value


def parse_config_text(text: str, path: str) -> dict:
    """Parse by extension: ``.toml`` as TOML, ``.json`` as JSON, anything else tries both."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    ext = os.path.splitext(path)[1].lower()
    parsers = [tomllib.loads] if ext == ".toml" else [json.loads] if ext == ".json" else [
        json.loads, tomllib.loads]
    errors = []
    for parse in parsers:
        try:
            data = parse(text)
            if not isinstance(data, dict):
                raise ValueError(f"top level is a {type(data).__name__}, not a table/object")
            return data
        except Exception as exc:  # both parsers raise their own error classes
            errors.append(str(exc))
    raise ConfigurationError(f"config file {path} cannot be parsed: {'; '.join(errors)}",
                             "fix the file's syntax (TOML or JSON)")


class Config:
    """A config file attached to the flow as a class attribute."""

    def __init__(self, name: str, default: str | None = None,
                 default_value: dict | str | Callable[..., Any] | None = None,
                 parser: Callable[[str], dict] | None = None,
                 help: str | None = None, required: bool = False):
        self.name = name
        self.default = default
        self.default_value = default_value
        self.parser = parser
        self.help = help
        self.required = required
        self.attr = name
        self._default_cache: Any = None

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    def __getattr__(self, name: str) -> ConfigExpr:
        # At class-definition time `config.resources.memory` builds a placeholder.
        if name.startswith("_") or name in ("name", "default", "parser", "attr"):
            raise AttributeError(name)
        return ConfigExpr(f"{self.attr}.{name}")

    def __get__(self, obj: Any, owner: type[FlowSpec] | None = None) -> Any:
        if obj is None:
            return self
        found, value = obj._load_inherited(self.attr)  # the run's value, inside a task
        if found:
            return value
        # A flow object outside a run (unit tests): the default file stands in.
        if self._default_cache is None:
            self._default_cache = self.load(None, owner._flow_file() if owner else None,
                                            owner.__name__ if owner else None)
        return self._default_cache

    def from_value(self, value: Any, source: str) -> ConfigValue:
        """The config given as a value: a dict, or text for the parser (JSON or TOML)."""
        if isinstance(value, dict):
            return _wrap(dict(value))
        if not isinstance(value, str):
            raise ConfigurationError(
                f"config {self.name!r} from {source} is a {type(value).__name__}",
                "give the config as a JSON object or as text the config's parser reads")
        if self.parser is not None:
            try:
                data = self.parser(value)
            except Exception as exc:
                raise ConfigurationError(f"config {self.name!r} from {source} cannot be "
                                         f"parsed: {exc}", "fix the value's syntax") from None
        else:
            data = parse_config_text(value, source)
        return _wrap(dict(data))

    def load(self, path: str | None, flow_file: str | None = None,
             flow_name: str | None = None, user: str | None = None) -> ConfigValue | None:
        """Read the config from ``path`` (or the default); ``None`` when there is none.
        A ``default_value`` function is called with the context a parameter's default
        function gets (``flow_name``, ``user_name``, ``parameter_name``), as in Metaflow."""
        given = path or self.default
        if given is None:
            value = self.default_value
            if callable(value):
                from .parameters import DeployTimeContext

                value = value(DeployTimeContext(flow_name or "", user or "", self.name))
            if value is not None:
                return self.from_value(value, "default_value")
            if self.required:
                raise ConfigurationError(f"config {self.name!r} is required",
                                         f"pass --config {self.name} PATH")
            return None
        candidates = [given]
        if not path and flow_file and not os.path.isabs(given):  # the default, by the flow
            candidates.append(os.path.join(os.path.dirname(os.path.abspath(flow_file)), given))
        for candidate in candidates:
            if os.path.exists(candidate):
                break
        else:
            raise ConfigurationError(
                f"config file {candidates[0]} for config {self.name!r} does not exist",
                f"create it or pass another file with --config {self.name} PATH")
        try:
            with open(candidate, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise ConfigurationError(f"config file {candidate} cannot be read: {exc.strerror}",
                                     "check the path and its permissions") from None
        if self.parser is not None:
            try:
                data = self.parser(text)
            except Exception as exc:
                raise ConfigurationError(f"config file {candidate} cannot be parsed: {exc}",
                                         "fix the file's syntax") from None
        else:
            data = parse_config_text(text, candidate)
        return _wrap(dict(data))


CONFIG_VALUE_VARIABLE = "METAFLOW_FLOW_CONFIG_VALUE"
CONFIG_FILE_VARIABLE = "METAFLOW_FLOW_CONFIG"


def environment_configs(env: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(values, files) by config name, from ``METAFLOW_FLOW_CONFIG_VALUE`` and
    ``METAFLOW_FLOW_CONFIG`` (each a JSON object keyed by config name, as in Metaflow)."""
    found: list[dict] = []
    for variable in (CONFIG_VALUE_VARIABLE, CONFIG_FILE_VARIABLE):
        text = env.get(variable)
        if not text:
            found.append({})
            continue
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigurationError(f"{variable} is not JSON: {exc}",
                                     f"set {variable}='{{\"config_name\": ...}}'") from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"{variable} is a JSON {type(data).__name__}, not an "
                                     "object keyed by config name",
                                     f"set {variable}='{{\"config_name\": ...}}'")
        found.append(data)
    values, files = found
    bad = sorted(name for name, path in files.items() if not isinstance(path, str))
    if bad:
        raise ConfigurationError(f"{CONFIG_FILE_VARIABLE} gives config {bad[0]!r} a "
                                 "value that is not a path",
                                 f"map config names to file paths, or use {CONFIG_VALUE_VARIABLE}")
    return values, files


def flow_configs(flow_cls: type) -> dict[str, Config]:
    """Attribute name -> Config for a flow class."""
    from .flowspec import class_members

    return class_members(flow_cls, Config)
