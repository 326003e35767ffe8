"""A stack's configuration, checked before any resource is declared.

``StackSettings.load`` takes the values of a stack's config keys (``read_config`` reads
them from ``pulumi.Config``) and returns the top-level settings plus, per section, keyword
arguments for the component that section configures. Unknown keys and bad values are
``ConfigError``s that name the key, so ``pulumi preview`` stops with a sentence rather than
a provider error half-way through ``pulumi up``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from .options import ConfigError, parse_knobs, parse_value

__all__ = ["StackSettings", "ENVIRONMENTS"]

ENVIRONMENTS = ("dev", "prod", "sandbox")

# Top-level keys every stack understands, with their types.
_COMMON: dict[str, Any] = {
    "environment": Literal["dev", "prod", "sandbox"],
    "prefix": str,
    "allowedClientIpRanges": list[str],
    "serviceVersion": str | None,
    "serviceImage": str | None,
    "taskImage": str | None,
    "serviceUrl": str | None,
}


@dataclass
class StackSettings:
    """Checked configuration of one stack: top-level values and per-section knobs."""

    project: str
    environment: str
    prefix: str = "hw"
    allowed_client_ip_ranges: list[str] = field(default_factory=list)
    service_version: str | None = None
    service_image: str | None = None
    task_image: str | None = None
    service_url: str | None = None
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def keys(cls, sections: Mapping[str, type],
             extra: Mapping[str, tuple[Any, Any]] | None = None) -> list[str]:
        """Every config key (without the project namespace) a stack reads."""
        return [*_COMMON, *sections, *(extra or {})]

    @classmethod
    def load(cls, project: str, raw: Mapping[str, Any], sections: Mapping[str, type],
             extra: Mapping[str, tuple[Any, Any]] | None = None) -> "StackSettings":
        """Check ``raw`` (config key -> value) against the common keys, ``sections``
        (config key -> the component ``...Args`` class whose knobs it sets) and ``extra``
        (this cloud's own top-level keys: key -> (type, default))."""
        extra = extra or {}
        known = set(_COMMON) | set(sections) | set(extra)
        for key in raw:
            if key not in known:
                raise ConfigError(f"{project}:{key} is not a setting of this stack "
                                  f"(settings: {', '.join(sorted(known))})")
        if "environment" not in raw:
            raise ConfigError(f"{project}:environment is not set: set it to one of "
                              f"{', '.join(ENVIRONMENTS)} in Pulumi.<stack>.yaml")
        values = {key: parse_value(_COMMON[key], raw[key], f"{project}:{key}")
                  for key in _COMMON if key in raw}
        version = values.get("serviceVersion")
        if version is not None and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
                                                    version):
            raise ConfigError(f"{project}:serviceVersion {version!r} is not a valid image tag")
        parsed = {key: parse_knobs(args, raw.get(key), f"{project}:{key}")
                  for key, args in sections.items()}
        own = {key: parse_value(kind, raw[key], f"{project}:{key}") if key in raw else default
               for key, (kind, default) in extra.items()}
        return cls(
            project=project,
            environment=values["environment"],
            prefix=values.get("prefix", "hw"),
            allowed_client_ip_ranges=values.get("allowedClientIpRanges", []),
            service_version=version,
            service_image=values.get("serviceImage"),
            task_image=values.get("taskImage"),
            service_url=values.get("serviceUrl"),
            sections=parsed,
            extra=own,
        )

    def knobs(self, section: str) -> dict[str, Any]:
        """Keyword arguments for the component configured by ``section``."""
        return dict(self.sections.get(section, {}))

    @property
    def tags(self) -> dict[str, str]:
        return {"project": "headwater", "environment": self.environment,
                "managed-by": "pulumi"}
