"""Settings: environment variable > profile file > built-in default.

Keys use Metaflow's names (``METAFLOW_*``) so one profile serves Headwater and an unmodified
Metaflow client. A profile lives in ``$METAFLOW_HOME`` (default ``~/.metaflowconfig``) as
``config.json``, or ``config_<METAFLOW_PROFILE>.json`` when ``METAFLOW_PROFILE`` is set.

Secrets (``SECRET_KEYS``) are read from the environment only: a profile is meant to be
shared, so a secret found in one is ignored with a warning and never returned. A profile
(or the environment) may instead name a file that holds the secret, ``<KEY>_FILE`` (e.g.
``METAFLOW_SERVICE_AUTH_KEY_FILE``): the profile then carries a path, never the value, and
the file's permissions guard it (``headwater dev up`` writes such files with mode 0600).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Mapping

from .exceptions import ConfigurationError

# Keys whose values are secrets: environment only, never stored in or read from a profile.
SECRET_KEYS = frozenset({
    "METAFLOW_SERVICE_AUTH_KEY",
    "METAFLOW_AZURE_STORAGE_CONNECTION_STRING",
    "METAFLOW_AZURE_STORAGE_ACCOUNT_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
})

# Built-in defaults: local mode with zero set-up.
DEFAULTS: dict[str, str] = {
    "METAFLOW_DEFAULT_DATASTORE": "local",
    "METAFLOW_DEFAULT_METADATA": "local",
    "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE": "env",
    "METAFLOW_KUBERNETES_NAMESPACE": "default",
}

# Every key Headwater reads, for `headwater configure show` and profile validation.
KNOWN_KEYS: tuple[str, ...] = (
    "METAFLOW_DEFAULT_DATASTORE", "METAFLOW_DEFAULT_METADATA",
    "METAFLOW_DATASTORE_SYSROOT_LOCAL", "METAFLOW_CARD_LOCALROOT",
    "METAFLOW_DATASTORE_SYSROOT_AZURE", "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT",
    "METAFLOW_CARD_AZUREROOT",
    "METAFLOW_DATASTORE_SYSROOT_S3", "METAFLOW_CARD_S3ROOT", "METAFLOW_S3_ENDPOINT_URL",
    "METAFLOW_SERVICE_URL", "METAFLOW_SERVICE_INTERNAL_URL", "METAFLOW_SERVICE_HEADERS",
    "METAFLOW_SERVICE_RETRY_COUNT", "METAFLOW_SERVICE_AUTH_SECRET_ID",
    "METAFLOW_SERVICE_CA_CERT",
    "METAFLOW_UI_URL",
    "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE", "METAFLOW_AZURE_KEY_VAULT_PREFIX",
    "METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION", "METAFLOW_DEFAULT_SECRETS_ROLE",
    "METAFLOW_KUBERNETES_NAMESPACE", "METAFLOW_KUBERNETES_SERVICE_ACCOUNT",
    "METAFLOW_KUBERNETES_SECRETS", "METAFLOW_KUBERNETES_CONTAINER_IMAGE",
    "METAFLOW_KUBERNETES_NODE_SELECTOR", "METAFLOW_KUBERNETES_GPU_VENDOR",
    "METAFLOW_KUBERNETES_LABELS", "METAFLOW_KUBERNETES_TOLERATIONS",
    "METAFLOW_DEFAULT_CONTAINER_IMAGE", "METAFLOW_DEFAULT_CONTAINER_REGISTRY",
    "METAFLOW_ARGO_WORKFLOWS_KUBERNETES_SECRETS", "METAFLOW_ARGO_WORKFLOWS_UI_URL",
    "METAFLOW_ARGO_EVENTS_SERVICE_ACCOUNT", "METAFLOW_ARGO_EVENTS_EVENT_BUS",
    "METAFLOW_ARGO_EVENTS_WEBHOOK_URL",
    "METAFLOW_BATCH_JOB_QUEUE", "METAFLOW_BATCH_CONTAINER_IMAGE",
    "METAFLOW_BATCH_CONTAINER_REGISTRY", "METAFLOW_ECS_S3_ACCESS_IAM_ROLE",
    "METAFLOW_ECS_FARGATE_EXECUTION_ROLE", "METAFLOW_BATCH_EMIT_TAGS",
    "METAFLOW_BATCH_DEFAULT_TAGS", "METAFLOW_BATCH_LOG_GROUP",
    "METAFLOW_SFN_IAM_ROLE", "METAFLOW_EVENTS_SFN_ACCESS_IAM_ROLE",
    "METAFLOW_SFN_DYNAMO_DB_TABLE", "METAFLOW_SFN_STATE_MACHINE_PREFIX",
    "METAFLOW_SFN_EXECUTION_LOG_GROUP_ARN",
    "METAFLOW_USER", "METAFLOW_USER_NAMESPACE",
    *(f"{key}_FILE" for key in sorted(SECRET_KEYS) if key.startswith("METAFLOW_")),
)

#: Suffix of the setting that names a file holding a secret's value.
SECRET_FILE_SUFFIX = "_FILE"


# The settings that point a cloud datastore somewhere, by datastore type.
CLOUD_ROOT_KEYS: dict[str, tuple[str, ...]] = {
    "azure": ("METAFLOW_DATASTORE_SYSROOT_AZURE", "METAFLOW_CARD_AZUREROOT"),
    "s3": ("METAFLOW_DATASTORE_SYSROOT_S3", "METAFLOW_CARD_S3ROOT"),
}
CLOUD_NAMES = {"azure": "Azure Blob Storage", "s3": "S3"}


def metaflow_home(env: Mapping[str, str] | None = None) -> Path:
    """The folder that holds profiles: ``$METAFLOW_HOME`` or ``~/.metaflowconfig``."""
    env = os.environ if env is None else env
    return Path(env.get("METAFLOW_HOME") or Path.home() / ".metaflowconfig").expanduser()


def profile_path(profile: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Path of the profile file for ``profile`` (default: ``$METAFLOW_PROFILE`` or none)."""
    env = os.environ if env is None else env
    name = profile if profile is not None else env.get("METAFLOW_PROFILE")
    filename = f"config_{name}.json" if name else "config.json"
    return metaflow_home(env) / filename


