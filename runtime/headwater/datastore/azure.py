"""The Azure Blob Storage backend (``METAFLOW_DEFAULT_DATASTORE=azure``).

Settings:

- ``METAFLOW_DATASTORE_SYSROOT_AZURE``: ``<container>/<prefix>`` (prefix optional), e.g.
  ``metaflow-prod/artifacts``. No leading or trailing ``/``, no ``//``; the container name
  follows Azure's rules (3-63 lowercase letters, digits and single hyphens).
- ``METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT``: ``https://<account>.blob.core.windows.net``;
  the identity comes from ``create_azure_credential()`` (DefaultAzureCredential + token cache).
- ``METAFLOW_AZURE_STORAGE_CONNECTION_STRING`` (environment only; for Azurite and local
  testing): used instead of the endpoint and credential when set. It is a secret and never
  appears in a profile, a log, ``repr`` or an error message.
- ``METAFLOW_CARD_AZUREROOT``: where cards and other non-artifact files go (``for_cards``).

Every write is atomic: a block blob becomes visible only when its block list is committed.
``overwrite=False`` sends ``If-None-Match: *`` so content-addressed writes are idempotent.
Large files are uploaded and downloaded in parallel chunks of ``CHUNK_BYTES`` from and to
disk, so memory stays around ``max_workers * CHUNK_BYTES`` whatever the size.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import urlsplit

from ..exceptions import (ConfigurationError, DataAlreadyExists, DataNotFound, DataStoreAuthError,
                          DataStoreError, DataStoreThrottled)
from .remote import CHUNK_BYTES, DEFAULT_MAX_WORKERS, RemoteBackend, _unlink, check_key

if TYPE_CHECKING:
    from ..settings import Settings

SYSROOT_KEY = "METAFLOW_DATASTORE_SYSROOT_AZURE"
ENDPOINT_KEY = "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT"
CONNECTION_STRING_KEY = "METAFLOW_AZURE_STORAGE_CONNECTION_STRING"
CARD_ROOT_KEY = "METAFLOW_CARD_AZUREROOT"
#: Where cards go when ``METAFLOW_CARD_AZUREROOT`` is not set (Metaflow's layout).
DEFAULT_CARD_SUFFIX = "mf.cards"

_CONTAINER_RE = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
_EXAMPLE = "metaflow-prod/artifacts"


def parse_azure_sysroot(value: str, setting: str = SYSROOT_KEY) -> tuple[str, str]:
    """Split ``<container>/<prefix>`` into its parts, enforcing the path and container
    naming rules; a bad value is a ``ConfigurationError`` that shows it and a valid one."""

    def bad(problem: str, fix: str | None = None) -> ConfigurationError:
        return ConfigurationError(
            f"{setting}={value!r} {problem}",
            fix or f"use <container>/<prefix>, e.g. {setting}={_EXAMPLE} "
                   f"(or just the container: {setting}=metaflow-prod)")

    if not value or not value.strip():
        raise bad("is empty: the container name must not be empty")
    if value != value.strip():
        raise bad("has leading or trailing spaces")
    if "://" in value:
        raise bad("must not be a URL",
                  f"give the container and prefix only, e.g. {setting}={_EXAMPLE}; the "
                  f"account goes in {ENDPOINT_KEY}")
    if value.startswith("/"):
        raise bad("starts with '/'", f"drop the leading slash: {setting}={value.lstrip('/')}")
    if value.endswith("/"):
        raise bad("ends with '/'", f"drop the trailing slash: {setting}={value.rstrip('/')}")
    if "//" in value:
        raise bad("contains consecutive slashes (//)",
                  f"use single slashes: {setting}={re.sub('/+', '/', value)}")
    container, _, prefix = value.partition("/")
    if not _CONTAINER_RE.match(container):
        raise bad(f"has an invalid container name {container!r}: Azure container names are "
                  f"3-63 characters of lowercase letters, digits and hyphens, start with a "
                  f"letter or digit, and have no consecutive or trailing hyphens")
    if "\\" in prefix:
        raise bad("contains a backslash; blob prefixes use '/'")
    return container, prefix


class AzureBlobBackend(RemoteBackend):
    """Objects are block blobs named ``<prefix>/<key>`` in one container."""

    TYPE = "azure"

    def __init__(self, container: str, prefix: str = "", *, endpoint: str | None = None,
                 connection_string: str | None = None, credential: Any = None,
                 max_workers: int = DEFAULT_MAX_WORKERS, chunk_bytes: int = CHUNK_BYTES,
                 client_options: dict[str, Any] | None = None):
        """``endpoint`` + ``credential`` (default: ``create_azure_credential()``), or a
        ``connection_string``. ``client_options`` go to ``BlobServiceClient`` (e.g.
        ``retry_total``, ``connection_verify``)."""
        super().__init__(max_workers)
        if not endpoint and not connection_string:
            raise ConfigurationError(
                "the Azure datastore needs a blob service endpoint",
                f"export {ENDPOINT_KEY}=https://<account>.blob.core.windows.net (or, for "
                f"Azurite, {CONNECTION_STRING_KEY} in the environment)")
        self.container = container
        self.prefix = prefix.strip("/")
        self.root = f"{container}/{self.prefix}" if self.prefix else container
        self.endpoint = endpoint
        self._connection_string = connection_string
        self._credential = credential
        self.chunk_bytes = chunk_bytes
        self._client_options = dict(client_options or {})

    @classmethod
    def from_settings(cls, settings: "Settings", root: str | None = None,
                      **kwargs: Any) -> "AzureBlobBackend":
        """Build from settings; ``root`` (``<container>/<prefix>``) overrides the sysroot."""
        if root is None:
            root = "" if settings.is_empty(SYSROOT_KEY) else settings.require(
                SYSROOT_KEY, "to keep artifacts in Azure Blob Storage "
                             "(METAFLOW_DEFAULT_DATASTORE=azure)")
            setting = SYSROOT_KEY
            card_root = settings.get(CARD_ROOT_KEY)
            if card_root is not None or settings.is_empty(CARD_ROOT_KEY):
                parse_azure_sysroot(card_root or "", CARD_ROOT_KEY)  # checked before the run
        else:
            setting = "the Azure datastore root"
        container, prefix = parse_azure_sysroot(root, setting)
        connection_string = settings.get(CONNECTION_STRING_KEY)  # environment only
        endpoint = settings.get(ENDPOINT_KEY)
        if endpoint and not connection_string:
            # bearer tokens (the default credential) go only over HTTPS; a key credential
            # passed in may use plain HTTP
            _check_endpoint(endpoint, sends_token=kwargs.get("credential") is None)
        return cls(container, prefix, endpoint=endpoint, connection_string=connection_string,
                   **kwargs)

    @classmethod
    def for_cards(cls, settings: "Settings", **kwargs: Any) -> "AzureBlobBackend":
        """The backend for cards and other non-artifact files: ``METAFLOW_CARD_AZUREROOT``,
        else ``<sysroot>/mf.cards``."""
        card_root = settings.get(CARD_ROOT_KEY)
        if card_root:
            container, prefix = parse_azure_sysroot(card_root, CARD_ROOT_KEY)
            root = f"{container}/{prefix}" if prefix else container
        else:
            sysroot = settings.require(SYSROOT_KEY, "to keep cards in Azure Blob Storage")
            parse_azure_sysroot(sysroot)
            root = f"{sysroot}/{DEFAULT_CARD_SUFFIX}"
        return cls.from_settings(settings, root=root, **kwargs)

    # --- clients -------------------------------------------------------------------------

    def _connect(self) -> Any:
        from ..azure_credential import create_azure_credential, quiet_azure_loggers

        quiet_azure_loggers()
        try:
            import requests
            from azure.core.pipeline.transport import RequestsTransport
            from azure.storage.blob import BlobServiceClient
        except ImportError:
            raise ConfigurationError("the Azure datastore needs azure-storage-blob",
                                     "pip install 'headwater[azure]'") from None
        # One connection per worker thread, or urllib3 drops and reopens connections.
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4,
                                                pool_maxsize=2 * self.max_workers)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        # requests re-reads the whole environment (proxies, CA bundle) on every request:
        # about a fifth of the CPU of a small upload. Read it once per client instead.
        session.trust_env = False
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        options = dict(self._client_options)
        # With a transport of our own, connection settings belong to it, not to the client.
        connection = {k: options.pop(k) for k in _CONNECTION_OPTIONS if k in options}
        if ca_bundle:
            connection.setdefault("connection_verify", ca_bundle)
        options = {
            "transport": RequestsTransport(session=session, session_owner=True, **connection),
            "max_single_put_size": self.chunk_bytes,
            "max_block_size": self.chunk_bytes,
            "max_single_get_size": self.chunk_bytes,
            "max_chunk_get_size": self.chunk_bytes,
            **options,
        }
        options.setdefault("retry_policy", _retry_policy(options))
        if self._connection_string:
            try:
                service = BlobServiceClient.from_connection_string(self._connection_string,
                                                                   **options)
            except ValueError:
                # The SDK's message is generic; never echo the string (it holds a key).
                raise ConfigurationError(
                    f"{CONNECTION_STRING_KEY} is not a valid Azure Storage connection string",
                    "copy it again from the portal or Azurite's docs (DefaultEndpointsProtocol="
                    "...;AccountName=...;AccountKey=...;BlobEndpoint=...)") from None
        else:
            assert self.endpoint is not None  # __init__ refuses neither endpoint nor string
            service = BlobServiceClient(account_url=self.endpoint,
                                        credential=self._credential or create_azure_credential(),
                                        **options)
        # Proxies from HTTPS_PROXY / HTTP_PROXY, unless NO_PROXY covers this endpoint.
        session.proxies.update(requests.utils.get_environ_proxies(service.url))
        return service.get_container_client(self.container)

    def _cache_identity(self) -> str:
        # The account: the endpoint, or the connection string's (hashed with the rest).
        return self.endpoint or self._connection_string or ""

    @property
    def location(self) -> str:
        """The container's URL without any query string (a SAS token would be a secret)."""
        parts = urlsplit(self.clients.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _blob(self, key: str) -> Any:
        return self.clients.get_blob_client(self._name(key))

    # --- errors --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        """Turn Azure SDK errors into Headwater's, saying what to check. Messages carry the
        service's status and error code, never request details (no keys or SAS tokens)."""
        from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError,
                                           ResourceExistsError, ResourceNotFoundError,
                                           ServiceRequestError, ServiceResponseError)

        what = f"{action} {key!r} in azure://{self.root}" if key else \
            f"{action} azure://{self.root}"
        try:
            yield
        except ClientAuthenticationError as exc:
            raise self._auth_error(what, exc) from None
        except ResourceNotFoundError as exc:
            code = _error_code(exc)
            if code == "ContainerNotFound":
                raise DataNotFound(
                    f"{what}: container {self.container!r} does not exist at "
                    f"{self._where()}",
                    f"create it (the Headwater infrastructure stack does), or fix "
                    f"{SYSROOT_KEY}") from None
            raise DataNotFound(f"{what}: no such object") from None
        except ResourceExistsError:
            raise DataAlreadyExists(f"{what}: the object already exists") from None
        except HttpResponseError as exc:
            status = getattr(exc, "status_code", None)
            code = _error_code(exc)
            if status in (401, 403):  # AuthorizationFailure and friends
                raise self._auth_error(what, exc) from None
            if status in (429, 503) or code in ("ServerBusy", "OperationTimedOut"):
                raise DataStoreThrottled(
                    f"{what}: Azure Storage is throttling requests ({status} {code})",
                    "retry later, run fewer tasks at once, or check the storage account's "
                    "request and bandwidth limits") from None
            raise DataStoreError(f"{what} failed: Azure answered {status} {code}") from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise DataStoreError(
                    f"{what}: the TLS certificate of {self._where()} is not trusted",
                    "if a proxy or private CA signs it, point REQUESTS_CA_BUNDLE at the CA "
                    "certificate (PEM)") from None
            raise DataStoreError(
                f"{what}: cannot reach {self._where()} ({type(exc).__name__})",
                f"check {ENDPOINT_KEY}, the network path to the storage account (private "
                f"endpoint, firewall) and that the service is up") from None

    def _auth_error(self, what: str, exc: Any) -> DataStoreAuthError:
        response = getattr(exc, "response", None)
        if response is None:
            # No request was sent: no credential in the chain produced a token.
            detail = _first_lines(str(getattr(exc, "message", "") or exc), 8)
            return DataStoreAuthError(
                f"{what}: no Azure credential could get a token.\n{detail}",
                "sign in with `az login`, or set AZURE_CLIENT_ID / AZURE_TENANT_ID / "
                "AZURE_CLIENT_SECRET, or run where a managed identity is assigned "
                "(AZURE_TOKEN_CREDENTIALS narrows which sources are tried)")
        status = getattr(exc, "status_code", None)
        code = _error_code(exc)
        if code == "AuthorizationPermissionMismatch" or (status == 403 and not
                                                         self._connection_string):
            fix = ("grant the identity the 'Storage Blob Data Contributor' role on the "
                   "storage account (reading needs at least 'Storage Blob Data Reader')")
        elif self._connection_string:
            fix = (f"check the AccountName and AccountKey in {CONNECTION_STRING_KEY} "
                   f"(or that its SAS token is valid and not expired)")
        else:
            fix = ("check that the identity's tenant owns the storage account and that "
                   f"{ENDPOINT_KEY} names the right account")
        return DataStoreAuthError(
            f"{what}: {self._where()} rejected the credentials ({status} {code})", fix)

    def _where(self) -> str:
        try:
            return self.location
        except Exception:  # the client itself could not be built
            return self.endpoint or "the storage account"

    # --- StorageBackend ------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        with self._errors("checking", key):
            return self._blob(key).exists()

    def put_bytes(self, key: str, data: bytes | memoryview, overwrite: bool = True) -> None:
        from azure.core.exceptions import ResourceExistsError

        if isinstance(data, memoryview):
            data = data.tobytes()
        with self._errors("writing", key):
            try:
                self._blob(key).upload_blob(data, length=len(data), overwrite=overwrite)
            except ResourceExistsError:
                if overwrite:
                    raise
                # overwrite=False: the stored object is kept, as content-addressing wants.

    def put_file(self, key: str, path: str, overwrite: bool = True, move: bool = False) -> None:
        from azure.core.exceptions import ResourceExistsError

        with self._errors("writing", key):
            blob = self._blob(key)
            # Skip a large upload when the same content is already stored.
            if overwrite or not blob.exists():
                size = os.path.getsize(path)
                with open(path, "rb") as f:
                    try:
                        blob.upload_blob(f, length=size, overwrite=overwrite,
                                         max_concurrency=self.max_workers)
                    except ResourceExistsError:
                        if overwrite:
                            raise
        if move:
            _unlink(path)

    def get_bytes(self, key: str) -> bytes:
        with self._errors("reading", key):
            return self._blob(key).download_blob(max_concurrency=self.max_workers).readall()

    def _download(self, key: str, dest: str) -> str | None:
        with self._errors("reading", key):
            with open(dest, "wb") as f:
                downloader = self._blob(key).download_blob(max_concurrency=self.max_workers)
                downloader.readinto(f)
            return downloader.properties.etag

    def _version(self, key: str) -> str | None:
        with self._errors("checking", key):
            return self._blob(key).get_blob_properties().etag

    def list(self, prefix: str) -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        with self._errors("listing", prefix or None):
            names = self.clients.list_blob_names(name_starts_with=base + prefix)
            return [name[len(base):] for name in names]

    def delete(self, key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with self._errors("deleting", key):
            try:
                self._blob(key).delete_blob(delete_snapshots="include")
            except ResourceNotFoundError as exc:
                if _error_code(exc) == "ContainerNotFound":
                    raise

    def __repr__(self) -> str:
        how = "connection string" if self._connection_string else self.endpoint
        return f"AzureBlobBackend({self.root!r}, {how})"


_CONNECTION_OPTIONS = ("connection_verify", "connection_cert", "connection_timeout",
                       "read_timeout", "connection_data_block_size")
_RETRY_OPTIONS = ("retry_total", "initial_backoff", "increment_base", "random_jitter_range",
                  "retry_to_secondary")


def _retry_policy(options: dict[str, Any]) -> Any:
    """The SDK's exponential retry, except for credential failures: the storage policy would
    retry those with 15 s+ back-offs, so a signed-out user waited a minute for the error."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.storage.blob import ExponentialRetry

    class FailFastOnCredentialErrors(ExponentialRetry):
        def increment(self, settings: Any, request: Any, response: Any = None,
                      error: Any = None) -> bool:
            if isinstance(error, ClientAuthenticationError) and response is None:
                return False
            return super().increment(settings, request, response=response, error=error)

    return FailFastOnCredentialErrors(**{k: options.pop(k) for k in _RETRY_OPTIONS
                                         if k in options})


def _check_endpoint(endpoint: str, sends_token: bool = True) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigurationError(
            f"{ENDPOINT_KEY}={endpoint!r} is not a URL",
            f"export {ENDPOINT_KEY}=https://<account>.blob.core.windows.net")
    if parts.scheme == "http" and sends_token:
        raise ConfigurationError(
            f"{ENDPOINT_KEY}={endpoint!r} uses http://, but the Azure identity "
            f"(DefaultAzureCredential) sends its tokens only over HTTPS",
            f"for Azurite, export {CONNECTION_STRING_KEY}='DefaultEndpointsProtocol=http;"
            f"AccountName=<account>;AccountKey=<key>;BlobEndpoint={endpoint};' (it is used "
            f"instead of the endpoint); for a storage account, use its https:// endpoint")
    if parts.query:
        raise ConfigurationError(
            f"{ENDPOINT_KEY} must not carry a query string (a SAS token is a secret)",
            "give the bare endpoint, e.g. https://<account>.blob.core.windows.net; "
            "identity comes from DefaultAzureCredential")


def _error_code(exc: Any) -> str | None:
    """The service's error code (``BlobNotFound``, ``ServerBusy`` ...), if it sent one."""
    code = getattr(exc, "error_code", None)
    if code is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        code = headers.get("x-ms-error-code")
    code = getattr(code, "value", code)  # the SDK may hand back a StorageErrorCode enum
    return str(code) if code is not None else None


def _first_lines(text: str, n: int) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[:n])
