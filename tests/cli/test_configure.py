"""`headwater configure`: import, from-stack, show, export, and every bad input.

All commands run in-process through click's runner against a temporary METAFLOW_HOME. The
`pulumi` CLI cannot be installed here, so `from-stack` runs a stand-in `pulumi` script put
on PATH that prints what `pulumi stack output --json` prints (a fake at the process
boundary; its arguments are checked too).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from headwater.cli.errors import run_cli
from headwater.cli.main import cli
from headwater.settings import Settings

EXPECTED = Path(__file__).resolve().parents[1] / "infra" / "expected_profiles"
PROFILE = json.loads((EXPECTED / "azure-dev.json").read_text())


@pytest.fixture()
def home(tmp_path):
    return tmp_path / "mfhome"


class Result:
    def __init__(self, exit_code: int, output: str):
        self.exit_code = exit_code
        self.output = output


@pytest.fixture()
def run(home):
    """Run `headwater ...` as the console script does (errors printed by run_cli), with
    METAFLOW_HOME=home and no METAFLOW_* setting from the real environment."""
    def invoke(*args, env=None, input=None) -> Result:
        clean = {k: None for k in os.environ if k.startswith("METAFLOW_")}
        runner = CliRunner()
        with runner.isolation(input=input, env={**clean, "METAFLOW_HOME": str(home),
                                                **(env or {})}) as (_, _, output):
            code = run_cli(cli, "headwater", list(args))
        return Result(code, output.getvalue().decode())
    return invoke


def write(tmp_path, data, name="profile.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


# --- import ---------------------------------------------------------------------------------

def test_import_writes_the_default_profile(run, home, tmp_path):
    result = run("configure", "import", write(tmp_path, PROFILE))
    assert result.exit_code == 0, result.output
    assert f"created {home / 'config.json'} ({len(PROFILE)} settings)" in result.output
    assert json.loads((home / "config.json").read_text()) == PROFILE
    settings = Settings(env={"METAFLOW_HOME": str(home)})
    assert settings.get("METAFLOW_SERVICE_URL") == PROFILE["METAFLOW_SERVICE_URL"]


def test_import_named_profile_and_stdin(run, home):
    result = run("configure", "import", "-", "--profile", "dev", input=json.dumps(PROFILE))
    assert result.exit_code == 0, result.output
    assert "export METAFLOW_PROFILE=dev" in result.output
    assert json.loads((home / "config_dev.json").read_text()) == PROFILE


def test_reimport_same_profile_changes_nothing(run, home, tmp_path):
    source = write(tmp_path, PROFILE)
    run("configure", "import", source)
    result = run("configure", "import", source)
    assert result.exit_code == 0 and "nothing to do" in result.output


def test_import_refuses_to_overwrite_a_different_profile_without_force(run, home, tmp_path):
    run("configure", "import", write(tmp_path, PROFILE))
    other = {**PROFILE, "METAFLOW_SERVICE_URL": "http://10.9.9.9"}
    result = run("configure", "import", write(tmp_path, other, "other.json"))
    assert result.exit_code == 1
    assert "already exists with other settings" in result.output
    assert "--force" in result.output
    assert json.loads((home / "config.json").read_text()) == PROFILE  # untouched
    result = run("configure", "import", write(tmp_path, other, "other.json"), "--force")
    assert result.exit_code == 0 and "config.json.bak" in result.output
    assert json.loads((home / "config.json").read_text()) == other
    assert json.loads((home / "config.json.bak").read_text()) == PROFILE


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "must hold a JSON object of METAFLOW_* keys"),
    ("{}", "holds no settings"),
    ({"profile": PROFILE, "registry": "x"}, "holds a stack's outputs, not a profile"),
    ({**PROFILE, "METAFLOW_SERVICE_AUTH_KEY": "k3y"}, "METAFLOW_SERVICE_AUTH_KEY is a secret"),
    ({"METAFLOW_DB_PASSWORD": "x"}, "METAFLOW_DB_PASSWORD is a secret"),
    ({"METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT":
      "https://a.blob.core.windows.net/?sv=2024&sig=abc"}, "holds a SAS token"),
    ({"METAFLOW_SERVICE_URL": "http://admin:pw@10.0.0.1"}, "holds a password inside a URL"),
    ({"METAFLOW_SERVICE_HEADERS": '{"x-api-key": "abc"}'}, "sets x-api-key, which carries"),
    ({"METAFLOW_SERVICE_HEADERS": "[1]"}, "must be a JSON object of header names"),
    ({"METAFLOW_DEFAULT_DATASTORE": "gcs"}, "must be one of local, azure, s3"),
    ({"METAFLOW_DEFAULT_METADATA": "remote"}, "must be one of local, service"),
    ({"METAFLOW_SERVICE_URL": "10.0.0.1:8080"}, "must be an http(s):// URL"),
    ({"METAFLOW_AZURE_KEY_VAULT_PREFIX": "http://v.vault.azure.net"}, "vault's https:// URL"),
    ({"METAFLOW_DATASTORE_SYSROOT_S3": "bucket/x"}, "must look like s3://bucket/prefix"),
    ({"metaflow_user": "x"}, "is not a profile setting"),
    ({"METAFLOW_PROFILE": "prod"}, "chooses which profile is read"),
])
def test_bad_profiles_are_refused_with_the_reason(run, home, tmp_path, content, message):
    result = run("configure", "import", write(tmp_path, content))
    assert result.exit_code == 1
    assert message in result.output
    assert "Configuration error" in result.output and "Traceback" not in result.output
    assert not (home / "config.json").exists()
    if isinstance(content, dict):
        for value in content.values():  # a refused secret is not echoed back
            if value in ("k3y", "pw"):
                assert value not in result.output


def test_every_problem_is_listed_at_once(run, tmp_path):
    bad = {"METAFLOW_DEFAULT_DATASTORE": "gcs", "METAFLOW_SERVICE_URL": "nope"}
    result = run("configure", "import", write(tmp_path, bad))
    assert "METAFLOW_DEFAULT_DATASTORE" in result.output
    assert "METAFLOW_SERVICE_URL" in result.output


def test_import_of_a_missing_file_or_bad_name(run, tmp_path):
    result = run("configure", "import", str(tmp_path / "nope.json"))
    assert result.exit_code == 1 and "does not exist" in result.output
    result = run("configure", "import", write(tmp_path, PROFILE), "--profile", "../etc")
    assert result.exit_code == 1 and "not usable in a file name" in result.output


def test_unwritable_home_is_a_clear_error(run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("configure", "import", write(tmp_path, PROFILE),
                 env={"METAFLOW_HOME": str(blocker / "sub")})
    assert result.exit_code == 1
    assert "cannot write the profile" in result.output and "METAFLOW_HOME" in result.output


# --- show and export ------------------------------------------------------------------------

def test_show_tells_where_each_value_comes_from(run, tmp_path):
    run("configure", "import", write(tmp_path, PROFILE))
    result = run("configure", "show", env={"METAFLOW_KUBERNETES_NAMESPACE": "mine",
                                           "METAFLOW_SERVICE_AUTH_KEY": "s3cret"})
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[1:]}
    assert lines["METAFLOW_KUBERNETES_NAMESPACE"] == ["env", "mine"]
    assert lines["METAFLOW_DEFAULT_DATASTORE"] == ["profile", "azure"]
    assert lines["METAFLOW_SERVICE_AUTH_KEY"] == ["env", "(set,", "hidden)"]
    assert "s3cret" not in result.output
    assert "METAFLOW_BATCH_JOB_QUEUE" not in lines         # unset: only with --all
    everything = run("configure", "show", "--all").output
    assert "METAFLOW_BATCH_JOB_QUEUE" in everything and "unset" in everything


def test_show_without_a_profile_shows_defaults(run, home):
    result = run("configure", "show")
    assert "(missing: built-in defaults)" in result.output
    rows = [line.split() for line in result.output.splitlines()[1:]]
    assert ["METAFLOW_DEFAULT_DATASTORE", "default", "local"] in rows


def test_export_prints_settings_in_effect_without_secrets(run, tmp_path):
    run("configure", "import", write(tmp_path, PROFILE))
    result = run("configure", "export", env={"METAFLOW_USER": "ada",
                                             "METAFLOW_SERVICE_AUTH_KEY": "s3cret",
                                             "METAFLOW_PROFILE": ""})
    assert result.exit_code == 0, result.output
    exported = json.loads(result.output)
    assert exported == {**PROFILE, "METAFLOW_USER": "ada"}
    out = tmp_path / "exported.json"
    result = run("configure", "export", "-o", str(out))
    assert json.loads(out.read_text()) == PROFILE
    # What export writes, import takes back.
    assert run("configure", "import", str(out), "--profile", "copy").exit_code == 0


def test_export_refuses_a_secret_set_under_an_unknown_name(run):
    result = run("configure", "export", env={"METAFLOW_GIT_TOKEN": "t"})
    assert result.exit_code == 1 and "METAFLOW_GIT_TOKEN is a secret" in result.output


# --- from-stack -----------------------------------------------------------------------------

@pytest.fixture()
def stack_dir(tmp_path):
    directory = tmp_path / "stacks" / "azure"
    directory.mkdir(parents=True)
    (directory / "Pulumi.yaml").write_text("name: headwater-azure\nruntime: python\n")
    return directory


def fake_pulumi(tmp_path, stdout: str, code: int = 0, stderr: str = "") -> dict[str, str]:
    """A `pulumi` executable on PATH that records its arguments and answers like the CLI."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "pulumi"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(tmp_path / 'args.json')!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        f"sys.stdout.write({stdout!r})\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({code})\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_from_stack_reads_the_profile_output(run, home, tmp_path, stack_dir):
    outputs = {"profile": PROFILE, "registry": "x.azurecr.io", "resourceGroup": "hw-dev-rg"}
    env = fake_pulumi(tmp_path, json.dumps(outputs))
    result = run("configure", "from-stack", str(stack_dir), "--stack", "dev",
                 "--profile", "dev", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads((home / "config_dev.json").read_text()) == PROFILE
    args = json.loads((tmp_path / "args.json").read_text())
    assert args == ["stack", "output", "--json", "--non-interactive", "--stack", "dev",
                    "--cwd", str(stack_dir)]


def test_from_stack_without_pulumi_says_how_to_get_the_profile(run, stack_dir, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = run("configure", "from-stack", str(stack_dir), "--stack", "dev",
                 env={"PATH": str(empty)})
    assert result.exit_code == 1
    assert "the pulumi CLI is not installed" in result.output
    assert "pulumi stack output profile --json --stack dev" in result.output
    assert "headwater configure import profile.json" in result.output


@pytest.mark.parametrize("stdout, code, stderr, message", [
    ("", 255, "error: no stack named 'dev' found\n", "no stack named 'dev' found"),
    ("{}", 0, "", "has no `profile` output"),
    (json.dumps({"profile": "[secret]"}), 0, "", "exports `profile` as str"),
    ("not json", 0, "", "printed something that is not JSON"),
    (json.dumps({"profile": {**PROFILE, "METAFLOW_SERVICE_AUTH_KEY": "x"}}), 0, "",
     "METAFLOW_SERVICE_AUTH_KEY is a secret"),
])
def test_from_stack_failures_are_explained(run, home, tmp_path, stack_dir, stdout, code,
                                           stderr, message):
    env = fake_pulumi(tmp_path, stdout, code, stderr)
    result = run("configure", "from-stack", str(stack_dir), "--stack", "dev", env=env)
    assert result.exit_code == 1
    assert message in result.output
    assert not (home / "config.json").exists()


def test_from_stack_needs_a_pulumi_project(run, tmp_path):
    result = run("configure", "from-stack", str(tmp_path), "--stack", "dev")
    assert result.exit_code == 1 and "is not a Pulumi project" in result.output


def test_real_stack_folders_are_pulumi_projects():
    root = Path(__file__).resolve().parents[2]
    for cloud in ("azure", "aws"):
        assert (root / "stacks" / cloud / "Pulumi.yaml").is_file()
