"""Content-addressed artifact storage on top of any ``StorageBackend``.

An artifact is serialized with cloudpickle (protocol 5, so lambdas and local classes
survive) and stored under the SHA-256 of its serialized bytes, once per flow:
``<Flow>/data/<sha[:2]>/<sha>``. Writing the same value twice stores it once.

Large payloads (numpy arrays, pandas frames) are never copied more than needed: their
buffers go *out of band* (PEP 574) straight from the object's memory to a file, hashed on the
way, and on load the file is memory-mapped copy-on-write so arrays point into the page cache
instead of being read into fresh memory. Blob layout::

    b"HWA1" | u32 header length | header JSON {"pickle": [offset, length],
    "buffers": [[offset, length], ...]} | pickle bytes | buffers (64-byte aligned)
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import pickle
import struct
from dataclasses import dataclass
from typing import Any, Iterable

from ..exceptions import DataNotFound, SerializationError
from .base import StorageBackend

MAGIC = b"HWA1"
ALIGN = 64
# Serialized sizes from which an artifact goes through a temporary file and is loaded by
# memory-mapping, instead of being handled as one bytes object.
LARGE_ARTIFACT_BYTES = 4 << 20
WRITE_CHUNK_BYTES = 4 << 20


@dataclass(frozen=True)
class ArtifactInfo:
    """What the task index records about one stored artifact."""

    sha: str
    type: str
    size: int | None  # None: known from a metadata row only (the index was out of reach)

    def to_json(self) -> list:
        return [self.sha, self.type, self.size]

    @classmethod
    def from_json(cls, value: list) -> "ArtifactInfo":
        return cls(value[0], value[1], value[2])


def type_name(obj: Any) -> str:
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _pad(n: int) -> int:
    return (-n) % ALIGN


class _Serialized:
    """An object serialized into a pickle stream plus out-of-band buffers, with its layout."""

    def __init__(self, name: str, obj: Any):
        import cloudpickle

        buffers: list[pickle.PickleBuffer] = []
        try:
            data = cloudpickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
        except Exception as exc:
            raise SerializationError(
                f"artifact {name!r} ({type_name(obj)}) cannot be pickled: {exc}",
                f"store something picklable in self.{name}, or keep it in a local variable "
                f"(names starting with '_' are not stored either)") from None
        self.pickle = data
        self.buffers = [b.raw() for b in buffers]
        # Layout: header first, then pickle, then each buffer aligned for zero-copy numpy.
        # The header records offsets that depend on its own length: recompute until the
        # pickle's aligned start no longer moves.
        start, header = ALIGN, b""
        while True:
            offset = start
            layout_pickle = [offset, len(data)]
            offset += len(data)
            layout_bufs = []
            for buf in self.buffers:
                offset += _pad(offset)
                layout_bufs.append([offset, buf.nbytes])
                offset += buf.nbytes
            header = json.dumps({"pickle": layout_pickle, "buffers": layout_bufs},
                                separators=(",", ":")).encode()
            needed = 8 + len(header) + _pad(8 + len(header))
            if needed <= start:
                break
            start = needed
        self.header = header
        self.layout_pickle = layout_pickle
        self.layout_bufs = layout_bufs
        self.size = offset

    def chunks(self) -> Iterable[bytes | memoryview]:
        """The blob's bytes in order, without joining them."""
        head = MAGIC + struct.pack("<I", len(self.header)) + self.header
        yield head
        pos = len(head)
        parts = [(self.layout_pickle[0], self.pickle)] + [
            (lay[0], buf) for lay, buf in zip(self.layout_bufs, self.buffers)]
        for offset, part in parts:
            if offset > pos:
                yield b"\0" * (offset - pos)
            yield part
            pos = offset + (part.nbytes if isinstance(part, memoryview) else len(part))


def _parse_header(view: memoryview | bytes) -> dict:
    if bytes(view[:4]) != MAGIC:
        raise SerializationError("stored artifact has an unknown format (bad magic)")
    (hlen,) = struct.unpack("<I", bytes(view[4:8]))
    return json.loads(bytes(view[8:8 + hlen]))


