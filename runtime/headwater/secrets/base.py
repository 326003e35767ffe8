"""The secrets backend interface: where the values of ``@secrets`` sources come from. The
backends are registered in ``registry.py``; the source syntax is in ``sources.py``."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from ..exceptions import SecretsError

if TYPE_CHECKING:
    from ..settings import Settings
    from .sources import SecretSource


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
