"""``Run.code`` / ``Task.code``: the code package a run shipped to remote compute.

    code = Run("TrainFlow/12").code       # None when every task ran on this machine
    code.path, code.info["flow_file"], print(code.flowspec)
    code.tarball.extractall("checkout", filter="data")

A package exists only when a task left the machine (``@kubernetes``, ``@batch``, a
deployer); its task metadata (``code-package-sha``/``-url``/``-ds``, written by
``compute/container.py``) names it, and the archive is read from the datastore and checked
against its SHA-256.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import TYPE_CHECKING, Any

from ..exceptions import HeadwaterException

if TYPE_CHECKING:
    from ..datastore.base import StorageBackend


class MetaflowCode:
    """One stored code package: its location, manifest, flow file and archive."""

    def __init__(self, flow_name: str, sha: str, url: str, backend: "StorageBackend"):
        self.flow_name = flow_name
        self.sha = sha
        self.path = url  # where the archive is stored (Metaflow's name)
        self._backend = backend
        self._data: bytes | None = None

    def _bytes(self) -> bytes:
        if self._data is None:
            import hashlib

            from ..package import package_key

            data = self._backend.get_bytes(package_key(self.flow_name, self.sha))
            if hashlib.sha256(data).hexdigest() != self.sha:
                raise HeadwaterException(f"the code package at {self.path} does not match "
                                         f"its SHA-256 {self.sha}",
                                         "the stored copy is damaged; rerun the flow")
            self._data = data
        return self._data

    @property
    def tarball(self) -> tarfile.TarFile:
        """The archive, opened for reading."""
        return tarfile.open(fileobj=io.BytesIO(self._bytes()), mode="r:gz")

    def _member(self, name: str) -> bytes:
        with self.tarball as tar:
            member = tar.extractfile(name)
            if member is None:
                raise HeadwaterException(f"the code package has no file {name}",
                                         "it was made by another headwater version")
            return member.read()

    @property
    def info(self) -> dict[str, Any]:
        """The package's manifest (headwater version, flow file, ...)."""
        from ..package import MANIFEST_NAME

        return json.loads(self._member(MANIFEST_NAME))

    @property
    def flowspec(self) -> str:
        """The source of the flow file as it was packed."""
        return self._member(self.info["flow_file"]).decode("utf-8")

    def __repr__(self) -> str:
        return f"MetaflowCode({self.path!r})"


def code_of(task: Any) -> MetaflowCode | None:
    """The package a task's metadata names, or None."""
    meta = task.metadata_dict
    sha, url = meta.get("code-package-sha"), meta.get("code-package-url")
    if not sha or not url:
        return None
    ds_root = meta.get("ds-root")
    return MetaflowCode(task.path_components[0], sha, url,
                        task._services.backend(meta.get("code-package-ds"), ds_root))
