"""``current.secrets``: the values a step's ``@secrets`` sources gave, for the task's life."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ..exceptions import SecretsError
from .sources import default_env_var_name

if TYPE_CHECKING:
    from .base import SecretsBackend
    from .sources import SecretSource


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
