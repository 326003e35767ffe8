"""Secrets for ``@secrets``: where key/value pairs come from.

``SecretsBackend`` (``base.py``) is the extension point; one file per backend, registered in
``registry.SECRETS_BACKENDS`` so a backend's cloud SDK is imported only when it is used:
``env`` and ``inline`` (``env.py``, local development), ``azure-key-vault``
(``azure_key_vault.py``), ``aws-secrets-manager`` (``aws_secrets_manager.py``). The source
syntax of ``@secrets`` is parsed in ``sources.py``; ``current.secrets`` is ``current.py``.
"""

from __future__ import annotations

from .base import SecretsBackend
from .current import Secrets
from .registry import SECRETS_BACKENDS, backend_class
from .sources import SecretSource, parse_source

__all__ = ["SECRETS_BACKENDS", "SecretSource", "Secrets", "SecretsBackend", "backend_class",
           "parse_source"]
