"""The S3 backend (``METAFLOW_DEFAULT_DATASTORE=s3``).

Settings:

- ``METAFLOW_DATASTORE_SYSROOT_S3``: ``s3://<bucket>/<prefix>`` (prefix optional).
- ``METAFLOW_S3_ENDPOINT_URL``: an S3-compatible endpoint (MinIO, moto, ...); path-style
  addressing is used with it. boto3's own ``AWS_ENDPOINT_URL_S3`` works too.
- ``METAFLOW_CARD_S3ROOT``: where cards and other non-artifact files go (``for_cards``).

Credentials come from boto3's standard chain (environment, ``AWS_PROFILE``, web identity,
container and instance roles); none is ever read from a profile. Writes are atomic (an S3
object appears whole when its PUT or multipart upload completes). ``overwrite=False``
sends ``If-None-Match: *`` so content-addressed writes are idempotent. Files of
``CHUNK_BYTES`` and more move as parallel multipart uploads and ranged downloads, streamed
from and to disk.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any, Iterator

from ..exceptions import (ConfigurationError, DataAlreadyExists, DataNotFound, DataStoreAuthError,
                          DataStoreError, DataStoreThrottled)
from .remote import (CHUNK_BYTES, DEFAULT_MAX_WORKERS, RemoteBackend, _unlink, check_key,
                     shared_boto3_session)

if TYPE_CHECKING:
    from ..settings import Settings

SYSROOT_KEY = "METAFLOW_DATASTORE_SYSROOT_S3"
ENDPOINT_KEY = "METAFLOW_S3_ENDPOINT_URL"
CARD_ROOT_KEY = "METAFLOW_CARD_S3ROOT"
DEFAULT_CARD_SUFFIX = "mf.cards"

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_EXAMPLE = "s3://my-bucket/metaflow"

_AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
               "InvalidToken", "TokenRefreshRequired", "AllAccessDisabled", "403"}
_THROTTLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
                   "ServiceUnavailable", "503", "RequestTimeTooSkewed"}
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}


def parse_s3_sysroot(value: str, setting: str = SYSROOT_KEY) -> tuple[str, str]:
    """Split ``s3://<bucket>/<prefix>`` into bucket and prefix, enforcing S3's bucket naming
    rules; a bad value is a ``ConfigurationError`` that shows it and a valid one."""

    def bad(problem: str) -> ConfigurationError:
        return ConfigurationError(f"{setting}={value!r} {problem}",
                                  f"use s3://<bucket>/<prefix>, e.g. {setting}={_EXAMPLE}")

    if not value or not value.strip():
        raise bad("is empty: the bucket name must not be empty")
    if not value.startswith("s3://"):
        raise bad("must start with s3://")
    bucket, _, prefix = value[len("s3://"):].partition("/")
    if not bucket:
        raise bad("has no bucket name")
    if not _BUCKET_RE.match(bucket) or ".." in bucket or re.match(r"^\d+\.\d+\.\d+\.\d+$",
                                                                  bucket):
        raise bad(f"has an invalid bucket name {bucket!r}: S3 bucket names are 3-63 "
                  f"lowercase letters, digits, dots and hyphens, starting and ending with a "
                  f"letter or digit")
    prefix = prefix.rstrip("/")
    if "//" in prefix:
        raise bad("contains consecutive slashes (//)")
    return bucket, prefix


class S3Backend(RemoteBackend):
    """Objects are S3 objects named ``<prefix>/<key>`` in one bucket."""

    TYPE = "s3"

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 max_workers: int = DEFAULT_MAX_WORKERS, chunk_bytes: int = CHUNK_BYTES,
                 client_options: dict[str, Any] | None = None):
        """``client_options`` go to ``boto3.client("s3", ...)`` (e.g. ``region_name``)."""
        super().__init__(max_workers)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.root = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.endpoint_url = endpoint_url
        self.chunk_bytes = chunk_bytes
        self._client_options = dict(client_options or {})

    @classmethod
    def from_settings(cls, settings: "Settings", root: str | None = None,
                      **kwargs: Any) -> "S3Backend":
        """Build from settings; ``root`` (``s3://bucket/prefix``) overrides the sysroot."""
        if root is None:
            root = "" if settings.is_empty(SYSROOT_KEY) else settings.require(
                SYSROOT_KEY, "to keep artifacts in S3 (METAFLOW_DEFAULT_DATASTORE=s3)")
            setting = SYSROOT_KEY
            card_root = settings.get(CARD_ROOT_KEY)
            if card_root is not None or settings.is_empty(CARD_ROOT_KEY):
                parse_s3_sysroot(card_root or "", CARD_ROOT_KEY)  # checked before the run
        else:
            setting = "the S3 datastore root"
        bucket, prefix = parse_s3_sysroot(root, setting)
        return cls(bucket, prefix, endpoint_url=settings.get(ENDPOINT_KEY), **kwargs)

    @classmethod
    def for_cards(cls, settings: "Settings", **kwargs: Any) -> "S3Backend":
        """The backend for cards and other non-artifact files: ``METAFLOW_CARD_S3ROOT``,
        else ``<sysroot>/mf.cards``."""
        card_root = settings.get(CARD_ROOT_KEY)
        if card_root:
            parse_s3_sysroot(card_root, CARD_ROOT_KEY)
            return cls.from_settings(settings, root=card_root, **kwargs)
        sysroot = settings.require(SYSROOT_KEY, "to keep cards in S3")
        parse_s3_sysroot(sysroot)
        return cls.from_settings(settings, root=f"{sysroot.rstrip('/')}/{DEFAULT_CARD_SUFFIX}",
                                 **kwargs)

    # --- clients -------------------------------------------------------------------------

    def _connect(self) -> Any:
        try:
            from boto3.s3.transfer import TransferConfig
            from botocore.config import Config
        except ImportError:
            raise ConfigurationError("the S3 datastore needs boto3",
                                     "pip install 'headwater[aws]'") from None
        config = Config(max_pool_connections=2 * self.max_workers,
                        retries={"mode": "standard"},
                        s3={"addressing_style": "path"} if self.endpoint_url else {})
        # Clients per process (no socket crosses a fork), from one session per program.
        session = shared_boto3_session()
        options = {"config": config, **self._client_options}
        if self.endpoint_url:
            options.setdefault("endpoint_url", self.endpoint_url)
        client = session.client("s3", **options)
        transfer = TransferConfig(multipart_threshold=self.chunk_bytes,
                                  multipart_chunksize=self.chunk_bytes,
                                  max_concurrency=self.max_workers, use_threads=True)
        return client, transfer

    def _reconnect(self, inherited: Any) -> Any:
        # The parent's client minus its connections: close() drops the pooled sockets (in
        # this process only; the parent keeps its own), new ones open on the next request.
        client, transfer = inherited
        client.close()
        return client, transfer

    @property
    def _client(self) -> Any:
        return self.clients[0]

    @property
    def _transfer(self) -> Any:
        return self.clients[1]

    def _cache_identity(self) -> str:
        return self.endpoint_url or ""

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # --- errors --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        """Turn botocore errors into Headwater's, saying what to check."""
        from botocore.exceptions import (BotoCoreError, ClientError, EndpointConnectionError,
                                         NoCredentialsError, PartialCredentialsError)

        what = f"{action} {key!r} in {self.root}" if key else f"{action} {self.root}"
        try:
            yield
        except ClientError as exc:
            raise self._client_error(what, exc) from None
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise DataStoreAuthError(
                f"{what}: no AWS credentials found ({type(exc).__name__})",
                "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where an "
                "IAM role is attached (instance profile, ECS task role, IRSA)") from None
        except EndpointConnectionError:
            raise DataStoreError(
                f"{what}: cannot reach {self.endpoint_url or 'the S3 endpoint'}",
                f"check {ENDPOINT_KEY} (for S3-compatible stores), the region and the "
                f"network path") from None
        except BotoCoreError as exc:
            raise DataStoreError(f"{what} failed: {type(exc).__name__}") from None

    def _client_error(self, what: str, exc: Any) -> DataStoreError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return DataNotFound(f"{what}: bucket {self.bucket!r} does not exist",
                                f"create it (the Headwater infrastructure stack does), or fix "
                                f"{SYSROOT_KEY}")
        if code in _NOT_FOUND_CODES:
            return DataNotFound(f"{what}: no such object")
        if code in _AUTH_CODES or status == 403:
            return DataStoreAuthError(
                f"{what}: S3 refused access ({status} {code})",
                f"check that the IAM identity may s3:GetObject, s3:PutObject and s3:ListBucket "
                f"on {self.root} (a missing object also reads as 403 without s3:ListBucket), "
                f"and that its keys are valid and not expired")
        if code in _THROTTLE_CODES or status in (429, 503):
            return DataStoreThrottled(
                f"{what}: S3 is throttling requests ({status} {code})",
                "retry later or run fewer tasks at once; spread keys over more prefixes")
        if code in ("PreconditionFailed", "ConditionalRequestConflict"):
            return DataAlreadyExists(f"{what}: the object already exists")
        return DataStoreError(f"{what} failed: S3 answered {status} {code}")

    # --- StorageBackend ------------------------------------------------------------------

    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self._client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND_CODES:
                return None
            raise

    def exists(self, key: str) -> bool:
        with self._errors("checking", key):
            return self._head(key) is not None

    def put_bytes(self, key: str, data: bytes | memoryview, overwrite: bool = True) -> None:
        from botocore.exceptions import ClientError

        args = {"Bucket": self.bucket, "Key": self._name(key), "Body": bytes(data)}
        if not overwrite:
            args["IfNoneMatch"] = "*"
        with self._errors("writing", key):
            try:
                self._client.put_object(**args)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if overwrite or code not in ("PreconditionFailed", "ConditionalRequestConflict",
                                             "NotImplemented"):
                    raise
                if code == "NotImplemented" and self._head(key) is None:
                    # An S3-compatible store without conditional writes: check, then write.
                    del args["IfNoneMatch"]
                    self._client.put_object(**args)

    def put_file(self, key: str, path: str, overwrite: bool = True, move: bool = False) -> None:
        with self._errors("writing", key):
            # Skip a large upload when the same content is already stored.
            if overwrite or self._head(key) is None:
                self._client.upload_file(path, self.bucket, self._name(key),
                                         Config=self._transfer)
        if move:
            _unlink(path)

    def get_bytes(self, key: str) -> bytes:
        with self._errors("reading", key):
            response = self._client.get_object(Bucket=self.bucket, Key=self._name(key))
            return response["Body"].read()

    def _download(self, key: str, dest: str) -> str | None:
        with self._errors("reading", key):
            head = self._head(key)
            if head is None:
                raise DataNotFound(f"reading {key!r} in {self.root}: no such object")
            self._client.download_file(self.bucket, self._name(key), dest,
                                       Config=self._transfer)
            return head.get("ETag")

    def _version(self, key: str) -> str | None:
        with self._errors("checking", key):
            head = self._head(key)
        if head is None:
            raise DataNotFound(f"checking {key!r} in {self.root}: no such object")
        return head.get("ETag")

    def list(self, prefix: str) -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        with self._errors("listing", prefix or None):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + prefix)
            for page in pages:
                keys.extend(item["Key"][len(base):] for item in page.get("Contents", ()))
        return keys

    def delete(self, key: str) -> None:
        with self._errors("deleting", key):
            self._client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def __repr__(self) -> str:
        return f"S3Backend({self.root!r})"
