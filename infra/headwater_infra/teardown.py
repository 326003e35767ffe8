"""Tear down sandbox stacks that outlived their welcome (``scripts/teardown-sandboxes``).

A stack is a candidate when its name matches ``sandbox-*``. It is torn down when it is
marked to expire (``headwater:expires-at`` = an ISO 8601 time in the past) or when it was
neither updated nor used for longer than the TTL; ``headwater:keep=true`` protects it.
"Used" is the newest artifact under the sandbox's artifact root (``usage.py``): a sandbox
someone runs flows on every day stays, however old its last ``pulumi up``. When that
cannot be read, the stack is skipped, never destroyed. Tearing down means ``destroy``
(delete the cloud resources) and then removing the stack; if the destroy fails the stack
is kept, so the next run can retry and nothing is orphaned.

Keep and expiry marks are stack tags, which Pulumi CLIs before 3.211 ignore on
self-managed backends (Azure Blob, S3, a local folder); there they are read from stack
config instead (``headwater:keep``, ``headwater:expiresAt``), and the output says which::

    pulumi stack tag set headwater:expires-at 2026-12-01T18:00:00Z --stack sandbox-alice
    pulumi config set headwater:expiresAt 2026-12-01T18:00:00Z --stack sandbox-alice

The Pulumi Automation API sits behind ``PulumiWorkspace``; tests pass a fake with the same
methods (``Workspace`` below).
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

__all__ = ["Decision", "EXPIRES_TAG", "EXPIRES_CONFIG", "KEEP_TAG", "KEEP_CONFIG",
           "MarkSource", "PulumiWorkspace", "TAGS_SINCE", "main", "mark_source", "parse_ttl",
           "plan", "teardown"]

EXPIRES_TAG = "headwater:expires-at"
KEEP_TAG = "headwater:keep"
# The same marks as stack config, for CLIs that ignore tags on self-managed backends.
EXPIRES_CONFIG = "headwater:expiresAt"
KEEP_CONFIG = "headwater:keep"
TAGS_SINCE = (3, 211)  # first CLI that keeps stack tags on a self-managed backend


class MarkSource(str, Enum):
    """Where keep/expiry marks are read from."""

    TAGS = "tags"
    CONFIG = "config"


class Workspace(Protocol):
    """The slice of the Automation API (and the clouds) this module uses."""

    def list_stacks(self) -> Iterable[Any]: ...        # items with .name, .last_update, ...
    def list_tags(self, stack: str) -> dict[str, str]: ...
    def get_config(self, stack: str, key: str) -> str | None: ...
    def pulumi_version(self) -> str: ...
    def self_managed(self) -> bool: ...                # a backend other than Pulumi Cloud
    def last_used(self, stack: str) -> datetime | None: ...  # newest artifact
    def destroy(self, stack: str, log: Callable[[str], None]) -> None: ...
    def remove_stack(self, stack: str) -> None: ...


@dataclass(frozen=True)
class Decision:
    """What happens to one stack, and why."""

    stack: str
    action: str          # "destroy", "keep" or "skip" (cannot decide now; retried next run)
    reason: str


def parse_ttl(text: str) -> timedelta:
    """``"72h"``, ``"3d"``, ``"90m"`` -> a timedelta."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhd])\s*", text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"TTL {text!r} is not a duration like 72h, 3d or 90m")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


def _utc(moment: datetime) -> datetime:
    # The Automation API returns naive datetimes in UTC.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _parse_time(text: str) -> datetime:
    return _utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


def mark_source(workspace: Workspace) -> tuple[MarkSource, str]:
    """Where this CLI and backend keep the keep/expiry marks, and a sentence saying so."""
    version = workspace.pulumi_version()
    try:
        parsed = tuple(int(part) for part in version.split("-")[0].split(".")[:2])
    except ValueError:
        parsed = (0, 0)
    if parsed >= TAGS_SINCE or not workspace.self_managed():
        return MarkSource.TAGS, f"keep/expiry from stack tags (pulumi {version})"
    return MarkSource.CONFIG, (
        f"keep/expiry from stack config {KEEP_CONFIG} / {EXPIRES_CONFIG}: pulumi {version} "
        f"ignores stack tags on a self-managed backend (tags need "
        f"{'.'.join(map(str, TAGS_SINCE))} or later)")


