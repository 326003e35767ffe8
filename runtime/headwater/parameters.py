"""``Parameter``: a run's inputs, given on the command line as ``--name value``.

    class TrainFlow(FlowSpec):
        alpha = Parameter("alpha", default=0.01, help="learning rate")
        settings = Parameter("settings", type=JSONType, default='{"depth": 3}')

A parameter's value is an artifact of every task of the run. On a flow object made outside
the command line (a unit test), reading the attribute gives the default, and assigning it
sets a plain value.
"""

from __future__ import annotations

import inspect
import json
import os
from typing import Any

from .exceptions import ParameterError


class JSONType:
    """Use as ``type=JSONType``: the value is parsed as JSON (a dict, list, number ...)."""


class DeployTimeContext:
    """What a callable default receives: the flow name, the user, the parameter name and
    the run's configs (``ctx.configs.<name>``; ``None`` where configs are not read yet)."""

    def __init__(self, flow_name: str, user_name: str, parameter_name: str,
                 configs: Any = None):
        self.flow_name = flow_name
        self.user_name = user_name
        self.parameter_name = parameter_name
        self.configs = configs


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               JSONType: "JSON"}


class Parameter:
    """A run parameter. ``default`` may be a function (called with a ``DeployTimeContext``
    or with no argument) evaluated when the run starts."""

    def __init__(self, name: str, default: Any = None, type: type | None = None,
                 help: str | None = None, required: bool = False, show_default: bool = True,
                 separator: str | None = None):
        if not isinstance(name, str) or not name or name.startswith("-"):
            raise ParameterError(f"parameter name {name!r} is invalid",
                                 "use a plain name such as Parameter('alpha', ...)")
        self.name = name
        self.default = default
        self.help = help
        self.required = required
        self.show_default = show_default
        self.separator = separator
        self.type = type or self._infer_type(default)
        if self.type not in _TYPE_NAMES:
            raise ParameterError(f"parameter {name!r} has unsupported type {self.type!r}",
                                 "use str, int, float, bool or JSONType")
        self.attr: str = name.replace("-", "_")

    @staticmethod
    def _infer_type(default: Any) -> type:
        if callable(default) or default is None:
            return str
        for candidate in (bool, int, float, str):
            if isinstance(default, candidate):
                return candidate
        if isinstance(default, (dict, list)):
            return JSONType
        return str

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        found, value = obj._load_inherited(self.attr)  # the run's value, inside a task
        if found:
            return value
        # A flow object outside a run (unit tests): the default stands in for the value.
        return self.resolve_default(getattr(owner, "__name__", ""), "")

    @property
    def metavar(self) -> str:
        """What ``--help`` shows for the option's value."""
        return self.type.__name__.upper()

    @property
    def option_name(self) -> str:
        return self.name.replace("_", "-")

    def resolve_default(self, flow_name: str, user: str,
                        configs: dict[str, Any] | None = None) -> Any:
        """The default's value; ``configs`` (attribute -> value) resolve a
        ``config_expr`` default and are ``ctx.configs`` for a default function."""
        from .config import ConfigExpr, ConfigValue

        default = self.default
        if isinstance(default, ConfigExpr):
            default = default.resolve(configs or {})
        elif callable(default):
            try:
                nargs = len(inspect.signature(default).parameters)
            except (TypeError, ValueError):
                nargs = 1
            ctx = DeployTimeContext(flow_name, user, self.name,
                                    None if configs is None else ConfigValue(configs))
            default = default(ctx) if nargs else default()
        if default is None:
            return None
        return self.convert(default)

    def convert(self, value: Any) -> Any:
        """Turn a command-line string (or a default) into the parameter's type."""
        kind = self.type
        try:
            if kind is JSONType:
                return json.loads(value) if isinstance(value, str) else value
            if kind is bool:
                if isinstance(value, bool):
                    return value
                text = str(value).strip().lower()
                if text in ("1", "true", "yes", "y", "on"):
                    return True
                if text in ("0", "false", "no", "n", "off"):
                    return False
                raise ValueError(value)
            if kind is str:
                value = str(value)
                return value.split(self.separator) if self.separator else value
            return kind(value)
        except (ValueError, TypeError):
            raise ParameterError(
                f"parameter --{self.option_name} expects {_TYPE_NAMES[kind]}, got {value!r}",
                f"pass e.g. --{self.option_name} {_example(kind)}") from None

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, default={self.default!r})"


def _example(kind: type) -> str:
    return {int: "42", float: "0.5", bool: "true", JSONType: "'{\"key\": 1}'"}.get(kind, "text")


def flow_parameters(flow_cls: type) -> dict[str, Parameter]:
    """Attribute name -> Parameter for a flow class (including inherited ones)."""
    from .flowspec import class_members

    return class_members(flow_cls, Parameter)


def environment_name(name: str) -> str:
    """``METAFLOW_RUN_<NAME>``: the environment variable that sets a parameter when the
    command line does not (Metaflow's convention; ``n-items`` -> ``METAFLOW_RUN_N_ITEMS``)."""
    return "METAFLOW_RUN_" + name.upper().replace("-", "_")


def resolve_parameters(flow_cls: type, given: dict[str, Any], user: str,
                       configs: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values of every parameter for a run: given ones converted, then those set in the
    environment (``METAFLOW_RUN_<NAME>``), others defaulted.

    ``given`` maps attribute names to raw values (strings from the command line). Raises
    ``ParameterError`` for an unknown name, a badly typed value or a missing required one.
    """
    params = flow_parameters(flow_cls)
    unknown = sorted(set(given) - set(params))
    if unknown:
        known = ", ".join(f"--{p.option_name}" for p in params.values()) or "none"
        raise ParameterError(f"{flow_cls.__name__} has no parameter {unknown[0]!r}",
                             f"known parameters: {known}")
    values: dict[str, Any] = {}
    for attr, param in params.items():
        from_env = os.environ.get(environment_name(param.name))
        if given.get(attr) is not None:
            values[attr] = param.convert(given[attr])
        elif from_env not in (None, ""):
            values[attr] = param.convert(from_env)
        else:
            values[attr] = param.resolve_default(flow_cls.__name__, user, configs)
            if values[attr] is None and param.required:
                raise ParameterError(f"parameter --{param.option_name} is required",
                                     f"pass --{param.option_name} VALUE")
    return values

