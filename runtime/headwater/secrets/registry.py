"""The secrets backends by type: ``METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE`` and a source's
``"type"`` name one of these (or one a package registers under the entry point group
``headwater.secrets_backends``); a backend's module, and its cloud SDK, load when chosen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import ConfigurationError, SecretsError
from ..extensions import ExtensionGroup
from ..registry import find, load

if TYPE_CHECKING:
    from .base import SecretsBackend

#: ``METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE`` values -> ``module:Class``.
SECRETS_BACKENDS: dict[str, str] = {
    "env": "headwater.secrets.env:EnvSecretsBackend",
    "inline": "headwater.secrets.env:InlineSecretsBackend",
    "azure-key-vault": "headwater.secrets.azure_key_vault:AzureKeyVaultBackend",
    "aws-secrets-manager": "headwater.secrets.aws_secrets_manager:AwsSecretsManagerBackend",
}

#: Other names for a backend type: stock Metaflow's, so its flows and profiles work unchanged.
SECRETS_BACKEND_ALIASES: dict[str, str] = {"az-key-vault": "azure-key-vault"}


def canonical_type(kind: str) -> str:
    """The registered name of a backend type given under any of its names."""
    return SECRETS_BACKEND_ALIASES.get(kind, kind)


def backend_class(kind: str) -> type[SecretsBackend]:
    """The backend class registered for ``kind``."""
    target = find(SECRETS_BACKENDS, canonical_type(kind), "secrets backend type",
                  "name one of them as a source's \"type\" or in "
                  "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE", ExtensionGroup.SECRETS_BACKENDS,
                  SecretsError)
    try:
        return load(target)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] == "headwater":
            raise  # a bug in the backend's own code, not a missing SDK
        raise ConfigurationError(f"secrets backend {kind!r} is not available: {exc}",
                                 "pip install 'headwater[azure]' or 'headwater[aws]'") from None
