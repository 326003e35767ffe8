"""Local-development secrets: ``env`` (JSON files and the environment) and ``inline``.

``env`` (the default backend type) reads a source's id as a JSON file holding an object of
names to values::

    @secrets(sources=["db"])            # $METAFLOW_HOME/secrets/db.json
    @secrets(sources=["./dev-secrets.json"])   # a path (relative to the working directory)

An id that ends in ``.json`` or contains a path separator is a path; any other id is looked
up as ``$METAFLOW_HOME/secrets/<id>.json`` (default ``~/.metaflowconfig/secrets/``), so the
file lives outside the repository. As an on-demand source (``sources=["env"]``),
``current.secrets.get("api-key")`` reads the environment variable ``api-key`` or
``API_KEY``: a developer exports locally what production reads from a vault.

``inline`` takes its values from the decorator: ``{"type": "inline", "values": {...}}``.
Values written in code end up in version control; use it for tests and examples only.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING

from ..exceptions import SecretsError
from ..settings import metaflow_home
from .base import SecretsBackend
from .sources import SecretSource, default_env_var_name, to_variables

if TYPE_CHECKING:
    from ..settings import Settings

_ID_RE = re.compile(r"^[A-Za-z0-9_.@+=-]+$")


class EnvSecretsBackend(SecretsBackend):
    """Secrets from local JSON files, and on demand from the process environment."""

    TYPE = "env"

    def __init__(self, secrets_dir: str, environ: dict[str, str] | None = None):
        self.secrets_dir = secrets_dir
        self._environ = environ

    @classmethod
    def from_settings(cls, settings: "Settings", role: str | None = None) -> "EnvSecretsBackend":
        cls.reject_role(role)
        return cls(str(metaflow_home(settings.env) / "secrets"))

    @classmethod
    def validate_id(cls, secret_id: str | None) -> None:
        if secret_id is None or _is_path(secret_id):
            return
        if not _ID_RE.match(secret_id):
            raise SecretsError(
                f"env secret id {secret_id!r} is neither a .json path nor a plain name",
                "use a name (read from $METAFLOW_HOME/secrets/<name>.json) or a path "
                "ending in .json")

    def path_for(self, secret_id: str) -> str:
        """The file that holds the secret ``secret_id``."""
        if _is_path(secret_id):
            return os.path.abspath(os.path.expanduser(secret_id))
        return os.path.join(self.secrets_dir, f"{secret_id}.json")

    def fetch(self, source: SecretSource) -> dict[str, str]:
        path = self.path_for(source.id or "")
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            raise SecretsError(
                f"env secret {source.id!r}: no file {path}",
                'create it with a JSON object of names to values, e.g. {"DB_PASSWORD": "..."}'
                ", or set METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE to your vault") from None
        except OSError as exc:
            raise SecretsError(f"env secret {source.id!r}: cannot read {path} "
                               f"({exc.strerror})") from None
        bad_line = None
        try:
            data = json.loads(text)
        except ValueError as exc:
            bad_line = getattr(exc, "lineno", "?")
        if bad_line is not None:
            # Raised outside the except block: the decoder's error holds the file's text,
            # which must not travel along as the new error's context.
            raise SecretsError(f"env secret {source.id!r}: {path} is not valid JSON "
                               f"(line {bad_line})", 'write a JSON object: {"NAME": "value"}')
        if not isinstance(data, dict):
            raise SecretsError(f"env secret {source.id!r}: {path} must hold a JSON object "
                               f"of names to values, not a {type(data).__name__}",
                               '{"NAME": "value"}')
        if source.env_var_name:
            raise SecretsError(f"env secret {source.id!r}: env_var_name does not apply to "
                               f"JSON files", "name the variables in the file's keys")
        return to_variables(data, source.describe())

    def get(self, name: str) -> str | None:
        environ = os.environ if self._environ is None else self._environ
        for candidate in (name, default_env_var_name(name)):
            value = environ.get(candidate)
            if value is not None:
                return value
        return None


class InlineSecretsBackend(SecretsBackend):
    """Values given in the source itself: ``{"type": "inline", "values": {...}}``."""

    TYPE = "inline"

    @classmethod
    def from_settings(cls, settings: "Settings",
                      role: str | None = None) -> "InlineSecretsBackend":
        cls.reject_role(role)
        return cls()

    def fetch(self, source: SecretSource) -> dict[str, str]:
        return to_variables(source.values or {}, source.describe())

    def get(self, name: str) -> str | None:
        return None


def _is_path(secret_id: str) -> bool:
    return secret_id.endswith(".json") or "/" in secret_id or os.sep in secret_id \
        or secret_id.startswith("~")
