"""``@secrets``: secrets as environment variables and ``current.secrets`` in a step.

    @secrets(sources=["db-credentials", {"type": "azure-key-vault", "id": "api-key"}])
    @step
    def start(self):
        password = os.environ["DB_PASSWORD"]
        key = current.secrets.get("api-key")

Before the step body runs, every source's key/value pairs are fetched (once per task) and
put into the task's environment; ``current.secrets.get(name)`` returns a value, and asks
on-demand sources (a bare backend type such as ``"azure-key-vault"``) by name. The source
syntax is described in ``headwater/secrets/sources.py`` and docs/secrets.md.

Values stay in the task process: they are never set on the flow (so never stored as
artifacts), never logged, and never part of an error message; the variables are removed
again when the task finishes.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..exceptions import SecretsError
from .base import DecoratorError, StepDecorator

if TYPE_CHECKING:
    from ..flowspec import FlowSpec
    from ..graph import FlowGraph
    from ..secrets.base import SecretsBackend
    from ..secrets.sources import SecretSource
    from ..settings import Settings
    from ..task import TaskContext

DEFAULT_TYPE_KEY = "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE"
AWS_TYPE = "aws-secrets-manager"


class SecretsDecorator(StepDecorator):
    """Inject secrets from Azure Key Vault, AWS Secrets Manager or local files into a step.

    ``sources``: a list of secret ids (default backend), ``{"type": ..., "id": ...}`` dicts,
    ``{"type": "inline", "values": {...}}``, or bare backend types for on-demand lookups.
    ``role``: an IAM role to assume for AWS Secrets Manager sources.
    """

    name = "secrets"
    defaults = {"sources": [], "role": None}

    def __init__(self, attributes: dict[str, Any] | None = None, from_cli: bool = False):
        super().__init__(attributes, from_cli)
        self._previous_env: dict[str, str | None] = {}
        self._accessor: Any = None

    def _parse(self, settings: "Settings") -> list["SecretSource"]:
        from ..secrets.sources import parse_source

        sources = self.attributes["sources"]
        if isinstance(sources, (str, dict)):
            sources = [sources]  # one source given without a list
        if not isinstance(sources, (list, tuple)):
            raise SecretsError(f"@secrets(sources=...) must be a list, not "
                               f"{type(sources).__name__}",
                               'e.g. @secrets(sources=["db-credentials"])')
        role = self.attributes["role"]
        if role is not None and not isinstance(role, str):
            raise SecretsError("@secrets(role=...) must be an IAM role ARN string")
        default_type = settings.get(DEFAULT_TYPE_KEY) or "env"
        parsed = [parse_source(raw, default_type) for raw in sources]
        if role and not any(s.type == AWS_TYPE for s in parsed):
            raise SecretsError("@secrets(role=...) applies to aws-secrets-manager sources, "
                               "and this step has none",
                               "remove role=, or give the vault access to the task's "
                               "identity instead")
        return parsed

    def step_init(self, flow_cls: type["FlowSpec"], graph: "FlowGraph", step_name: str) -> None:
        from ..settings import Settings

        try:
            parsed = self._parse(Settings())
        except SecretsError as exc:
            raise DecoratorError(f"@secrets on step {step_name!r}: {exc.message}",
                                 exc.fix) from None
        if not parsed:
            raise DecoratorError(f"@secrets on step {step_name!r} has no sources",
                                 'add some, e.g. @secrets(sources=["db-credentials"]), or '
                                 'remove the decorator')

    def task_pre_step(self, flow: "FlowSpec", ctx: "TaskContext") -> None:
        from ..current import current
        from ..secrets.current import Secrets
        from ..secrets.registry import backend_class

        sources = self._parse(ctx.settings)
        role = self.attributes["role"]
        backends: dict[str, "SecretsBackend"] = {}

        def backend(kind: str) -> "SecretsBackend":
            if kind not in backends:
                # The role is an IAM role: only AWS sources assume it.
                backends[kind] = backend_class(kind).from_settings(
                    ctx.settings, role=role if kind == AWS_TYPE else None)
            return backends[kind]

        values: dict[str, str] = {}
        origin: dict[str, str] = {}
        on_demand: list[tuple["SecretSource", "SecretsBackend"]] = []
        for source in sources:
            if source.on_demand:
                on_demand.append((source, backend(source.type)))
                continue
            for name, value in backend(source.type).fetch(source).items():
                if name in values and values[name] != value:
                    raise SecretsError(
                        f"{source.describe()} and {origin[name]} both set {name} to "
                        f"different values",
                        "rename the key in one of them, or drop one source")
                values[name] = value
                origin[name] = source.describe()
        for name, value in values.items():
            existing = os.environ.get(name)
            if existing is not None and existing != value:
                raise SecretsError(
                    f"{origin[name]} would replace the environment variable {name}, which "
                    f"the task already has",
                    f"unset {name} (e.g. remove it from @environment or the shell), or "
                    f"rename the secret's key")
        self._previous_env = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        self._accessor = Secrets(values, on_demand)
        current._set_extra("secrets", self._accessor)

    def __repr__(self) -> str:
        # `show`, logs and tracebacks print decorators: inline values appear as names only.
        sources = self.attributes["sources"]
        listed = sources if isinstance(sources, (list, tuple)) else [sources]
        masked = [_masked(raw) for raw in listed]
        return f"@secrets(sources={masked!r}, role={self.attributes['role']!r})"

    def task_finished(self, flow: "FlowSpec", ctx: "TaskContext", ok: bool) -> None:
        # The process usually ends here anyway; tidy up for in-process runners and tests.
        for name, previous in self._previous_env.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        self._previous_env = {}
        if self._accessor is not None:
            self._accessor._clear()
            self._accessor = None


def _masked(raw: Any) -> Any:
    """A source with inline values (ours or Metaflow's shape) shown as names only."""
    if not isinstance(raw, dict):
        return raw
    masked = dict(raw)
    if isinstance(raw.get("values"), dict):
        masked["values"] = {k: "***" for k in raw["values"]}
    options = raw.get("options")
    if isinstance(options, dict):
        masked["options"] = {k: ({n: "***" for n in v} if isinstance(v, dict) else "***")
                             for k, v in options.items()}
    return masked
