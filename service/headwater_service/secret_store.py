"""Secrets the service reads at start from the cloud's secret store, with its own identity.

A setting ``<NAME>_SECRET_ID`` (e.g. ``HEADWATER_SERVICE_API_KEYS_SECRET_ID``) names where
the value is, never the value: a Key Vault secret identifier
(``https://<vault>.vault.azure.net/secrets/<name>[/<version>]``, read with
``DefaultAzureCredential``: workload identity on AKS) or a Secrets Manager ARN (read with
boto3's credential chain: the task role on ECS, IRSA on EKS). The stacks set these, so the
service's keys live in one place, the secret store, and not in a Kubernetes secret or in the
deployment's plain environment. A secret that cannot be read stops the service at start
with one line naming the setting, the store's reason and the fix; the value never appears
in a message or a log.
"""

from __future__ import annotations

import enum
import re
from typing import Any, Callable

from .config import ConfigError

__all__ = ["SecretStore", "read_secret", "store_of", "SECRET_ID_SUFFIX"]

#: ``<setting>_SECRET_ID`` names where ``<setting>``'s value is kept.
SECRET_ID_SUFFIX = "_SECRET_ID"


class SecretStore(enum.Enum):
    KEY_VAULT = "Azure Key Vault"
    SECRETS_MANAGER = "AWS Secrets Manager"


_PATTERNS = {
    SecretStore.KEY_VAULT: re.compile(
        r"(https://[^/\s]+\.vault\.azure\.net)/secrets/([A-Za-z0-9-]{1,127})"
        r"(?:/([0-9a-f]{32}))?/?"),
    SecretStore.SECRETS_MANAGER: re.compile(
        r"arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:.+"),
}


def store_of(where: str) -> tuple[SecretStore, re.Match[str]] | None:
    """Which store ``where`` names, with the parsed identifier; ``None`` for neither."""
    for store, pattern in _PATTERNS.items():
        match = pattern.fullmatch(where)
        if match:
            return store, match
    return None


def key_vault_client(vault_url: str) -> Any:
    """A ``SecretClient`` for the vault, signed in as the service's identity."""
    from azure.keyvault.secrets import SecretClient
    from headwater.azure_credential import create_azure_credential, quiet_azure_loggers

    quiet_azure_loggers()
    return SecretClient(vault_url, create_azure_credential())


def secrets_manager_client(region: str) -> Any:
    import boto3

    return boto3.client("secretsmanager", region_name=region)


def _from_key_vault(match: re.Match[str]) -> str:
    vault_url, name, version = match.groups()
    return key_vault_client(vault_url).get_secret(name, version).value


def _from_secrets_manager(match: re.Match[str]) -> str:
    return secrets_manager_client(match.group(1)).get_secret_value(
        SecretId=match.group(0))["SecretString"]


READERS: dict[SecretStore, Callable[[re.Match[str]], str]] = {
    SecretStore.KEY_VAULT: _from_key_vault,
    SecretStore.SECRETS_MANAGER: _from_secrets_manager,
}
_PACKAGES = {SecretStore.KEY_VAULT: ("azure.keyvault.secrets", "headwater[azure]"),
             SecretStore.SECRETS_MANAGER: ("boto3", "headwater[aws]")}


def read_secret(setting: str, where: str) -> str:
    """The value kept at ``where`` (the value of ``setting``), read once at start."""
    where = where.strip()
    found = store_of(where)
    if found is None:
        raise ConfigError(f"{setting}={where!r} is neither a Key Vault secret identifier "
                          f"(https://<vault>.vault.azure.net/secrets/<name>) nor a Secrets "
                          f"Manager ARN: set it to where the secret is (the stacks do)")
    store, match = found
    module, extra = _PACKAGES[store]
    try:
        __import__(module)
    except ImportError:
        raise ConfigError(f"{setting} names a secret in {store.value}, but {module} is not "
                          f"installed: pip install '{extra}'") from None
    try:
        value = READERS[store](match)
    except Exception as exc:
        # The SDKs' messages name the identity and the permission, never the value.
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        raise ConfigError(f"cannot read {setting} ({where}) from {store.value}: {reason}; "
                          f"give the service's identity read access to that secret") from None
    if not value:
        raise ConfigError(f"{setting} ({where}) is empty in {store.value}: store the value "
                          f"there")
    return value
