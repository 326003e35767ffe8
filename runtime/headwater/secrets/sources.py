"""The source syntax of ``@secrets``, and how a secret's value becomes environment variables.

A *source* in ``@secrets(sources=[...])`` is one of:

- ``"db-credentials"``: the secret with that id in the default backend
  (``METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE``, ``env`` when unset);
- ``{"type": "aws-secrets-manager", "id": "db-credentials"}``: a secret in a given backend,
  optionally with ``"env_var_name": "DB_PASSWORD"`` to name the variable of a plain string;
- ``{"type": "inline", "values": {"API_KEY": "dev-key"}}``: values written in code, for
  local development and tests only (Metaflow's form
  ``{"type": "inline", "options": {"env_vars": {...}}}`` works too);
- a backend's type on its own, e.g. ``"azure-key-vault"``: nothing is injected up front;
  ``current.secrets.get("api-key")`` fetches that secret by name when asked.

A secret whose value is a JSON object becomes one environment variable per key; any other
value becomes one variable named ``env_var_name`` or, by default, after the secret's id
(``db-password`` -> ``DB_PASSWORD``). Secret *values* never appear in an error message:
errors name the source's id and the variable, nothing else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..exceptions import SecretsError
from .registry import SECRETS_BACKENDS, backend_class, canonical_type

_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Variables that steer Headwater itself must not be replaced by a secret.
_RESERVED_PREFIXES = ("METAFLOW_", "HEADWATER_")



@dataclass(frozen=True)
class SecretSource:
    """One entry of ``@secrets(sources=[...])``, parsed."""

    type: str
    id: str | None = None
    env_var_name: str | None = None
    values: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def on_demand(self) -> bool:
        """A bare backend type: secrets are fetched by name through ``current.secrets``."""
        return self.id is None and self.values is None

    def describe(self) -> str:
        """How errors refer to the source (never includes values)."""
        if self.values is not None:
            return "inline source"
        if self.id is None:
            return f"{self.type} (on demand)"
        return f"{self.type} secret {self.id!r}"


def parse_source(raw: Any, default_type: str) -> SecretSource:
    """Parse and check one source; a bad one is a ``SecretsError`` saying how to write it."""
    example = ('e.g. sources=["db-credentials", {"type": "aws-secrets-manager", '
               '"id": "prod/db"}]')
    default_type = canonical_type(default_type)
    if isinstance(raw, str):
        if not raw.strip():
            raise SecretsError("an empty string is not a secrets source", example)
        raw = canonical_type(raw)
        if raw in SECRETS_BACKENDS:
            if raw == "inline":
                raise SecretsError('"inline" on its own names no values',
                                   'write {"type": "inline", "values": {"NAME": "value"}}')
            return SecretSource(type=raw)
        source = SecretSource(type=default_type, id=raw)
    elif isinstance(raw, Mapping):
        unknown = sorted(set(raw) - {"type", "id", "env_var_name", "values", "options"})
        if unknown:
            raise SecretsError(f"secrets source has unknown key(s) {', '.join(unknown)}",
                               'a source takes "type", "id", optional "env_var_name", or '
                               '"values" for type "inline"')
        kind = raw.get("type", default_type)
        if not isinstance(kind, str):
            raise SecretsError(f"secrets source type must be a string, not {type(kind).__name__}")
        kind = canonical_type(kind)
        if kind == "inline":
            return SecretSource(type="inline", values=_inline_values(raw))
        if "values" in raw:
            raise SecretsError(f'"values" belongs to inline sources, not to type {kind!r}')
        if "options" in raw:
            raise SecretsError(f'"options" belongs to inline sources ({{"env_vars": {{...}}}}), '
                               f'not to type {kind!r}')
        secret_id = raw.get("id")
        if not isinstance(secret_id, str) or not secret_id.strip():
            raise SecretsError(f"a {kind} source needs a non-empty string \"id\"",
                               f'{{"type": "{kind}", "id": "my-secret"}}')
        env_var_name = raw.get("env_var_name")
        if env_var_name is not None:
            check_env_var_name(env_var_name, f"{kind} secret {secret_id!r}")
        source = SecretSource(type=kind, id=secret_id, env_var_name=env_var_name)
    else:
        raise SecretsError(f"a secrets source must be a string or a dict, not "
                           f"{type(raw).__name__}", example)
    backend_class(source.type).validate_id(source.id)
    return source


def _inline_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The values of an inline source, in our form (``values``) or Metaflow's
    (``options.env_vars``, where an ``id`` may be given and means nothing)."""
    if "options" in raw:
        options = raw["options"]
        env_vars = options.get("env_vars") if isinstance(options, Mapping) else None
        if "values" in raw or not isinstance(env_vars, Mapping) or set(options) != {"env_vars"}:
            raise SecretsError('an inline source in Metaflow\'s form needs "options": '
                               '{"env_vars": {...}}, a dict of names to values',
                               '{"type": "inline", "options": {"env_vars": {"API_KEY": '
                               '"dev-key"}}}')
        return dict(env_vars)
    values = raw.get("values")
    if not isinstance(values, Mapping) or "id" in raw:
        raise SecretsError('an inline source needs "values": a dict of names to values',
                           '{"type": "inline", "values": {"API_KEY": "dev-key"}}')
    return dict(values)


def check_env_var_name(name: Any, origin: str) -> str:
    """A secret becomes an environment variable: its name must be a valid one and must not
    override Headwater's own settings."""
    if not isinstance(name, str) or not _ENV_NAME_RE.match(name):
        raise SecretsError(
            f"{origin} sets the environment variable {name!r}, which is not a valid name",
            "use letters, digits and underscores, not starting with a digit")
    if name.upper().startswith(_RESERVED_PREFIXES):
        raise SecretsError(
            f"{origin} would override {name}, a Headwater setting",
            "rename the key: secrets may not set METAFLOW_* or HEADWATER_* variables")
    return name


def default_env_var_name(secret_id: str) -> str:
    """The variable a plain-string secret becomes: its id's last path segment, upper-cased,
    other characters as ``_`` (``prod/db-password`` -> ``DB_PASSWORD``)."""
    last = re.split(r"[/:]", secret_id.rstrip("/"))[-1]
    name = re.sub(r"[^A-Za-z0-9_]", "_", last).upper()
    return f"_{name}" if name[:1].isdigit() else name


def expand_secret(source: SecretSource, value: str, name: str) -> dict[str, str]:
    """A secret's value as environment variables: a JSON object gives one per key, anything
    else one variable: ``env_var_name``, or ``default_env_var_name(name)`` where ``name`` is
    the secret's name (not its version or ARN)."""
    origin = source.describe()
    if source.env_var_name is None:
        parsed: Any = None
        if value.lstrip().startswith("{"):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None  # not JSON after all: one plain value
        if isinstance(parsed, dict):
            return to_variables(parsed, origin)
    variable = source.env_var_name or default_env_var_name(name)
    return {check_env_var_name(variable, origin): value}


def to_variables(pairs: Mapping[Any, Any], origin: str) -> dict[str, str]:
    """Check names and turn values into strings (JSON for lists and objects)."""
    out: dict[str, str] = {}
    for key, value in pairs.items():
        check_env_var_name(key, origin)
        if isinstance(value, str):
            out[key] = value
        elif value is None:
            raise SecretsError(f"{origin}: key {key!r} has no value (null)",
                               "give it a string value or remove the key")
        elif isinstance(value, (dict, list)):
            out[key] = json.dumps(value)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out
