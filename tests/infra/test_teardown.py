"""Sandbox teardown (scripts/teardown-sandboxes, headwater_infra.teardown).

The Pulumi CLI, which the Automation API drives, cannot run here: the tests hand the
script a fake workspace with the same methods as ``PulumiWorkspace`` and check what it is
asked to do. The usage signal (newest artifact) is read from a real S3 API (moto server);
its Azure twin (``usage._newest_azure``) is not exercised here.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from headwater_infra.teardown import (
    EXPIRES_CONFIG, EXPIRES_TAG, KEEP_CONFIG, KEEP_TAG, MarkSource, main, mark_source, parse_ttl,
    plan, teardown)
from headwater_infra.usage import UsageUnknown, last_artifact_write

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
                 failing: set[str] = frozenset(), used: dict | None = None,
                 config: dict[str, dict[str, str]] | None = None, version: str = "3.211.0",
                 self_managed: bool = True):
        self.stacks = {s.name: s for s in stacks}
        self.tags = tags or {}
        self.failing = failing
        self.used = used or {}          # stack -> datetime, or an exception to raise
        self.config = config or {}
        self.version = version
        self.managed_by_self = self_managed
        self.calls: list[tuple[str, str]] = []

    def list_stacks(self):
        return list(self.stacks.values())

    def list_tags(self, stack):
        return dict(self.tags.get(stack, {}))

    def get_config(self, stack, key):
        return self.config.get(stack, {}).get(key)

    def pulumi_version(self):
        return self.version

    def self_managed(self):
        return self.managed_by_self

    def last_used(self, stack):
        used = self.used.get(stack)
        if isinstance(used, Exception):
            raise used
        return used

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
    assert decisions["sandbox-old"].reason == \
        "not updated for 5.0 days and no artifacts (TTL 3.0 days)"
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


# --- the usage signal -----------------------------------------------------------------------

def test_a_sandbox_used_within_the_ttl_is_never_destroyed():
    fake = FakeWorkspace([Summary(f"sandbox-{n}", naive(NOW - timedelta(days=30)))
                          for n in ("daily", "abandoned", "empty", "unreadable")],
                         used={"sandbox-daily": NOW - timedelta(hours=5),
                               "sandbox-abandoned": NOW - timedelta(days=10),
                               "sandbox-unreadable": UsageUnknown("AccessDenied")})
    decisions = {d.stack: d for d in plan(fake, NOW, timedelta(hours=72))}
    assert {n: d.action for n, d in decisions.items()} == {
        "sandbox-daily": "keep", "sandbox-abandoned": "destroy", "sandbox-empty": "destroy",
        "sandbox-unreadable": "skip"}
    assert decisions["sandbox-daily"].reason == \
        "used 5.0 hours ago (newest artifact; not updated for 30.0 days)"
    assert decisions["sandbox-abandoned"].reason == \
        "not updated for 30.0 days nor used for 10.0 days (TTL 3.0 days)"
    assert "cannot be read: AccessDenied" in decisions["sandbox-unreadable"].reason
    teardown(fake, list(decisions.values()), dry_run=False, log=lambda line: None)
    assert ("destroy", "sandbox-daily") not in fake.calls
    assert ("destroy", "sandbox-unreadable") not in fake.calls


def test_usage_is_the_newest_artifact_in_the_bucket(aws_env, s3_bucket):
    """Real S3 API (moto server): the newest object under the artifact root, not cards."""
    import boto3

    profile = {"METAFLOW_DEFAULT_DATASTORE": "s3",
               "METAFLOW_DATASTORE_SYSROOT_S3": f"s3://{s3_bucket}/artifacts"}
    assert last_artifact_write(profile) is None
    s3 = boto3.client("s3")
    s3.put_object(Bucket=s3_bucket, Key="artifacts/Flow/data/ab/abcd", Body=b"x")
    first = s3.head_object(Bucket=s3_bucket, Key="artifacts/Flow/data/ab/abcd")["LastModified"]
    assert last_artifact_write(profile) == first.astimezone(timezone.utc)
    with pytest.raises(UsageUnknown, match="has no usage signal"):
        last_artifact_write({"METAFLOW_DEFAULT_DATASTORE": "local"})


# --- where keep/expiry marks live ---------------------------------------------------------------

@pytest.mark.parametrize("version, self_managed, source", [
    ("3.211.0", True, MarkSource.TAGS), ("3.250.1", True, MarkSource.TAGS),
    ("3.150.0", False, MarkSource.TAGS),          # Pulumi Cloud keeps tags on any CLI
    ("3.150.0", True, MarkSource.CONFIG), ("3.210.9", True, MarkSource.CONFIG),
])
def test_marks_come_from_config_where_the_cli_ignores_tags(version, self_managed, source):
    fake = FakeWorkspace([], version=version, self_managed=self_managed)
    chosen, explanation = mark_source(fake)
    assert chosen is source
    assert version in explanation
    if source is MarkSource.CONFIG:
        assert "ignores stack tags on a self-managed backend" in explanation


def test_config_marks_keep_and_expire_like_tags():
    fake = FakeWorkspace([Summary("sandbox-kept", naive(NOW - timedelta(days=9))),
                          Summary("sandbox-expired", naive(NOW - timedelta(hours=1))),
                          Summary("sandbox-tag-only", naive(NOW - timedelta(days=9)))],
                         config={"sandbox-kept": {KEEP_CONFIG: "true"},
                                 "sandbox-expired": {EXPIRES_CONFIG: "2026-11-24T11:00:00Z"}},
                         tags={"sandbox-tag-only": {KEEP_TAG: "true"}}, version="3.150.0")
    actions = {d.stack: d.action for d in plan(fake, NOW, timedelta(hours=72),
                                               source=MarkSource.CONFIG)}
    # The tag is what this CLI loses: only config counts.
    assert actions == {"sandbox-kept": "keep", "sandbox-expired": "destroy",
                       "sandbox-tag-only": "destroy"}


def test_main_says_where_the_marks_come_from(tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text("name: headwater-aws\n")
    main(["--project", str(tmp_path), "--dry-run", "--now", "2026-11-24T12:00:00Z"],
         lambda path: FakeWorkspace([], version="3.150.0"))
    assert "keep/expiry from stack config headwater:keep / headwater:expiresAt: pulumi " \
           "3.150.0 ignores stack tags" in capsys.readouterr().out


# --- the scheduled job --------------------------------------------------------------------------

def test_the_scheduled_workflow_runs_the_script_with_a_cli_that_keeps_tags():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "teardown-sandboxes.yml")
                              .read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1: on -> True
    assert triggers["schedule"] == [{"cron": "17 * * * *"}]
    assert "workflow_dispatch" in triggers
    steps = workflow["jobs"]["teardown"]["steps"]
    pulumi = [s for s in steps if str(s.get("uses", "")).startswith("pulumi/actions@")][0]
    major, minor, _ = (int(p) for p in pulumi["with"]["pulumi-version"].split("."))
    assert (major, minor) >= (3, 211)
    runs = " ".join(s.get("run", "") for s in steps)
    assert "scripts/teardown-sandboxes $args" in runs and 'args="--ttl ' in runs
    assert workflow["concurrency"]["cancel-in-progress"] is False  # never cut a destroy short
