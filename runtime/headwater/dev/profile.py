"""The profile ``headwater dev up`` writes: ``$METAFLOW_HOME/config_<name>.json`` (default
name ``dev``), with Metaflow's key names, the same shape the cloud stacks emit.

No secret is in it: the service's API key and Azurite's connection string stay in 0600 files
under the stack's folder, which the profile names (``METAFLOW_SERVICE_AUTH_KEY_FILE``,
``METAFLOW_AZURE_STORAGE_CONNECTION_STRING_FILE``). ``METAFLOW_HEADWATER_DEV_STACK`` marks a
profile as the dev stack's, so ``up`` never overwrites a profile someone else wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..settings import metaflow_home, profile_path
from . import azurite, moto, service
from .errors import DevStackError
from .state import Cloud, StackDir, write_private

MARKER_KEY = "METAFLOW_HEADWATER_DEV_STACK"
DEFAULT_NAME = "dev"
SYSROOT_PREFIX = "metaflow"


def build(stack: StackDir, cloud: Cloud, service_port: int, storage_port: int) -> dict[str, str]:
    """The profile's keys for a stack."""
    profile = {
        MARKER_KEY: str(stack.root),
        "METAFLOW_DEFAULT_METADATA": "service",
        "METAFLOW_SERVICE_URL": service.url(service_port),
        "METAFLOW_SERVICE_AUTH_KEY_FILE": str(stack.api_key_path),
    }
    if cloud is Cloud.AZURE:
        profile.update({
            "METAFLOW_DEFAULT_DATASTORE": "azure",
            "METAFLOW_DATASTORE_SYSROOT_AZURE": f"{azurite.CONTAINER}/{SYSROOT_PREFIX}",
            "METAFLOW_CARD_AZUREROOT": f"{azurite.CONTAINER}/mf.cards",
            "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT": azurite.endpoint(storage_port),
            "METAFLOW_AZURE_STORAGE_CONNECTION_STRING_FILE": str(stack.connection_string_path),
            "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE": "env",
        })
    else:
        profile.update({
            "METAFLOW_DEFAULT_DATASTORE": "s3",
            "METAFLOW_DATASTORE_SYSROOT_S3": f"s3://{moto.BUCKET}/{SYSROOT_PREFIX}",
            "METAFLOW_CARD_S3ROOT": f"s3://{moto.BUCKET}/mf.cards",
            "METAFLOW_S3_ENDPOINT_URL": moto.endpoint(storage_port),
            "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE": "aws-secrets-manager",
            "METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION": moto.REGION,
        })
    return profile


def target(name: str) -> Path:
    return profile_path(name)


def check_writable(path: Path, stack: StackDir) -> None:
    """Refuse to overwrite a profile the dev stack did not write."""
    try:
        existing = json.loads(path.read_text())
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        existing = None
    if not isinstance(existing, dict) or MARKER_KEY not in existing:
        raise DevStackError(f"{path} exists and was not written by `headwater dev up`",
                            "move it away, or pick another profile name with --profile NAME")


def write(path: Path, profile: dict[str, str], stack: StackDir) -> None:
    check_writable(path, stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(profile, indent=2, sort_keys=True) + "\n")


def remove(path: Path, stack: StackDir) -> bool:
    """Delete the profile if it is this stack's; returns whether it was."""
    try:
        existing = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if isinstance(existing, dict) and existing.get(MARKER_KEY) == str(stack.root):
        path.unlink()
        return True
    return False


def write_secrets(stack: StackDir, cloud: Cloud, storage_port: int) -> None:
    """The files the profile names: the Azurite connection string, or the AWS config."""
    if cloud is Cloud.AZURE:
        write_private(stack.connection_string_path, azurite.connection_string(storage_port) + "\n")
    else:
        write_private(stack.aws_config_path, moto.aws_config(storage_port))


def next_steps(name: str, stack: StackDir, cloud: Cloud) -> list[str]:
    """The two lines a user types next."""
    export = f"export METAFLOW_PROFILE={name}"
    if metaflow_home() != Path("~/.metaflowconfig").expanduser():
        export += f" METAFLOW_HOME={metaflow_home()}"
    if cloud is Cloud.AWS:
        export += f" AWS_CONFIG_FILE={stack.aws_config_path} AWS_PROFILE={moto.AWS_PROFILE}"
    return [export, "python examples/hello_flow.py run"]