def parse_profile(text: str, origin: str) -> dict[str, str]:
    """Parse and validate a profile's JSON text: a flat object of string-ish values."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{origin} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
            "fix the file or re-import it with `headwater configure import FILE`") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{origin} must hold a JSON object of METAFLOW_* keys, "
                                 f"not a {type(data).__name__}")
    profile: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif value is None:
            continue
        profile[str(key)] = str(value)
    return profile


def load_profile_file(path: Path) -> dict[str, str]:
    """Read a profile file; a missing file is an empty profile, a broken one an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigurationError(f"cannot read profile {path}: {exc.strerror}") from None
    profile = parse_profile(text, f"profile {path}")
    leaked = sorted(k for k in profile if k in SECRET_KEYS)
    if leaked:
        print(f"headwater: ignoring {', '.join(leaked)} in {path}: secrets are read from "
              f"the environment only", file=sys.stderr)
        for key in leaked:
            del profile[key]
    return profile


class Settings:
    """Resolved settings for one process.

    >>> Settings(env={"METAFLOW_DEFAULT_DATASTORE": "s3"}).get("METAFLOW_DEFAULT_DATASTORE")
    's3'
    """

    def __init__(self, env: Mapping[str, str] | None = None, profile: str | None = None):
        self.env = dict(os.environ if env is None else env)
        self.profile_path = profile_path(profile, self.env)
        self.profile = load_profile_file(self.profile_path)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of ``key``: environment, then profile, then built-in default."""
        value = self.env.get(key)
        if value not in (None, ""):
            return value
        if key not in SECRET_KEYS:
            value = self.profile.get(key)
            if value not in (None, ""):
                return value
        else:
            value = self._secret_from_file(key)
            if value is not None:
                return value
        return DEFAULTS.get(key, default)

    def _secret_from_file(self, key: str) -> str | None:
        """The secret in the file named by ``<key>_FILE`` (environment, then profile)."""
        file_key = key + SECRET_FILE_SUFFIX
        path = self.env.get(file_key) or self.profile.get(file_key)
        if not path:
            return None
        try:
            with open(os.path.expanduser(path), encoding="utf-8") as f:
                value = f.read().strip()
        except OSError as exc:
            raise ConfigurationError(f"cannot read {file_key} file {path}: {exc.strerror}",
                                     f"create the file, or unset {file_key}") from None
        return value or None

    def source(self, key: str) -> str:
        """Where ``key``'s value comes from: ``env``, ``profile``, ``file`` (a secret read from
        the file ``<key>_FILE`` names), ``default`` or ``unset``."""
        if self.env.get(key) not in (None, ""):
            return "env"
        if key not in SECRET_KEYS and self.profile.get(key) not in (None, ""):
            return "profile"
        if key in SECRET_KEYS and (self.env.get(key + SECRET_FILE_SUFFIX)
                                   or self.profile.get(key + SECRET_FILE_SUFFIX)):
            return "file"
        return "default" if key in DEFAULTS else "unset"

    def is_empty(self, key: str) -> bool:
        """Whether ``key`` is set, but to an empty string (``get`` treats that as unset; a
        setting that must not be empty says what its rule is instead)."""
        return self.env.get(key) == "" or (key not in SECRET_KEYS
                                           and self.profile.get(key) == "")

    def require(self, key: str, why: str) -> str:
        """Like ``get`` but a missing value is a ``ConfigurationError`` explaining ``why``."""
        value = self.get(key)
        if value is None:
            raise ConfigurationError(
                f"{key} is not set; it is needed {why}",
                f"export {key}=... or add it to {self.profile_path} "
                f"(`headwater configure import` writes profiles)")
        return value

    def keys(self) -> list[str]:
        """Every key that has a value or is known, sorted."""
        found = {k for k in self.env if k.startswith("METAFLOW_")}
        return sorted(found | set(self.profile) | set(DEFAULTS) | set(KNOWN_KEYS))

    # Typed accessors for the settings the runtime reads on every run.
    @property
    def datastore_type(self) -> str:
        return self.get("METAFLOW_DEFAULT_DATASTORE") or "local"

    @property
    def metadata_type(self) -> str:
        return self.get("METAFLOW_DEFAULT_METADATA") or "local"

    def local_datastore_note(self) -> str | None:
        """For the run header: a cloud sysroot is configured, but the datastore is local (the
        Azure guide's three variables without ``METAFLOW_DEFAULT_DATASTORE=azure``)."""
        if self.datastore_type != "local":
            return None
        for ds_type, keys in CLOUD_ROOT_KEYS.items():
            configured = [k for k in keys if self.get(k)]
            if configured:
                return (f"Note: {configured[0]} is set, but METAFLOW_DEFAULT_DATASTORE is local "
                        f"({self.source('METAFLOW_DEFAULT_DATASTORE')}): artifacts stay on this "
                        f"machine. To use {CLOUD_NAMES[ds_type]}, set "
                        f"METAFLOW_DEFAULT_DATASTORE={ds_type} (or run --datastore {ds_type}).")
        return None

    @property
    def user(self) -> str:
        """The user name runs are tagged with (``METAFLOW_USER``, else the OS user)."""
        user = self.get("METAFLOW_USER") or self.env.get("USER") or self.env.get("USERNAME")
        if not user:
            import getpass
            try:
                user = getpass.getuser()
            except Exception:  # no passwd entry in some containers
                user = "unknown"
        return user

    @property
    def namespace(self) -> str | None:
        """A shared namespace set with ``METAFLOW_USER_NAMESPACE``, if any."""
        return self.get("METAFLOW_USER_NAMESPACE")
