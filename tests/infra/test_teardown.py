"""Sandbox teardown (scripts/teardown-sandboxes, headwater_infra.teardown).

The Pulumi CLI, which the Automation API drives, cannot run here: the tests hand the
script a fake workspace with the same four methods as ``PulumiWorkspace`` (list_stacks,
list_tags, destroy, remove_stack) and check what it is asked to do.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from headwater_infra.teardown import EXPIRES_TAG, KEEP_TAG, main, parse_ttl, plan, teardown

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Summary:  # what LocalWorkspace.list_stacks returns (pulumi.automation.StackSummary)
    name: str
    last_update: datetime | None = None
    update_in_progress: bool = False
    current: bool = False


class FakeWorkspace:
    def __init__(self, stacks: list[Summary], tags: dict[str, dict[str, str]] | None = None,
                 failing: set[str] = frozenset()):
        self.stacks = {s.name: s for s in stacks}
        self.tags = tags or {}
        self.failing = failing
        self.calls: list[tuple[str, str]] = []

    def list_stacks(self):
        return list(self.stacks.values())

    def list_tags(self, stack):
        return dict(self.tags.get(stack, {}))

    def destroy(self, stack, log):
        self.calls.append(("destroy", stack))
        if stack in self.failing:
            raise RuntimeError("code: 255\nerror: deleting resource group: AuthorizationFailed")

    def remove_stack(self, stack):
        self.calls.append(("remove", stack))
        del self.stacks[stack]


def naive(moment: datetime) -> datetime:  # the Automation API's datetimes carry no zone
    return moment.replace(tzinfo=None)


def workspace() -> FakeWorkspace:
    return FakeWorkspace([
        Summary("dev", naive(NOW - timedelta(days=30))),
        Summary("prod", naive(NOW - timedelta(days=90))),
        Summary("sandbox-old", naive(NOW - timedelta(days=5))),
        Summary("acme/headwater-azure/sandbox-fresh", naive(NOW - timedelta(hours=3))),
        Summary("sandbox-tagged", naive(NOW - timedelta(hours=1))),
        Summary("sandbox-later", naive(NOW - timedelta(days=9))),
        Summary("sandbox-kept", naive(NOW - timedelta(days=60))),
        Summary("sandbox-busy", naive(NOW - timedelta(days=9)), update_in_progress=True),
        Summary("sandbox-new", None),
        Summary("sandbox-badtag", naive(NOW - timedelta(days=9))),
    ], tags={
        "sandbox-tagged": {EXPIRES_TAG: "2026-11-24T11:00:00Z"},
        "sandbox-later": {EXPIRES_TAG: "2026-12-01T00:00:00+00:00"},
        "sandbox-kept": {KEEP_TAG: "true"},
        "sandbox-badtag": {EXPIRES_TAG: "next friday"},
    })


def test_plan_picks_expired_and_idle_sandboxes_only():
    decisions = {d.stack: d for d in plan(workspace(), NOW, timedelta(hours=72))}
    assert "dev" not in decisions and "prod" not in decisions
    actions = {name: d.action for name, d in decisions.items()}
    assert actions == {
        "sandbox-old": "destroy",                          # idle 5 days > 72 h
        "acme/headwater-azure/sandbox-fresh": "keep",      # updated 3 hours ago
        "sandbox-tagged": "destroy",                       # expiry tag in the past
        "sandbox-later": "keep",                           # expiry tag wins over idleness
        "sandbox-kept": "keep",
        "sandbox-busy": "skip",
        "sandbox-new": "keep",
        "sandbox-badtag": "skip",
    }
    assert decisions["sandbox-old"].reason == "not updated for 5.0 days (TTL 3.0 days)"
    assert decisions["sandbox-tagged"].reason == "expired at 2026-11-24 11:00Z"
    assert "pulumi stack tag set headwater:expires-at" in decisions["sandbox-badtag"].reason


def test_teardown_destroys_then_removes(capsys):
    fake = workspace()
    failures = teardown(fake, plan(fake, NOW, timedelta(hours=72)), dry_run=False)
    assert failures == 0
    assert fake.calls == [("destroy", "sandbox-old"), ("remove", "sandbox-old"),
                          ("destroy", "sandbox-tagged"), ("remove", "sandbox-tagged")]
    assert "removed  sandbox-old" in capsys.readouterr().out


def test_dry_run_changes_nothing(capsys):
    fake = workspace()
    assert teardown(fake, plan(fake, NOW, timedelta(hours=72)), dry_run=True) == 0
    assert fake.calls == []
    out = capsys.readouterr().out
    assert "would    destroy and remove sandbox-old" in out
    assert "keep     sandbox-kept: tagged headwater:keep=true" in out


def test_a_failed_destroy_keeps_the_stack_and_carries_on(capsys):
    fake = workspace()
    fake.failing = {"sandbox-old"}
    failures = teardown(fake, plan(fake, NOW, timedelta(hours=72)), dry_run=False)
    assert failures == 1
    assert ("remove", "sandbox-old") not in fake.calls       # state kept for a retry
    assert "sandbox-old" in fake.stacks
    assert ("remove", "sandbox-tagged") in fake.calls       # the others still go
    assert "destroy failed, stack kept: error: deleting resource group: AuthorizationFailed" \
        in capsys.readouterr().out


def test_main_runs_each_project_and_reports_failures(tmp_path, capsys):
    projects = []
    for cloud in ("azure", "aws"):
        (tmp_path / cloud).mkdir()
        (tmp_path / cloud / "Pulumi.yaml").write_text(f"name: headwater-{cloud}\n")
        projects += ["--project", str(tmp_path / cloud)]
    fakes = {}

    def factory(path):
        fakes[path.name] = workspace()
        if path.name == "aws":
            fakes[path.name].failing = {"sandbox-tagged"}
        return fakes[path.name]

    code = main([*projects, "--ttl", "3d", "--now", "2026-11-24T12:00:00Z"], factory)
    assert code == 1
    assert ("remove", "sandbox-old") in fakes["azure"].calls
    assert ("remove", "sandbox-tagged") not in fakes["aws"].calls
    assert main([*projects, "--dry-run", "--now", "2026-11-24T12:00:00Z"], factory) == 0


@pytest.mark.parametrize("args, message", [
    (["--ttl", "soon"], "TTL 'soon' is not a duration"),
    (["--pattern", "dev*"], "never touches dev or prod stacks"),
    (["--project", "/nonexistent"], "is not a Pulumi project"),
])
def test_bad_arguments(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args, lambda path: workspace())
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_ttl_parsing():
    assert parse_ttl("72h") == timedelta(hours=72)
    assert parse_ttl("3d") == timedelta(days=3)
    assert parse_ttl("90m") == timedelta(minutes=90)
    for bad in ("0h", "3 weeks", "-1d", ""):
        with pytest.raises(ValueError):
            parse_ttl(bad)


def test_script_explains_a_missing_pulumi_cli(tmp_path):
    """The real script, with the real Automation API, on a machine without the CLI."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "teardown-sandboxes"),
                           "--dry-run", "--project", str(ROOT / "stacks" / "aws")],
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": "/nonexistent", "HOME": str(tmp_path)})
    assert done.returncode == 2
    assert "the pulumi CLI is not installed" in done.stderr