def deserialize(view: memoryview | bytes | mmap.mmap) -> Any:
    """Rebuild an object from a blob held in memory (bytes, or a memory map's view)."""
    view = memoryview(view)
    header = _parse_header(view)
    p_off, p_len = header["pickle"]
    buffers = [view[off:off + n] for off, n in header["buffers"]]
    return pickle.loads(view[p_off:p_off + p_len], buffers=buffers)


class ContentAddressedStore:
    """Artifacts of one flow, stored by content hash in a ``StorageBackend``."""

    def __init__(self, backend: StorageBackend, flow_name: str):
        self.backend = backend
        self.flow_name = flow_name

    def key(self, sha: str) -> str:
        return f"{self.flow_name}/data/{sha[:2]}/{sha}"

    def digest(self, name: str, obj: Any) -> str:
        """The key ``save`` would store ``obj`` under, computed without storing anything."""
        digest = hashlib.sha256()
        for chunk in _Serialized(name, obj).chunks():
            digest.update(chunk)
        return digest.hexdigest()

    def save(self, artifacts: dict[str, Any]) -> dict[str, ArtifactInfo]:
        """Store every value; returns name -> ``ArtifactInfo``. Already stored values are
        not written again. Raises ``SerializationError`` naming the first unpicklable one."""
        infos: dict[str, ArtifactInfo] = {}
        small: dict[str, bytes] = {}
        for name, obj in artifacts.items():
            ser = _Serialized(name, obj)
            if ser.size < LARGE_ARTIFACT_BYTES:
                blob = b"".join(ser.chunks())
                sha = hashlib.sha256(blob).hexdigest()
                small[self.key(sha)] = blob
            else:
                sha = self._save_large(ser)
            infos[name] = ArtifactInfo(sha, type_name(obj), ser.size)
        if small:
            self.backend.put_many(small.items(), overwrite=False)
        return infos

    def _save_large(self, ser: _Serialized) -> str:
        """Stream a large blob to a temporary file while hashing it, then hand the file to
        the backend (a rename for the local backend, an upload for remote ones)."""
        fd, tmp = self.backend.tempfile_for(self.key("00tmp"))
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb", buffering=0) as f:
                for chunk in ser.chunks():
                    view = memoryview(chunk).cast("B")
                    # Moderate slices: hashed while still in cache, and one huge write()
                    # is several times slower than many 4 MB ones here.
                    for start in range(0, len(view), WRITE_CHUNK_BYTES):
                        part = view[start:start + WRITE_CHUNK_BYTES]
                        digest.update(part)
                        while part:  # unbuffered writes may be partial
                            part = part[f.write(part):]
            sha = digest.hexdigest()
            self.backend.put_file(self.key(sha), tmp, overwrite=False, move=True)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        return sha

    def load(self, sha: str, size: int | None = None) -> Any:
        """The object stored under ``sha``."""
        key = self.key(sha)
        large = size is None or size >= LARGE_ARTIFACT_BYTES
        if self.backend.IS_LOCAL or large:
            path = self.backend.local_path(key)
            return self._load_file(path, key)
        return deserialize(self.backend.get_bytes(key))

    def load_many(self, shas: Iterable[tuple[str, int]]) -> dict[str, Any]:
        """Load several small artifacts concurrently; returns sha -> object."""
        shas = list(shas)
        out: dict[str, Any] = {}
        remote_small = [sha for sha, size in shas
                        if not self.backend.IS_LOCAL and size < LARGE_ARTIFACT_BYTES]
        for key, blob in self.backend.get_many(self.key(s) for s in remote_small):
            out[key.rsplit("/", 1)[1]] = deserialize(blob)
        for sha, size in shas:
            if sha not in out:
                out[sha] = self.load(sha, size)
        return out

    @staticmethod
    def _load_file(path: str, key: str) -> Any:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise DataNotFound(f"artifact blob {key!r} is missing") from None
        try:
            size = os.fstat(fd).st_size
            if size < LARGE_ARTIFACT_BYTES:
                with os.fdopen(os.dup(fd), "rb") as f:
                    return deserialize(f.read())
            # Copy-on-write map: arrays are writable views of the page cache; writes stay
            # private to this process and never reach the stored file.
            mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
        finally:
            os.close(fd)
        return deserialize(mapped)

    def exists(self, sha: str) -> bool:
        return self.backend.exists(self.key(sha))
