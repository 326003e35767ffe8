"""``headwater configure``: get a profile onto this machine and see what is in effect.

A profile is the JSON file of ``METAFLOW_*`` settings a deployment emits (the Pulumi
stacks export one as the ``profile`` output). ``import`` checks it and writes it where
``headwater.settings`` (and an unmodified Metaflow client) look for it; ``from-stack`` reads
it straight from a stack with the ``pulumi`` CLI; ``show`` says where each value comes
from; ``export`` prints the settings in effect as a profile someone else can import.

A profile never holds a secret: ``profile_problems`` refuses keys and values that look like
one, so a profile can be committed and shared.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping

import click

from ..atomic import write_atomic
from ..exceptions import ConfigurationError
from ..settings import SECRET_KEYS, Settings, parse_profile, profile_path

__all__ = ["configure", "profile_problems", "read_profile", "secret_in_value", "write_profile"]

# Key names that can only hold a credential (METAFLOW_KUBERNETES_SECRETS and
# METAFLOW_DEFAULT_SECRETS_* hold names of secrets, not secrets, and do not match).
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|AUTH_KEY|API_KEY|ACCOUNT_KEY|ACCESS_KEY(?!_ID)"
                          r"|SECRET_KEY|CLIENT_SECRET|CONNECTION_STRING|_TOKEN$")
# Values that carry a credential whatever their key.
_SECRET_VALUE = [
    (re.compile(r"AccountKey=|SharedAccessSignature=", re.I), "a storage account key or SAS"),
    (re.compile(r"[?&]sig=", re.I), "a SAS token"),
    (re.compile(r"://[^/@\s:]+:[^/@\s]+@"), "a password inside a URL"),
    (re.compile(r"password\s*=", re.I), "a password"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
]
_HEADER_SECRET = re.compile(r"auth|key|token|secret|cookie", re.I)
_CHOICES = {
    "METAFLOW_DEFAULT_DATASTORE": ("local", "azure", "s3"),
    "METAFLOW_DEFAULT_METADATA": ("local", "service"),
}
# Where profiles live and which one is active: not settings a profile can carry.
_SELECTORS = ("METAFLOW_HOME", "METAFLOW_PROFILE")
_URL_KEYS = ("METAFLOW_SERVICE_URL", "METAFLOW_SERVICE_INTERNAL_URL", "METAFLOW_UI_URL",
             "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT", "METAFLOW_AZURE_KEY_VAULT_PREFIX",
             "METAFLOW_S3_ENDPOINT_URL", "METAFLOW_ARGO_WORKFLOWS_UI_URL",
             "METAFLOW_ARGO_EVENTS_WEBHOOK_URL")


def secret_in_value(value: str) -> str | None:
    """What kind of credential ``value`` carries (``"a SAS token"``...), or ``None``."""
    for pattern, what in _SECRET_VALUE:
        if pattern.search(value):
            return what
    return None


def profile_problems(profile: Mapping[str, str]) -> list[str]:
    """Everything wrong with ``profile`` (flat ``METAFLOW_*`` keys to strings), each as a
    sentence that names the key and the fix; empty when the profile is fine."""
    problems = []
    for key, value in sorted(profile.items()):
        if not re.fullmatch(r"METAFLOW_[A-Z0-9_]+", key):
            problems.append(f"{key!r} is not a profile setting (keys are METAFLOW_* names, "
                            f"upper case)")
            continue
        if key in SECRET_KEYS or _SECRET_NAME.search(key):
            problems.append(f"{key} is a secret: remove it from the profile and export it "
                            f"as an environment variable instead")
            continue
        if key in _SELECTORS:
            problems.append(f"{key} chooses which profile is read, so it cannot be set "
                            f"inside one: export it in the environment instead")
            continue
        what = secret_in_value(value)
        if what:
            problems.append(f"{key} holds {what}: profiles are shared, so use the cloud "
                            f"identity (az login / IAM role) or an environment variable "
                            f"instead")
            continue
        problem = _value_problem(key, value)
        if problem:
            problems.append(problem)
    return problems


def _value_problem(key: str, value: str) -> str | None:
    if key in _CHOICES and value not in _CHOICES[key]:
        return f"{key} must be one of {', '.join(_CHOICES[key])}, not {value!r}"
    if key in _URL_KEYS and not re.match(r"https?://[^\s/]", value):
        return f"{key} must be an http(s):// URL, not {value!r}"
    if key == "METAFLOW_AZURE_KEY_VAULT_PREFIX" and not value.startswith("https://"):
        return f"{key} must be the vault's https:// URL, not {value!r}"
    if key in ("METAFLOW_DATASTORE_SYSROOT_S3", "METAFLOW_CARD_S3ROOT") \
            and not value.startswith("s3://"):
        return f"{key} must look like s3://bucket/prefix, not {value!r}"
    if key == "METAFLOW_SERVICE_HEADERS":
        try:
            headers = json.loads(value)
        except ValueError:
            return f"{key} must be a JSON object of header names to values"
        if not isinstance(headers, dict):
            return f"{key} must be a JSON object of header names to values"
        secret = sorted(h for h in headers if _HEADER_SECRET.search(str(h)))
        if secret:
            return (f"{key} sets {', '.join(secret)}, which carries a credential: use "
                    f"METAFLOW_SERVICE_AUTH_KEY in the environment instead")
    return None


def read_profile(text: str, origin: str) -> dict[str, str]:
    """Parse and check a profile's JSON text; raises ``ConfigurationError`` naming every
    problem. ``origin`` names the source in messages (a file name, a stack)."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None  # parse_profile reports the position of the syntax error
    if isinstance(data, dict) and isinstance(data.get("profile"), dict):
        raise ConfigurationError(
            f"{origin} holds a stack's outputs, not a profile",
            "import only the profile output: `pulumi stack output profile --json > "
            "profile.json`, or use `headwater configure from-stack STACK_DIR --stack NAME`")
    profile = parse_profile(text, origin)
    if not profile:
        raise ConfigurationError(f"{origin} holds no settings",
                                 "a profile is a JSON object of METAFLOW_* keys")
    problems = profile_problems(profile)
    if problems:
        raise ConfigurationError(f"{origin} is not a usable profile:\n  - "
                                 + "\n  - ".join(problems),
                                 "fix the source of the profile and import it again")
    return profile


