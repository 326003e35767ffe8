"""Safe previews of stored artifact values.

An artifact blob is a pickle (``headwater.datastore.artifacts``: ``HWA1`` header, pickle,
out-of-band buffers). Unpickling untrusted bytes runs code, and anyone who can write a run
can write a blob, so the service never calls ``pickle.loads`` on one. It previews a value
only when

- the recorded type is a plain builtin (``PREVIEW_TYPES``) and the blob is small, and
- the blob unpickles with ``NoGlobalsUnpickler``, which refuses every global (no class,
  no function, no ``__reduce__`` callable can be named) and every out-of-band buffer.

What such a pickle can build is made of ints, floats, strings, bytes, lists, tuples,
dicts, sets, ``True``/``False``/``None``; it is rendered with ``reprlib`` limits, as text.
Anything else shows its type, size and sha only.
"""

from __future__ import annotations

import io
import json
import pickle
import reprlib
import struct

PREVIEW_TYPES = frozenset({"int", "float", "str", "bool", "NoneType", "bytes", "list", "tuple",
                           "dict", "set", "frozenset"})
#: Largest stored blob the service will try to preview.
MAX_PREVIEW_BLOB_BYTES = 64 * 1024
MAX_PREVIEW_CHARS = 4000

_MAGIC = b"HWA1"
_SAFE_CLASSES = (int, float, str, bool, type(None), bytes, list, tuple, dict, set, frozenset)


class PreviewRefused(Exception):
    """The value is not one the service renders; the message says why."""


class NoGlobalsUnpickler(pickle.Unpickler):
    """An unpickler that can only build builtin containers and scalars."""

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle's hook
        raise pickle.UnpicklingError(f"the pickle names {module}.{name}; globals are refused")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are refused")


def _repr() -> reprlib.Repr:
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset, r.maxfrozenset = 4, 50, 50, 50, 50, 50
    r.maxstring, r.maxother, r.maxlong = 1000, 200, 200
    return r


def preview_type_allowed(type_name: str) -> bool:
    return type_name in PREVIEW_TYPES


def render(blob: bytes) -> str:
    """The preview text of a stored blob; raises ``PreviewRefused``."""
    if len(blob) > MAX_PREVIEW_BLOB_BYTES:
        raise PreviewRefused(f"the stored value is {len(blob)} bytes; previews are for values "
                             f"up to {MAX_PREVIEW_BLOB_BYTES} bytes")
    if blob[:4] != _MAGIC or len(blob) < 8:
        raise PreviewRefused("the stored value is not in Headwater's artifact format")
    (header_len,) = struct.unpack("<I", blob[4:8])
    try:
        header = json.loads(blob[8:8 + header_len])
        offset, length = (int(x) for x in header["pickle"])
    except (ValueError, KeyError, TypeError):
        raise PreviewRefused("the stored value has a malformed header") from None
    if header.get("buffers"):
        raise PreviewRefused("the value has out-of-band buffers (e.g. an array)")
    try:
        value = NoGlobalsUnpickler(io.BytesIO(blob[offset:offset + length]),
                                   buffers=()).load()
    except Exception as exc:  # any failure of a refused or malformed pickle
        raise PreviewRefused(f"not previewed: {str(exc)[:200]}") from None
    if not isinstance(value, _SAFE_CLASSES):
        raise PreviewRefused(f"a {type(value).__name__} is not previewed")
    text = _repr().repr(value)
    return text[:MAX_PREVIEW_CHARS]