def _marks(workspace: Workspace, stack: str, source: MarkSource) -> dict[str, str]:
    if source is MarkSource.TAGS:
        return workspace.list_tags(stack) or {}
    marks = {KEEP_TAG: workspace.get_config(stack, KEEP_CONFIG),
             EXPIRES_TAG: workspace.get_config(stack, EXPIRES_CONFIG)}
    return {k: v for k, v in marks.items() if v is not None}


def plan(workspace: Workspace, now: datetime, ttl: timedelta,
         pattern: str = "sandbox-*", source: MarkSource = MarkSource.TAGS) -> list[Decision]:
    """Decide, for every stack whose name matches ``pattern``, whether to tear it down
    (keep/expiry marks read from ``source``)."""
    now = _utc(now)
    decisions = []
    for summary in workspace.list_stacks():
        name = summary.name
        if not fnmatch.fnmatch(name.split("/")[-1], pattern):
            continue
        tags = _marks(workspace, name, source)
        if tags.get(KEEP_TAG, "").lower() == "true":
            decisions.append(Decision(name, "keep", f"tagged {KEEP_TAG}=true"))
            continue
        if getattr(summary, "update_in_progress", False):
            decisions.append(Decision(name, "skip", "an update is running on it"))
            continue
        if EXPIRES_TAG in tags:
            try:
                expires = _parse_time(tags[EXPIRES_TAG])
            except ValueError:
                decisions.append(Decision(
                    name, "skip", f"tag {EXPIRES_TAG}={tags[EXPIRES_TAG]!r} is not an ISO 8601 "
                                  f"time; fix it with `pulumi stack tag set {EXPIRES_TAG} "
                                  f"2026-12-01T18:00:00Z --stack {name}`"))
                continue
            if expires <= now:
                decisions.append(Decision(name, "destroy", f"expired at {expires:%Y-%m-%d %H:%M}Z"))
            else:
                decisions.append(Decision(name, "keep", f"expires at {expires:%Y-%m-%d %H:%M}Z"))
            continue
        last = getattr(summary, "last_update", None)
        if last is None:
            decisions.append(Decision(name, "keep", "never deployed"))
            continue
        idle = now - _utc(last)
        if idle <= ttl:
            decisions.append(Decision(name, "keep", f"updated {_human(idle)} ago"))
            continue
        decisions.append(_by_usage(workspace, name, now, ttl, idle))
    return decisions


def _by_usage(workspace: Workspace, name: str, now: datetime, ttl: timedelta,
              idle: timedelta) -> Decision:
    """Not updated within the TTL: destroy only if not used within it either."""
    try:
        used = workspace.last_used(name)
    except Exception as exc:  # no identity, no outputs, a network error: do not guess
        return Decision(name, "skip", f"not updated for {_human(idle)}, but when it was "
                                      f"last used cannot be read: {_last_line(exc)}")
    if used is None:
        return Decision(name, "destroy", f"not updated for {_human(idle)} and no artifacts "
                                         f"(TTL {_human(ttl)})")
    unused = now - _utc(used)
    if unused <= ttl:
        return Decision(name, "keep", f"used {_human(unused)} ago (newest artifact; not "
                                      f"updated for {_human(idle)})")
    return Decision(name, "destroy", f"not updated for {_human(idle)} nor used for "
                                     f"{_human(unused)} (TTL {_human(ttl)})")


