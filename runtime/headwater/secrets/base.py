"""The secrets backend interface, the source syntax of ``@secrets``, and ``current.secrets``.

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

import abc
import importlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ..exceptions import ConfigurationError, SecretsError

if TYPE_CHECKING:
    from ..settings import Settings

#: ``METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE`` values -> ``module:Class``.
SECRETS_BACKENDS: dict[str, str] = {
    "env": "headwater.secrets.env:EnvSecretsBackend",
    "inline": "headwater.secrets.env:InlineSecretsBackend",
    "azure-key-vault": "headwater.secrets.azure_key_vault:AzureKeyVaultBackend",
    "aws-secrets-manager": "headwater.secrets.aws_secrets_manager:AwsSecretsManagerBackend",
}

#: Other names for a backend type: stock Metaflow's, so its flows and profiles work unchanged.
SECRETS_BACKEND_ALIASES: dict[str, str] = {"az-key-vault": "azure-key-vault"}

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


def canonical_type(kind: str) -> str:
    """The registered name of a backend type given under any of its names."""
    return SECRETS_BACKEND_ALIASES.get(kind, kind)


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


class SecretsBackend(abc.ABC):
    """Where secrets come from. One instance serves one task."""

    #: The value of ``METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE`` (or a source's ``type``).
    TYPE: str = ""

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: "Settings", role: str | None = None) -> "SecretsBackend":
        """Build the backend; ``role`` is ``@secrets(role=...)``, when given."""

    @classmethod
    def validate_id(cls, secret_id: str | None) -> None:
        """Raise ``SecretsError`` if ``secret_id`` cannot name a secret in this backend."""

    @abc.abstractmethod
    def fetch(self, source: SecretSource) -> dict[str, str]:
        """The environment variables of one source; ``SecretsError`` if it is missing."""

    @abc.abstractmethod
    def get(self, name: str) -> str | None:
        """One secret by name (for on-demand sources), or None if there is none."""

    @classmethod
    def reject_role(cls, role: str | None) -> None:
        """For backends where an IAM role means nothing."""
        if role:
            raise SecretsError(
                f"@secrets(role=...) applies to aws-secrets-manager sources, not {cls.TYPE}",
                f"remove role=, or give {cls.TYPE} access to the task's identity instead")


def backend_class(kind: str) -> type[SecretsBackend]:
    """The backend class registered for ``kind``."""
    from ..extensions import ExtensionGroup, extension_names, extension_target

    group = ExtensionGroup.SECRETS_BACKENDS
    target = extension_target(SECRETS_BACKENDS, group, canonical_type(kind))
    if target is None:
        raise SecretsError(f"unknown secrets backend type {kind!r}",
                           f"use one of: {', '.join(extension_names(SECRETS_BACKENDS, group))}"
                           f" (source \"type\" or METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE)")
    module, _, name = target.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ConfigurationError(f"secrets backend {kind!r} is not available: {exc}",
                                 "pip install 'headwater[azure]' or 'headwater[aws]'") from None


class Secrets:
    """``current.secrets``: the values of a step's secrets, for the task's life.

    ``get(name)`` looks in the variables the sources produced (by the name given, then by
    its variable form: ``api-key`` -> ``API_KEY``), then asks each on-demand backend, caching
    what it gets. ``repr`` and ``names()`` show names, never values.
    """

    _MISSING = object()

    def __init__(self, values: Mapping[str, str],
                 on_demand: list[tuple[SecretSource, SecretsBackend]] | None = None):
        self._values = dict(values)
        self._on_demand = list(on_demand or [])
        self._fetched: dict[str, str | None] = {}

    def get(self, name: str, default: Any = _MISSING) -> Any:
        """The value of secret ``name``; ``default`` if given and it is nowhere, else a
        ``SecretsError`` naming where it was looked for."""
        if not isinstance(name, str) or not name:
            raise SecretsError(f"secret names are non-empty strings, not {name!r}")
        for candidate in (name, default_env_var_name(name)):
            if candidate in self._values:
                return self._values[candidate]
        if name not in self._fetched:
            found = None
            for source, backend in self._on_demand:
                found = backend.get(name)
                if found is not None:
                    break
            self._fetched[name] = found
        found = self._fetched[name]
        if found is not None:
            return found
        if default is not self._MISSING:
            return default
        where = [f"{len(self._values)} injected variable(s)"] + [
            s.describe() for s, _ in self._on_demand]
        raise SecretsError(f"secret {name!r} not found (looked in {', '.join(where)})",
                           "check its name, or add the source that holds it to "
                           "@secrets(sources=[...])")

    def __getitem__(self, name: str) -> str:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name, None) is not None

    def names(self) -> list[str]:
        """Names of the variables injected so far (not of on-demand secrets not yet read)."""
        return sorted(self._values)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _clear(self) -> None:
        self._values.clear()
        self._fetched.clear()

    def __repr__(self) -> str:
        return f"<Secrets {', '.join(self.names()) or '(none injected)'}>"

    def __reduce__(self):
        # Never travels: not into an artifact, not into another process.
        raise TypeError("current.secrets cannot be pickled: secret values are not stored "
                        "as artifacts; read them again in the step that needs them")