def write_profile(profile: Mapping[str, str], name: str | None = None, force: bool = False,
                  env: Mapping[str, str] | None = None) -> tuple[Path, str]:
    """Write ``profile`` where the settings loader finds it (``config.json`` or
    ``config_<name>.json`` in ``$METAFLOW_HOME``). Returns the path and what happened:
    ``created``, ``replaced`` (the old file kept as ``.bak``) or ``unchanged``.

    An existing, different profile is replaced only with ``force``; the write is atomic, so
    a failure leaves the old file intact."""
    if name is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigurationError(f"profile name {name!r} is not usable in a file name",
                                 "use letters, digits, '.', '_' and '-'")
    path = profile_path(name, os.environ if env is None else env)
    text = json.dumps(dict(sorted(profile.items())), indent=2) + "\n"
    outcome = "created"
    if path.exists():
        try:
            old = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot read the existing profile {path}: "
                                     f"{exc.strerror}") from None
        if old == text:
            return path, "unchanged"
        if not force:
            raise ConfigurationError(
                f"{path} already exists with other settings",
                "rerun with --force to replace it (the current file is kept as "
                f"{path.name}.bak), or import under another name with --profile NAME")
        shutil.copy2(path, path.with_name(path.name + ".bak"))
        outcome = "replaced"
    try:
        write_atomic(path, text, permissions=0o644)
    except OSError as exc:
        raise ConfigurationError(f"cannot write the profile {path}: {exc.strerror}",
                                 "check that METAFLOW_HOME points to a writable folder") \
            from None
    return path, outcome


def _report_written(path: Path, outcome: str, count: int, name: str | None) -> None:
    if outcome == "unchanged":
        click.echo(f"{path} already holds these {count} settings; nothing to do")
        return
    click.echo(f"{outcome} {path} ({count} settings)"
               + (f"; the previous file is {path.name}.bak" if outcome == "replaced" else ""))
    if name:
        click.echo(f"use it with: export METAFLOW_PROFILE={name}")


@click.group()
def configure() -> None:
    """Import, inspect and export profiles (the JSON settings files in $METAFLOW_HOME)."""


@configure.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--profile", "name", metavar="NAME",
              help="Save as config_NAME.json (select it with METAFLOW_PROFILE=NAME).")
@click.option("--force", is_flag=True,
              help="Replace an existing profile with other settings (keeps a .bak).")
def import_profile(file: str, name: str | None, force: bool) -> None:
    """Check the profile in FILE ('-' for standard input) and install it."""
    if file == "-":
        text, origin = sys.stdin.read(), "standard input"
    else:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigurationError(f"{file} does not exist",
                                     "give the path of a profile JSON file") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise ConfigurationError(f"cannot read {file}: {reason}") from None
        origin = file
    profile = read_profile(text, origin)
    path, outcome = write_profile(profile, name, force)
    _report_written(path, outcome, len(profile), name)


