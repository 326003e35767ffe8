"""Secrets from Azure Key Vault (``azure-key-vault``).

The vault is ``METAFLOW_AZURE_KEY_VAULT_PREFIX`` (``https://<vault>.vault.azure.net``); the
identity is ``create_azure_credential()`` (DefaultAzureCredential with a token cache), so the
task needs the *Key Vault Secrets User* role (or a "get" access policy) on the vault.

A source id is a secret name (1-127 letters, digits and hyphens), optionally with a version
(``name/version``), or a full secret URL in another vault
(``https://other.vault.azure.net/secrets/name[/version]``).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import urlsplit

from ..exceptions import ConfigurationError, SecretsError
from .base import SecretsBackend
from .sources import SecretSource, expand_secret

if TYPE_CHECKING:
    from ..settings import Settings

VAULT_KEY = "METAFLOW_AZURE_KEY_VAULT_PREFIX"
_NAME_RE = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_VERSION_RE = re.compile(r"^[0-9A-Za-z]{1,64}$")


def parse_secret_id(secret_id: str) -> tuple[str | None, str, str | None]:
    """``(vault_url or None, name, version or None)``; a bad id is a ``SecretsError``."""
    vault = None
    rest = secret_id
    if secret_id.startswith(("https://", "http://")):
        parts = urlsplit(secret_id)
        segments = [s for s in parts.path.split("/") if s]
        if parts.scheme != "https" or len(segments) not in (2, 3) or segments[0] != "secrets":
            raise SecretsError(
                f"Key Vault secret id {secret_id!r} is not a secret URL",
                "use a name, name/version, or https://<vault>.vault.azure.net/secrets/<name>")
        vault = f"https://{parts.netloc}"
        rest = "/".join(segments[1:])
    name, _, version = rest.partition("/")
    if not _NAME_RE.match(name):
        raise SecretsError(
            f"Key Vault secret name {name!r} is invalid: names are 1-127 letters, digits "
            f"and hyphens",
            "rename the secret in the vault, e.g. db-password (not db_password or db.password)")
    if version and not _VERSION_RE.match(version):
        raise SecretsError(f"Key Vault secret version {version!r} (in {secret_id!r}) is invalid",
                           "a version is the 32-character id shown in the portal")
    return vault, name, version or None


class AzureKeyVaultBackend(SecretsBackend):
    """Secrets read with azure-keyvault-secrets' ``SecretClient``."""

    TYPE = "azure-key-vault"

    def __init__(self, vault_url: str | None, credential: Any = None,
                 client_options: dict[str, Any] | None = None):
        """``client_options`` go to ``SecretClient`` (e.g. ``connection_verify``)."""
        self.vault_url = vault_url.rstrip("/") if vault_url else None
        self._credential = credential
        self._client_options = dict(client_options or {})
        self._clients: dict[str, Any] = {}
        self._pid = os.getpid()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: "Settings", role: str | None = None,
                      **kwargs: Any) -> "AzureKeyVaultBackend":
        cls.reject_role(role)
        vault = settings.get(VAULT_KEY)
        if vault:
            parts = urlsplit(vault)
            if parts.scheme != "https" or not parts.netloc or parts.path.strip("/"):
                raise ConfigurationError(
                    f"{VAULT_KEY}={vault!r} is not a vault URL",
                    f"export {VAULT_KEY}=https://<vault>.vault.azure.net")
        return cls(vault, **kwargs)

    @classmethod
    def validate_id(cls, secret_id: str | None) -> None:
        if secret_id is not None:
            parse_secret_id(secret_id)

    def _client(self, vault_url: str) -> Any:
        if os.getpid() != self._pid:  # forked: the parent's HTTP sessions are not ours
            self._pid, self._clients, self._lock = os.getpid(), {}, threading.Lock()
        with self._lock:
            client = self._clients.get(vault_url)
            if client is None:
                from ..azure_credential import create_azure_credential, quiet_azure_loggers

                quiet_azure_loggers()
                try:
                    from azure.keyvault.secrets import SecretClient
                except ImportError:
                    raise ConfigurationError("Key Vault secrets need azure-keyvault-secrets",
                                             "pip install 'headwater[azure]'") from None
                client = SecretClient(vault_url,
                                      self._credential or create_azure_credential(),
                                      **self._client_options)
                self._clients[vault_url] = client
            return client

    def _vault_for(self, vault: str | None, secret_id: str) -> str:
        vault = vault or self.vault_url
        if not vault:
            raise ConfigurationError(
                f"Key Vault secret {secret_id!r} needs a vault: {VAULT_KEY} is not set",
                f"export {VAULT_KEY}=https://<vault>.vault.azure.net (or use the secret's "
                f"full URL as its id)")
        return vault

    def _read(self, secret_id: str) -> tuple[str | None, str]:
        """The secret's value (None if it does not exist) and the vault asked."""
        vault, name, version = parse_secret_id(secret_id)
        vault = self._vault_for(vault, secret_id)
        from azure.core.exceptions import ResourceNotFoundError

        with self._errors(secret_id, vault):
            try:
                return self._client(vault).get_secret(name, version).value, vault
            except ResourceNotFoundError:
                return None, vault

    @contextlib.contextmanager
    def _errors(self, secret_id: str, vault: str) -> Iterator[None]:
        """Azure errors as ``SecretsError`` naming the secret and vault, never a value."""
        from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError,
                                           ServiceRequestError, ServiceResponseError)

        what = f"Key Vault secret {secret_id!r} in {vault}"
        try:
            yield
        except ClientAuthenticationError as exc:
            if getattr(exc, "response", None) is None:
                raise SecretsError(
                    f"{what}: no Azure credential could get a token "
                    f"({_first_line(str(exc))})",
                    "sign in with `az login`, set AZURE_CLIENT_ID / AZURE_TENANT_ID / "
                    "AZURE_CLIENT_SECRET, or run where a managed identity is assigned") from None
            raise SecretsError(
                f"{what}: the vault rejected the credentials "
                f"({getattr(exc, 'status_code', None)})",
                "check that the identity's tenant owns the vault") from None
        except HttpResponseError as exc:
            status = getattr(exc, "status_code", None)
            if status == 403:
                raise SecretsError(
                    f"{what}: access denied (403)",
                    "grant the task's identity the 'Key Vault Secrets User' role on the vault "
                    "(or a 'get' secret access policy)") from None
            raise SecretsError(f"{what}: Key Vault answered {status} "
                               f"{getattr(exc, 'error_code', None) or ''}".rstrip()) from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise SecretsError(f"{what}: cannot reach the vault ({type(exc).__name__})",
                               f"check {VAULT_KEY} and the network path to the vault "
                               f"(private endpoint, firewall)") from None
        except ValueError as exc:
            # Raised by the challenge policy when the vault's login authority looks wrong.
            raise SecretsError(f"{what}: {_first_line(str(exc))}") from None

    def fetch(self, source: SecretSource) -> dict[str, str]:
        value, vault = self._read(source.id or "")
        name = parse_secret_id(source.id or "")[1]
        if value is None:
            raise SecretsError(f"Key Vault secret {source.id!r} does not exist in {vault}",
                               "check the name (and version) in the portal, or that it is "
                               "not disabled or deleted")
        return expand_secret(source, value, name)

    def get(self, name: str) -> str | None:
        return self._read(name)[0]


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:300]
