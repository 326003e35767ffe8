"""The metadata service's API key: ``METAFLOW_SERVICE_AUTH_KEY`` from the environment, or
read from the secret store the profile names.

A profile never holds the key. The stacks emit ``METAFLOW_SERVICE_AUTH_SECRET_ID``, where it
is: a Key Vault secret identifier (``https://<vault>.vault.azure.net/secrets/<name>``) or a
Secrets Manager ARN. The key is read with the caller's cloud identity (``az login`` / the
AWS credential chain on a laptop, workload identity / IRSA / the Batch task role in a
task), once per process.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from .exceptions import ConfigurationError

__all__ = ["AUTH_KEY", "AUTH_SECRET_ID", "service_auth_key"]

AUTH_KEY = "METAFLOW_SERVICE_AUTH_KEY"
AUTH_SECRET_ID = "METAFLOW_SERVICE_AUTH_SECRET_ID"
_KEY_VAULT = re.compile(r"(https://[^/\s]+\.vault\.azure\.net)/secrets/([A-Za-z0-9-]{1,127})"
                        r"(?:/([0-9a-f]{32}))?/?")
_SECRETS_MANAGER = re.compile(r"arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:.+")


def service_auth_key(settings: Any) -> str | None:
    """The key to send in ``x-api-key``, or ``None`` when neither setting is present."""
    key = settings.get(AUTH_KEY)
    if key:
        return key
    where = settings.get(AUTH_SECRET_ID)
    return _read(where.strip()) if where else None


@functools.lru_cache(maxsize=8)
def _read(where: str) -> str:
    vault = _KEY_VAULT.fullmatch(where)
    if vault:
        return _from_key_vault(where, *vault.groups())
    aws = _SECRETS_MANAGER.fullmatch(where)
    if aws:
        return _from_secrets_manager(where, aws.group(1))
    raise ConfigurationError(
        f"{AUTH_SECRET_ID}={where!r} is neither a Key Vault secret identifier nor a Secrets "
        f"Manager ARN",
        "re-import the profile your stack exports (`headwater configure from-stack`), or "
        f"set {AUTH_KEY} in the environment")


def _unreadable(where: str, exc: Exception) -> ConfigurationError:
    # The error text of the SDK names the identity and the permission, never the value.
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ConfigurationError(
        f"cannot read the metadata service's API key from {where}: {reason}",
        "sign in with an identity that may read it (users and task identities of the stack "
        f"may), or set {AUTH_KEY} in the environment")


def _from_key_vault(where: str, vault_url: str, name: str, version: str | None) -> str:
    try:
        from azure.keyvault.secrets import SecretClient
    except ImportError:
        raise ConfigurationError(f"{AUTH_SECRET_ID} names a Key Vault secret, but the Azure "
                                 f"SDK is not installed",
                                 "pip install 'headwater[azure]'") from None
    from .azure_credential import create_azure_credential, quiet_azure_loggers

    quiet_azure_loggers()
    try:
        client = SecretClient(vault_url, create_azure_credential())
        value = client.get_secret(name, version).value
    except Exception as exc:
        raise _unreadable(where, exc) from None
    if value is None:
        raise _unreadable(where, ValueError("the secret has no value"))
    return value


def _from_secrets_manager(where: str, region: str) -> str:
    try:
        import boto3
    except ImportError:
        raise ConfigurationError(f"{AUTH_SECRET_ID} names a Secrets Manager secret, but "
                                 f"boto3 is not installed",
                                 "pip install 'headwater[aws]'") from None
    try:
        client = boto3.client("secretsmanager", region_name=region)
        return client.get_secret_value(SecretId=where)["SecretString"]
    except Exception as exc:
        raise _unreadable(where, exc) from None
