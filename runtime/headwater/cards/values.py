"""Any Python value as a bounded piece of HTML: how cards show artifacts.

Scalars are shown whole (long strings trimmed), containers trimmed to a few items and levels,
DataFrames as tables with their shape, numpy arrays with shape, dtype and a preview, images
(PIL, matplotlib figures, PNG/JPEG bytes) as images, and anything else by its ``repr``. Every
branch has a size cap (``Limits``), so one huge artifact cannot make a card slow or huge.
pandas, numpy, PIL and matplotlib are only looked at when the value's module is already
imported (nothing is imported to find out what a value is).
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Size caps for showing one value."""

    string_chars: int = 2000
    container_items: int = 30
    depth: int = 3
    repr_chars: int = 2000
    frame_rows: int = 30
    frame_columns: int = 20
    array_items: int = 200


DEFAULT_LIMITS = Limits()

_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
                (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


def image_mime(data: bytes) -> str | None:
    """The MIME type of PNG/JPEG/GIF bytes, else None."""
    for magic, mime in _IMAGE_MAGIC:
        if data[:len(magic)] == magic:
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _module_type(module: str, name: str) -> type | None:
    """``module.name`` if that module is already imported (never imports it)."""
    found = sys.modules.get(module)
    return getattr(found, name, None) if found is not None else None


def is_dataframe(value: Any) -> bool:
    frame = _module_type("pandas", "DataFrame")
    return frame is not None and isinstance(value, frame)


def is_series(value: Any) -> bool:
    series = _module_type("pandas", "Series")
    return series is not None and isinstance(value, series)


def is_ndarray(value: Any) -> bool:
    array = _module_type("numpy", "ndarray")
    return array is not None and isinstance(value, array)


def is_pil_image(value: Any) -> bool:
    image = _module_type("PIL.Image", "Image")
    return image is not None and isinstance(value, image)


def is_matplotlib_figure(value: Any) -> bool:
    figure = _module_type("matplotlib.figure", "Figure")
    return figure is not None and isinstance(value, figure)


def trim(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit], True


def _note(text: str) -> str:
    return f'<div class="hw-note">{html.escape(text)}</div>'


def short_text(value: Any, limit: int = 200) -> str:
    """A one-line rendering of a value for a table cell or a summary (escaped)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        try:
            text = repr(value) if not isinstance(value, (int, bool)) else str(value)
        except Exception as exc:  # a broken __repr__ must not break the card
            text = f"<unprintable {type(value).__name__}: {exc}>"
    text, cut = trim(text, limit)
    return html.escape(text) + ("…" if cut else "")


def _is_small_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float)) or (
        isinstance(value, str) and len(value) <= 40)


def _format_container(value: Any, limits: Limits, depth: int, out: list[str],
                      indent: str = "") -> None:
    """Pretty-print nested containers into ``out`` within the item and depth caps."""
    if isinstance(value, dict):
        opener, closer, items = "{", "}", list(value.items())
    elif isinstance(value, list):
        opener, closer, items = "[", "]", [(None, v) for v in value]
    elif isinstance(value, tuple):
        opener, closer, items = "(", ")", [(None, v) for v in value]
    elif isinstance(value, (set, frozenset)):
        opener, closer, items = "{", "}", [(None, v) for v in list(value)[:limits.container_items + 1]]
    else:
        text, cut = trim(repr(value) if not isinstance(value, str) else repr(value),
                         limits.string_chars // 4)
        out.append(text + ("…'" if cut and isinstance(value, str) else "…" if cut else ""))
        return
    if not items:
        out.append(opener + closer)
        return
    shown = items[:limits.container_items]
    if all(_is_small_scalar(v) and (k is None or _is_small_scalar(k)) for k, v in shown):
        # flat: one line reads better than one item per line
        parts = [(f"{k!r}: " if k is not None else "") + repr(v) for k, v in shown]
        hidden = len(value) - len(shown)
        if hidden > 0:
            parts.append(f"… {hidden:,} more")
        out.append(opener + ", ".join(parts) + closer)
        return
    if depth >= limits.depth:
        out.append(f"{opener}… {len(value)} items{closer}")
        return
    out.append(opener + "\n")
    inner = indent + "  "
    for key, item in items[:limits.container_items]:
        out.append(inner)
        if key is not None:
            out.append(trim(repr(key), 200)[0] + ": ")
        _format_container(item, limits, depth + 1, out, inner)
        out.append(",\n")
    hidden = len(value) - limits.container_items
    if hidden > 0:
        out.append(f"{inner}… {hidden} more\n")
    out.append(indent + closer)


def render_value(value: Any, limits: Limits = DEFAULT_LIMITS) -> str:
    """HTML for ``value``, bounded by ``limits``."""
    from .components import Image, Table

    if value is None or isinstance(value, (bool, int, float, complex)):
        return f'<code class="hw-scalar">{short_text(value, limits.repr_chars)}</code>'
    if isinstance(value, str):
        text, cut = trim(value, limits.string_chars)
        note = _note(f"showing {limits.string_chars:,} of {len(value):,} characters") if cut else ""
        return f'<pre class="hw-text">{html.escape(text)}</pre>{note}'
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value[:16])
        if image_mime(bytes(value[:16])):
            return Image(bytes(value)).render()
        return (f'<code class="hw-scalar">{len(value):,} bytes: '
                f'{html.escape(data.hex(" "))}{" …" if len(value) > 16 else ""}</code>')
    if is_dataframe(value):
        return Table.from_dataframe(value, truncate=True, max_rows=limits.frame_rows,
                                    max_columns=limits.frame_columns).render()
    if is_series(value):
        return Table.from_dataframe(value.to_frame(), truncate=True,
                                    max_rows=limits.frame_rows,
                                    max_columns=limits.frame_columns).render()
    if is_ndarray(value):
        return _render_array(value, limits)
    if is_pil_image(value):
        return Image.from_pil_image(value).render()
    if is_matplotlib_figure(value):
        return Image.from_matplotlib(value).render()
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        out: list[str] = []
        _format_container(value, limits, 0, out)
        text, cut = trim("".join(out), limits.string_chars * 4)
        kind = type(value).__name__
        return (f'<div class="hw-note">{kind}, {len(value):,} items</div>'
                f'<pre class="hw-text">{html.escape(text)}{"…" if cut else ""}</pre>')
    try:
        text = repr(value)
    except Exception as exc:
        text = f"<unprintable {type(value).__name__}: {exc}>"
    text, cut = trim(text, limits.repr_chars)
    return (f'<div class="hw-note">{html.escape(type(value).__module__)}.'
            f'{html.escape(type(value).__qualname__)}</div>'
            f'<pre class="hw-text">{html.escape(text)}{"…" if cut else ""}</pre>')


def _render_array(array: Any, limits: Limits) -> str:
    import numpy as np

    preview = np.array2string(array.ravel()[:limits.array_items] if array.ndim > 2 else array,
                              threshold=limits.array_items, edgeitems=3, max_line_width=100)
    text, cut = trim(preview, limits.string_chars)
    head = f"ndarray shape {array.shape}, dtype {array.dtype}"
    if array.ndim > 2:
        head += f" (first {min(array.size, limits.array_items)} values, flattened)"
    if array.size and np.issubdtype(array.dtype, np.number) and array.size <= 50_000_000:
        try:
            head += f"; min {array.min():.6g}, max {array.max():.6g}, mean {array.mean():.6g}"
        except (TypeError, ValueError):
            pass
    return (f'<div class="hw-note">{html.escape(head)}</div>'
            f'<pre class="hw-text">{html.escape(text)}{"…" if cut else ""}</pre>')
