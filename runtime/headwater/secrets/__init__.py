"""Secrets for ``@secrets``: where key/value pairs come from.

``SecretsBackend`` (``base.py``) is the extension point; one file per backend, registered in
``base.SECRETS_BACKENDS`` so a backend's cloud SDK is imported only when it is used:
``env`` and ``inline`` (``env.py``, local development), ``azure-key-vault``
(``azure_key_vault.py``), ``aws-secrets-manager`` (``aws_secrets_manager.py``).
"""

from __future__ import annotations

from .base import (SECRETS_BACKENDS, Secrets, SecretsBackend, SecretSource, backend_class,
                   parse_source)

__all__ = ["SECRETS_BACKENDS", "SecretSource", "Secrets", "SecretsBackend", "backend_class",
           "parse_source"]