def _human(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def teardown(workspace: Workspace, decisions: list[Decision], dry_run: bool,
             log: Callable[[str], None] = print) -> int:
    """Carry out ``decisions``: destroy, then remove, each stack marked ``destroy``.
    Returns the number of stacks that could not be torn down."""
    failures = 0
    for decision in decisions:
        if decision.action != "destroy":
            log(f"{decision.action:8} {decision.stack}: {decision.reason}")
            continue
        if dry_run:
            log(f"{'would':8} destroy and remove {decision.stack}: {decision.reason}")
            continue
        log(f"{'destroy':8} {decision.stack}: {decision.reason}")
        try:
            workspace.destroy(decision.stack, log)
        except Exception as exc:  # the CLI's error text; keep the stack for the next run
            failures += 1
            log(f"{'failed':8} {decision.stack}: destroy failed, stack kept: "
                f"{_last_line(exc)}")
            continue
        try:
            workspace.remove_stack(decision.stack)
        except Exception as exc:
            failures += 1
            log(f"{'failed':8} {decision.stack}: resources destroyed but the stack could "
                f"not be removed: {_last_line(exc)}")
            continue
        log(f"{'removed':8} {decision.stack}")
    return failures


def _last_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


class PulumiWorkspace:
    """``Workspace`` over the Automation API for the stack project in ``work_dir``."""

    def __init__(self, work_dir: Path):
        from pulumi import automation as auto

        self._auto = auto
        self.workspace = auto.LocalWorkspace(work_dir=str(work_dir))

    def list_stacks(self):
        return self.workspace.list_stacks()

    def list_tags(self, stack: str) -> dict[str, str]:
        return dict(self.workspace.list_tags(stack))

    def get_config(self, stack: str, key: str) -> str | None:
        try:
            return self.workspace.get_config(stack, key).value
        except self._auto.CommandError:  # the key is not set
            return None

    def pulumi_version(self) -> str:
        return self.workspace.pulumi_version or "0.0.0"

    def self_managed(self) -> bool:
        url = self.workspace.who_am_i().url or ""
        return not url.startswith(("https://app.pulumi.com", "https://api.pulumi.com"))

    def last_used(self, stack: str) -> datetime | None:
        from .usage import UsageUnknown, last_artifact_write

        outputs = self._auto.Stack.select(stack, self.workspace).outputs()
        if "profile" not in outputs:
            raise UsageUnknown("the stack exports no profile (never fully deployed?)")
        return last_artifact_write(outputs["profile"].value)

    def destroy(self, stack: str, log: Callable[[str], None]) -> None:
        selected = self._auto.Stack.select(stack, self.workspace)
        selected.destroy(on_output=lambda line: log(f"         {line.rstrip()}"))

    def remove_stack(self, stack: str) -> None:
        # Keep Pulumi.<stack>.yaml: its owner can `pulumi up` the sandbox again.
        self.workspace.remove_stack(stack, preserve_config=True)


def main(argv: list[str] | None = None,
         workspace_factory: Callable[[Path], Workspace] = PulumiWorkspace) -> int:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(
        prog="teardown-sandboxes",
        description="Destroy and remove sandbox-* stacks that expired (tag "
                    f"{EXPIRES_TAG}) or were neither updated nor used (newest artifact) "
                    f"within the TTL.")
    parser.add_argument("--ttl", default="72h", help="idle time after which a sandbox goes "
                        "(e.g. 72h, 3d; default 72h)")
    parser.add_argument("--project", action="append", type=Path, metavar="DIR",
                        help="stack project folder (repeatable; default: stacks/azure and "
                             "stacks/aws)")
    parser.add_argument("--pattern", default="sandbox-*", help="stack names to consider")
    parser.add_argument("--dry-run", action="store_true", help="list what would happen, "
                        "change nothing")
    parser.add_argument("--now", help=argparse.SUPPRESS)  # fixed clock for reproducible runs
    options = parser.parse_args(argv)
    if not options.pattern.startswith("sandbox-"):
        parser.error("--pattern must start with 'sandbox-': this tool never touches dev or "
                     "prod stacks")
    try:
        ttl = parse_ttl(options.ttl)
        now = _parse_time(options.now) if options.now else datetime.now(timezone.utc)
    except ValueError as exc:
        parser.error(str(exc))
    failures = 0
    for project in options.project or [root / "stacks" / "azure", root / "stacks" / "aws"]:
        if not (project / "Pulumi.yaml").is_file():
            parser.error(f"{project} is not a Pulumi project (no Pulumi.yaml)")
        print(f"== {project}")
        try:
            workspace = workspace_factory(project)
            source, explanation = mark_source(workspace)
            print(f"   {explanation}")
            decisions = plan(workspace, now, ttl, options.pattern, source)
        except FileNotFoundError:
            print("teardown-sandboxes: the pulumi CLI is not installed; install it from "
                  "https://www.pulumi.com/docs/install/", file=sys.stderr)
            return 2
        except Exception as exc:
            print(f"teardown-sandboxes: cannot list the stacks of {project}: "
                  f"{_last_line(exc)} (check `pulumi whoami`)", file=sys.stderr)
            return 2
        if not decisions:
            print("no sandbox stacks")
        failures += teardown(workspace, decisions, options.dry_run)
    return 1 if failures else 0
