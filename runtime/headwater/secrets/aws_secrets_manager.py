"""Secrets from AWS Secrets Manager (``aws-secrets-manager``).

A source id is a secret name (``prod/db``) or ARN. Region: the ARN's, else
``METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION``, else boto3's default (``AWS_REGION``,
``AWS_DEFAULT_REGION``, the profile). Credentials come from boto3's standard chain; with
``@secrets(role="arn:aws:iam::...:role/...")`` (or ``METAFLOW_DEFAULT_SECRETS_ROLE``) the task
first assumes that role through STS. A JSON-object secret becomes one variable per key; a
plain string one variable. boto3's ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` points it at an
emulator.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from typing import TYPE_CHECKING, Any, Iterator

from ..exceptions import ConfigurationError, SecretsError
from .base import SecretsBackend
from .sources import SecretSource, expand_secret

if TYPE_CHECKING:
    from ..settings import Settings

REGION_KEY = "METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION"
ROLE_KEY = "METAFLOW_DEFAULT_SECRETS_ROLE"
_NAME_RE = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_ARN_RE = re.compile(r"^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:.+$")
_ROLE_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
_AUTH_CODES = {"AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException",
               "InvalidSignatureException", "AccessDenied", "InvalidClientTokenId"}


class AwsSecretsManagerBackend(SecretsBackend):
    """Secrets read with boto3's ``secretsmanager`` client."""

    TYPE = "aws-secrets-manager"

    def __init__(self, region: str | None = None, role: str | None = None,
                 client_options: dict[str, Any] | None = None):
        """``client_options`` go to ``boto3.client("secretsmanager", ...)``."""
        if role and not _ROLE_RE.match(role):
            raise SecretsError(f"secrets role {role!r} is not an IAM role ARN",
                               "use arn:aws:iam::<account>:role/<name>")
        self.region = region
        self.role = role
        self._client_options = dict(client_options or {})
        self._clients: dict[str | None, Any] = {}
        self._session: Any = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: "Settings", role: str | None = None,
                      **kwargs: Any) -> "AwsSecretsManagerBackend":
        return cls(region=settings.get(REGION_KEY), role=role or settings.get(ROLE_KEY),
                   **kwargs)

    @classmethod
    def validate_id(cls, secret_id: str | None) -> None:
        if secret_id is None or _ARN_RE.match(secret_id):
            return
        if not _NAME_RE.match(secret_id):
            raise SecretsError(
                f"Secrets Manager secret id {secret_id!r} is invalid",
                "a name uses letters, digits and /_+=.@- (up to 512), or give the secret's ARN")

    def _boto_session(self) -> Any:
        try:
            import boto3
        except ImportError:
            raise ConfigurationError("AWS Secrets Manager needs boto3",
                                     "pip install 'headwater[aws]'") from None
        if not self.role:
            return boto3.session.Session()
        with self._errors(f"assuming role {self.role}", None):
            sts = boto3.session.Session().client("sts", region_name=self.region)
            creds = sts.assume_role(RoleArn=self.role,
                                    RoleSessionName="headwater-secrets")["Credentials"]
        return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                     aws_secret_access_key=creds["SecretAccessKey"],
                                     aws_session_token=creds["SessionToken"])

    def _client(self, region: str | None) -> Any:
        if os.getpid() != self._pid:  # forked: boto3 sessions are not fork-safe
            self._pid, self._clients, self._session = os.getpid(), {}, None
            self._lock = threading.Lock()
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                if self._session is None:
                    self._session = self._boto_session()
                region = region or self.region or self._session.region_name
                if not region:
                    raise ConfigurationError(
                        "AWS Secrets Manager needs a region",
                        f"export {REGION_KEY}=<region> (or AWS_DEFAULT_REGION), or use the "
                        f"secret's ARN as its id")
                client = self._session.client("secretsmanager", region_name=region,
                                              **self._client_options)
                self._clients[region] = client
            return client

    @contextlib.contextmanager
    def _errors(self, what: str, secret_id: str | None) -> Iterator[None]:
        """botocore errors as ``SecretsError`` naming the secret, never a value."""
        from botocore.exceptions import (BotoCoreError, ClientError, EndpointConnectionError,
                                         NoCredentialsError, PartialCredentialsError)

        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _AUTH_CODES:
                raise SecretsError(
                    f"{what}: access denied ({code})",
                    "allow secretsmanager:GetSecretValue (and kms:Decrypt for a customer key) "
                    "to the task's role, or check @secrets(role=...)") from None
            if code in ("ThrottlingException", "TooManyRequestsException"):
                raise SecretsError(f"{what}: Secrets Manager is throttling requests ({code})",
                                   "retry later or fetch fewer secrets at once") from None
            raise SecretsError(f"{what}: Secrets Manager answered {code}") from None
        except (NoCredentialsError, PartialCredentialsError):
            raise SecretsError(f"{what}: no AWS credentials found",
                               "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or "
                               "run where an IAM role is attached") from None
        except EndpointConnectionError:
            raise SecretsError(f"{what}: cannot reach Secrets Manager",
                               "check the region and the network path (VPC endpoint)") from None
        except BotoCoreError as exc:
            raise SecretsError(f"{what}: {type(exc).__name__}") from None

    def _read(self, secret_id: str) -> tuple[str, str] | None:
        """``(value, name)`` of the secret, or None if it does not exist."""
        self.validate_id(secret_id)
        arn = _ARN_RE.match(secret_id)
        what = f"Secrets Manager secret {secret_id!r}"
        from botocore.exceptions import ClientError

        with self._errors(what, secret_id):
            client = self._client(arn.group(1) if arn else None)
            try:
                response = client.get_secret_value(SecretId=secret_id)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return None
                raise
        name = response.get("Name") or secret_id
        if "SecretString" in response:
            return response["SecretString"], name
        try:
            return bytes(response["SecretBinary"]).decode("utf-8"), name
        except UnicodeDecodeError:
            raise SecretsError(f"{what} is binary, not text",
                               "store it as a string (base64-encode binary data)") from None

    def fetch(self, source: SecretSource) -> dict[str, str]:
        found = self._read(source.id or "")
        if found is None:
            raise SecretsError(f"Secrets Manager secret {source.id!r} does not exist"
                               f"{' in ' + self.region if self.region else ''}",
                               f"check its name and region ({REGION_KEY})")
        return expand_secret(source, *found)

    def get(self, name: str) -> str | None:
        found = self._read(name)
        return found[0] if found else None
