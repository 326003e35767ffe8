"""moto server (S3 and Secrets Manager emulator) for ``headwater dev up --cloud aws``.

moto keeps everything in memory. So that runs survive ``dev down`` / ``dev up`` (and a
crash), it records every request it serves to ``<dir>/moto/recording.jsonl`` (moto's own
recorder) and the next start replays the state-changing ones (everything but GET and HEAD)
before anything else may talk to it. Multipart uploads do not replay (their upload ids are
random); the runtime uses them only for objects above 8 MB.

moto accepts any credentials. The stack writes an AWS config file (``<dir>/aws/config``,
profile ``headwater-dev``) with placeholder credentials and the endpoints of S3, Secrets
Manager and STS, so boto3 anywhere (the runtime, ``aws`` CLI, a notebook) reaches moto with
``AWS_CONFIG_FILE`` and ``AWS_PROFILE`` set.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from . import process
from .errors import DevStackError

BUCKET = "headwater"
REGION = "us-east-1"
AWS_PROFILE = "headwater-dev"
# Placeholders: moto checks neither; they only keep boto3's credential chain satisfied.
PLACEHOLDER_KEY_ID = "headwater-dev"
PLACEHOLDER_SECRET = "moto-accepts-anything"


def endpoint(port: int) -> str:
    return f"http://{process.LOOPBACK}:{port}"


def recording(data: Path) -> Path:
    return data / "recording.jsonl"


def start(data: Path, port: int, log: Path) -> tuple[int, int]:
    """Start moto, replay the recording, create the bucket; returns (pid, requests
    replayed)."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        raise DevStackError("the AWS dev stack needs moto's server",
                            "pip install 'headwater[dev]' (moto[server])") from None
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METAFLOW_", "AWS_"))}
    env.update({"MOTO_ENABLE_RECORDING": "true",
                "MOTO_RECORDER_FILEPATH": str(recording(data))})
    pid = process.start_detached([sys.executable, "-m", "moto.server", "-H", process.LOOPBACK,
                                  "-p", str(port)], log, env=env)
    try:
        process.wait_until(process.http_ok(endpoint(port) + "/moto-api/"), pid, "moto", log)
        replayed = replay(recording(data), port)
        create_bucket(port)
    except BaseException:
        process.stop(pid)
        raise
    return pid, replayed


def _post(port: int, path: str) -> None:
    req = urllib.request.Request(endpoint(port) + path, method="POST", data=b"")
    urllib.request.urlopen(req, timeout=10).close()


def replay(path: Path, port: int) -> int:
    """Send the recorded state-changing requests to the fresh server (not recorded again)."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    import requests

    _post(port, "/moto-api/recorder/stop-recording")
    count = 0
    try:
        with requests.Session() as session, open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if entry.get("method") in ("GET", "HEAD", None):
                    continue
                body = entry.get("body") or b""
                if entry.get("body_encoded"):
                    body = base64.b64decode(body)
                recorded = urlsplit(entry["url"])
                target = endpoint(port) + recorded.path + (
                    f"?{recorded.query}" if recorded.query else "")
                headers = dict(entry.get("headers") or {})
                headers.pop("Transfer-Encoding", None)
                headers.pop("Host", None)
                session.request(entry["method"], target, headers=headers, data=body,
                                timeout=30)
                count += 1
    finally:
        _post(port, "/moto-api/recorder/start-recording")
    return count


def _client(port: int, service: str):
    try:
        import boto3
    except ImportError:
        raise DevStackError("the AWS dev stack needs boto3", "pip install 'headwater[aws]'") \
            from None
    return boto3.session.Session().client(
        service, endpoint_url=endpoint(port), region_name=REGION,
        aws_access_key_id=PLACEHOLDER_KEY_ID, aws_secret_access_key=PLACEHOLDER_SECRET)


def create_bucket(port: int) -> None:
    s3 = _client(port, "s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if BUCKET not in existing:
        s3.create_bucket(Bucket=BUCKET)


def aws_config(port: int) -> str:
    """An AWS config file pointing boto3 at moto (placeholder credentials)."""
    url = endpoint(port)
    services = "".join(f"{name} =\n  endpoint_url = {url}\n"
                       for name in ("s3", "secrets_manager", "sts"))
    return (f"# Written by `headwater dev up --cloud aws`: moto at {url}. moto accepts any\n"
            f"# credentials; these are placeholders, not secrets.\n"
            f"[profile {AWS_PROFILE}]\nregion = {REGION}\n"
            f"aws_access_key_id = {PLACEHOLDER_KEY_ID}\n"
            f"aws_secret_access_key = {PLACEHOLDER_SECRET}\n"
            f"services = {AWS_PROFILE}\n\n[services {AWS_PROFILE}]\n{services}")