@configure.command("from-stack")
@click.argument("stack_dir", type=click.Path(file_okay=False))
@click.option("--stack", "stack", required=True, metavar="NAME",
              help="The stack to read, e.g. dev (or org/project/dev).")
@click.option("--profile", "name", metavar="NAME",
              help="Save as config_NAME.json instead of config.json.")
@click.option("--force", is_flag=True,
              help="Replace an existing profile with other settings (keeps a .bak).")
def from_stack(stack_dir: str, stack: str, name: str | None, force: bool) -> None:
    """Read the `profile` output of a deployed stack (needs the pulumi CLI) and install it."""
    directory = Path(stack_dir)
    if not (directory / "Pulumi.yaml").is_file():
        raise ConfigurationError(f"{stack_dir} is not a Pulumi project (no Pulumi.yaml)",
                                 "pass the stack folder, e.g. stacks/azure or stacks/aws")
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise ConfigurationError(
            "the pulumi CLI is not installed (or not on PATH), so the stack cannot be read",
            "install it (https://www.pulumi.com/docs/install/), or on a machine that has "
            f"it run `pulumi stack output profile --json --stack {stack} --cwd {stack_dir} "
            "> profile.json` and then `headwater configure import profile.json`")
    command = [pulumi, "stack", "output", "--json", "--non-interactive",
               "--stack", stack, "--cwd", str(directory)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ConfigurationError("`pulumi stack output` did not answer within 5 minutes",
                                 "check `pulumi whoami` and your network") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {done.returncode}"
        raise ConfigurationError(
            f"`pulumi stack output` failed for stack {stack!r}: {reason}",
            f"check the name with `pulumi stack ls --cwd {stack_dir}`, that you are logged "
            "in to the stack's backend (`pulumi login`), and PULUMI_CONFIG_PASSPHRASE if "
            "the stack uses a passphrase")
    try:
        outputs = json.loads(done.stdout or "{}")
    except ValueError:
        raise ConfigurationError("`pulumi stack output --json` printed something that is "
                                 "not JSON", "run it by hand to see what it prints") from None
    profile = outputs.get("profile") if isinstance(outputs, dict) else None
    if profile is None:
        raise ConfigurationError(f"stack {stack!r} has no `profile` output",
                                 f"deploy it first: `pulumi up --stack {stack} "
                                 f"--cwd {stack_dir}`")
    if not isinstance(profile, dict):
        raise ConfigurationError(f"stack {stack!r} exports `profile` as "
                                 f"{type(profile).__name__}, not an object of settings",
                                 "a profile output must never be marked secret")
    profile = read_profile(json.dumps(profile), f"the profile of stack {stack!r}")
    path, outcome = write_profile(profile, name, force)
    _report_written(path, outcome, len(profile), name)


@configure.command("show")
@click.option("--profile", "name", metavar="NAME", help="Show profile NAME instead of the "
              "active one ($METAFLOW_PROFILE).")
@click.option("--all", "show_all", is_flag=True, help="Also list known settings that are unset.")
def show(name: str | None, show_all: bool) -> None:
    """List the settings in effect and where each comes from (env, profile, default)."""
    settings = Settings(profile=name)
    found = "" if settings.profile_path.exists() else "  (missing: built-in defaults)"
    click.echo(f"profile: {settings.profile_path}{found}")
    rows = []
    for key in settings.keys():
        source = settings.source(key)
        if source == "unset" and not show_all:
            continue
        if key in SECRET_KEYS:
            value = "(set, hidden)" if source == "env" else ""
        else:
            value = settings.get(key) or ""
        rows.append((key, source, value))
    if not rows:
        return
    width = max(len(key) for key, _, _ in rows)
    for key, source, value in rows:
        click.echo(f"{key:<{width}}  {source:<7}  {value}".rstrip())


@configure.command("export")
@click.option("--profile", "name", metavar="NAME", help="Start from profile NAME instead of "
              "the active one ($METAFLOW_PROFILE).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write to this file instead of standard output.")
def export(name: str | None, output: str | None) -> None:
    """Print the settings in effect (environment over profile) as a profile; secrets and
    built-in defaults are left out."""
    settings = Settings(profile=name)
    profile = {key: settings.get(key) or "" for key in settings.keys()
               if key not in SECRET_KEYS and key not in _SELECTORS
               and settings.source(key) in ("env", "profile")}
    problems = profile_problems(profile)
    if problems:
        raise ConfigurationError("the settings in effect cannot be exported as a profile:"
                                 "\n  - " + "\n  - ".join(problems),
                                 "unset or fix the settings named above")
    text = json.dumps(dict(sorted(profile.items())), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {len(profile)} settings to {output}")
