"""Resource names: one place that knows each cloud's naming rules.

Every physical name derives from a *root*, ``<prefix>-<stack>`` (``hw-dev``,
``hw-sandbox-alice``), so two stacks never collide and a name tells you which stack owns
it. Names that must be globally unique (storage accounts, key vaults, Postgres servers,
registries, S3 buckets) also carry a short random suffix that the stack generates once
and keeps in its state.

Each builder shortens the root when the cloud's length limit demands it, then checks the
result with the matching ``check_*`` rule, so a bad prefix fails at ``pulumi preview``
with a message instead of half-way through ``pulumi up``.

    >>> naming = Naming("hw", "dev")
    >>> naming.storage_account("x7k2p9")
    'hwdevx7k2p9'
    >>> naming.key_vault("x7k2p9")
    'hw-dev-x7k2p9'
"""

from __future__ import annotations

import re

__all__ = ["InvalidName", "Naming", "RULES", "check"]


class InvalidName(ValueError):
    """A name breaks a cloud's naming rule; the message says which rule and how to fix it."""


class _Rule:
    """One naming rule: allowed characters, length, and a sentence a human can act on."""

    def __init__(self, kind: str, pattern: str, min_len: int, max_len: int, text: str):
        self.kind = kind
        self.regex = re.compile(pattern)
        self.min_len = min_len
        self.max_len = max_len
        self.text = text

    def check(self, name: str) -> str:
        if not (self.min_len <= len(name) <= self.max_len) or not self.regex.fullmatch(name):
            raise InvalidName(f"{name!r} is not a valid {self.kind} name: {self.text}")
        if "--" in name and self.kind in _NO_DOUBLE_HYPHEN:
            raise InvalidName(f"{name!r} is not a valid {self.kind} name: "
                              f"consecutive hyphens are not allowed")
        return name


_NO_DOUBLE_HYPHEN = {"key vault", "rds instance", "s3 bucket"}

RULES: dict[str, _Rule] = {rule.kind: rule for rule in (
    _Rule("prefix", r"[a-z][a-z0-9]*", 1, 8,
          "1-8 lowercase letters or digits, starting with a letter (it starts every name)"),
    _Rule("stack", r"[a-z][a-z0-9-]*[a-z0-9]", 2, 40,
          "lowercase letters, digits and hyphens, starting with a letter"),
    _Rule("storage account", r"[a-z0-9]+", 3, 24,
          "3-24 lowercase letters and digits, globally unique"),
    _Rule("key vault", r"[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]", 3, 24,
          "3-24 letters, digits and hyphens, starting with a letter, not ending with a "
          "hyphen, globally unique"),
    _Rule("postgres server", r"[a-z0-9][a-z0-9-]*[a-z0-9]", 3, 63,
          "3-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen"),
    _Rule("container registry", r"[A-Za-z0-9]+", 5, 50, "5-50 letters and digits"),
    _Rule("azure resource", r"[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9_]", 1, 63,
          "1-63 letters, digits, '-', '_' and '.', not ending with '.' or '-'"),
    _Rule("blob container", r"[a-z0-9](?!.*--)[a-z0-9-]*[a-z0-9]", 3, 63,
          "3-63 lowercase letters, digits and single hyphens"),
    _Rule("s3 bucket", r"[a-z0-9][a-z0-9-]*[a-z0-9]", 3, 63,
          "3-63 lowercase letters, digits and hyphens, globally unique"),
    _Rule("rds instance", r"[a-z][a-z0-9-]*[a-z0-9]", 1, 63,
          "1-63 lowercase letters, digits and hyphens, starting with a letter"),
    _Rule("iam role", r"[A-Za-z0-9+=,.@_-]+", 1, 64, "1-64 characters from A-Za-z0-9+=,.@_-"),
    _Rule("aws resource", r"[A-Za-z0-9][A-Za-z0-9-]*", 1, 32,
          "1-32 letters, digits and hyphens (load balancers and target groups)"),
    _Rule("aws name", r"[A-Za-z0-9][A-Za-z0-9_-]*", 1, 128,
          "letters, digits, '-' and '_' (Batch, ECS, Step Functions, DynamoDB)"),
    _Rule("kubernetes", r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", 1, 63,
          "an RFC 1123 label: 1-63 lowercase letters, digits and hyphens"),
)}


def check(kind: str, name: str) -> str:
    """Check ``name`` against the rule for ``kind`` (a key of ``RULES``); returns it."""
    return RULES[kind].check(name)


def _trim(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters without leaving a trailing hyphen."""
    return text[:limit].rstrip("-")


class Naming:
    """Names for one stack: ``Naming(prefix, stack)``; suffix-taking builders are for
    globally unique names."""

    def __init__(self, prefix: str, stack: str):
        check("prefix", prefix)
        stack = stack.lower().split("/")[-1]  # "org/project/dev" -> "dev"
        check("stack", stack)
        self.prefix = prefix
        self.stack = stack
        self.root = f"{prefix}-{stack}"

    def __repr__(self) -> str:
        return f"Naming({self.prefix!r}, {self.stack!r})"

    # --- names that only need to be unique inside their scope --------------------------

    def resource(self, kind: str, limit: int = 63) -> str:
        """``<root>-<kind>`` for ordinary resources (resource groups, clusters, identities)."""
        return check("azure resource", f"{_trim(self.root, limit - len(kind) - 1)}-{kind}")

    def aws(self, kind: str, limit: int = 32) -> str:
        """``<root>-<kind>`` within AWS's 32-character limit for load balancers and target
        groups (and shorter than every other AWS limit)."""
        return check("aws resource", f"{_trim(self.root, limit - len(kind) - 1)}-{kind}")

    def aws_name(self, kind: str) -> str:
        """``<root>-<kind>`` for Batch, ECS, Step Functions and DynamoDB names."""
        return check("aws name", f"{_trim(self.root, 127 - len(kind))}-{kind}")

    def iam_role(self, kind: str) -> str:
        return check("iam role", f"{_trim(self.root, 63 - len(kind))}-{kind}")

    def rds_instance(self) -> str:
        return check("rds instance", f"{_trim(self.root, 59)}-db")

    def kubernetes(self, kind: str) -> str:
        return check("kubernetes", f"{_trim(self.root, 62 - len(kind))}-{kind}")

    # --- globally unique names -------------------------------------------------------------

    def storage_account(self, suffix: str) -> str:
        """Storage accounts: lowercase letters and digits only, at most 24."""
        body = self.root.replace("-", "")
        return check("storage account", body[: 24 - len(suffix)] + suffix)

    def container_registry(self, suffix: str) -> str:
        body = self.root.replace("-", "")
        return check("container registry", body[: 50 - len(suffix)] + suffix)

    def key_vault(self, suffix: str, kind: str | None = None) -> str:
        """``<root>-<suffix>``, or ``<root>-<kind>-<suffix>`` for a second vault."""
        if kind is None:
            return check("key vault", f"{_trim(self.root, 23 - len(suffix))}-{suffix}")
        return check("key vault",
                     f"{_trim(self.root, 22 - len(suffix) - len(kind))}-{kind}-{suffix}")

    def postgres_server(self, suffix: str) -> str:
        return check("postgres server", f"{_trim(self.root, 59 - len(suffix))}-pg-{suffix}")

    def s3_bucket(self, suffix: str) -> str:
        return check("s3 bucket", f"{_trim(self.root, 52 - len(suffix))}-artifacts-{suffix}")
