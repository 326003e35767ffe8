"""The pieces a card is made of: ``Markdown``, ``Table``, ``Image``, ``Artifact``, ``Error``,
``Section``, ``ProgressBar`` and ``VegaChart``.

    from headwater.cards import Markdown, Table, Image
    current.card.append(Markdown("# Results"))
    current.card.append(Table([[1, "a"], [2, "b"]], headers=["n", "letter"]))
    current.card.append(Image.from_matplotlib(fig))

A component turns itself into an HTML fragment (``render``) with every piece of user text
escaped; ``assets`` names the inlined libraries the fragment needs (only ``VegaChart`` needs
one). To write a new component, subclass ``Component`` and implement ``render``.
Updatable components (``ProgressBar``, ``VegaChart``) change in place with ``update``;
``current.card.refresh()`` then stores the new state while the task runs.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import numbers
from typing import Any, Iterable, Sequence

from ..exceptions import HeadwaterException
from . import markdown as _markdown
from .values import image_mime, is_matplotlib_figure, is_pil_image, render_value, short_text


class CardError(HeadwaterException):
    headline = "Card error"


class Asset:
    """Names of the libraries a card page inlines when a component needs them."""

    VEGA = "vega"


class Component:
    """Base of every card component."""

    #: Libraries (``Asset`` names) the rendered fragment needs on the page.
    assets: frozenset[str] = frozenset()

    def render(self) -> str:
        """The component as an HTML fragment (text escaped, no external references)."""
        raise NotImplementedError

    def children(self) -> Sequence["Component"]:
        """Components nested inside this one (their assets are included too)."""
        return ()

    def all_assets(self) -> set[str]:
        found = set(self.assets)
        for child in self.children():
            found |= child.all_assets()
        return found


def as_component(value: Any) -> Component:
    """``value`` itself if it is a component, else an ``Artifact`` showing it."""
    return value if isinstance(value, Component) else Artifact(value)


class Markdown(Component):
    """Markdown text (headings, emphasis, lists, code, links); see ``cards/markdown.py``."""

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise CardError(f"Markdown(...) takes a string, not {type(text).__name__}",
                            "pass the text, e.g. Markdown('# Title')")
        self.text = text

    def update(self, text: str) -> None:
        self.text = text

    def render(self) -> str:
        return f'<div class="hw-markdown">{_markdown.to_html(self.text)}</div>'


class Table(Component):
    """Rows of values or components, with optional ``headers``.

    ``Table.from_dataframe(df)`` shows a pandas DataFrame; with ``truncate=True`` (the
    default) at most ``max_rows`` rows and ``max_columns`` columns are shown, and the table
    says how many there are.
    """

    def __init__(self, data: Iterable[Iterable[Any]] | None = None,
                 headers: Sequence[str] | None = None, *, note: str | None = None):
        rows = [] if data is None else data
        try:
            self.rows = [list(row) for row in rows]
        except TypeError:
            raise CardError("Table(...) takes a list of rows (each a list of values)",
                            "e.g. Table([[1, 'a'], [2, 'b']], headers=['n', 'letter'])"
                            ) from None
        self.headers = [str(h) for h in headers] if headers is not None else None
        self.note = note

    def children(self) -> Sequence[Component]:
        return [cell for row in self.rows for cell in row if isinstance(cell, Component)]

    @classmethod
    def from_dataframe(cls, dataframe: Any, truncate: bool = True, max_rows: int = 100,
                       max_columns: int = 30) -> "Table":
        """A table of a pandas DataFrame (index first), capped when ``truncate``."""
        from .values import is_dataframe

        if not is_dataframe(dataframe):
            raise CardError(f"Table.from_dataframe(...) takes a pandas DataFrame, not "
                            f"{type(dataframe).__name__}",
                            "for a list of rows use Table(rows, headers=[...])")
        n_rows, n_cols = dataframe.shape
        shown = dataframe
        if truncate:
            shown = dataframe.iloc[:max_rows, :max_columns]
        headers = [str(dataframe.index.name or "")] + [str(c) for c in shown.columns]
        rows = [[index] + list(values) for index, values in
                zip(shown.index, shown.itertuples(index=False, name=None))]
        note = f"DataFrame: {n_rows:,} rows × {n_cols:,} columns"
        if shown.shape != dataframe.shape:
            note += (f"; showing the first {shown.shape[0]:,} rows and {shown.shape[1]:,} "
                     f"columns (truncated)")
        return cls(rows, headers=headers, note=note)

    def render(self) -> str:
        parts = ['<div class="hw-table-wrap">']
        if self.note:
            parts.append(f'<div class="hw-note hw-table-note">{html.escape(self.note)}</div>')
        parts.append('<table class="hw-table">')
        if self.headers is not None:
            parts.append("<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>"
                                                 for h in self.headers) + "</tr></thead>")
        parts.append("<tbody>")
        for row in self.rows:
            cells = []
            for cell in row:
                content = cell.render() if isinstance(cell, Component) else short_text(cell)
                cells.append(f"<td>{content}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table></div>")
        return "".join(parts)


class Image(Component):
    """A PNG, JPEG, GIF or WebP image from bytes, a PIL image or a matplotlib figure,
    embedded in the card (a ``data:`` URL)."""

    def __init__(self, src: bytes, label: str | None = None):
        if is_pil_image(src):
            raise CardError("Image(...) got a PIL image", "use Image.from_pil_image(img)")
        if is_matplotlib_figure(src):
            raise CardError("Image(...) got a matplotlib figure",
                            "use Image.from_matplotlib(fig)")
        if not isinstance(src, (bytes, bytearray)):
            raise CardError(f"Image(...) takes image bytes, not {type(src).__name__}",
                            "pass PNG/JPEG bytes, or use Image.from_pil_image / "
                            "Image.from_matplotlib")
        mime = image_mime(bytes(src[:16]))
        if mime is None:
            raise CardError("Image(...) got bytes that are not a PNG, JPEG, GIF or WebP image",
                            "save the picture in one of these formats first")
        self.data = bytes(src)
        self.mime = mime
        self.label = label

    @classmethod
    def from_pil_image(cls, image: Any, label: str | None = None) -> "Image":
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return cls(buffer.getvalue(), label)

    @classmethod
    def from_matplotlib(cls, figure: Any, label: str | None = None, dpi: int = 100) -> "Image":
        """A matplotlib figure as a PNG."""
        if not is_matplotlib_figure(figure):
            raise CardError(f"Image.from_matplotlib(...) takes a matplotlib Figure, not "
                            f"{type(figure).__name__}",
                            "pass the figure, e.g. fig, ax = plt.subplots(); "
                            "Image.from_matplotlib(fig)")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        return cls(buffer.getvalue(), label)

    def render(self) -> str:
        encoded = base64.b64encode(self.data).decode()
        label = html.escape(self.label or "")
        caption = f"<figcaption>{label}</figcaption>" if self.label else ""
        return (f'<figure class="hw-image"><img alt="{label}" '
                f'src="data:{self.mime};base64,{encoded}">{caption}</figure>')


class Artifact(Component):
    """Any value, shown by its type (see ``cards/values.py``), with an optional name."""

    def __init__(self, value: Any, name: str | None = None):
        self.value = value
        self.name = name

    def render(self) -> str:
        name = f'<div class="hw-artifact-name">{html.escape(self.name)}</div>' if self.name else ""
        return f'<div class="hw-artifact">{name}{render_value(self.value)}</div>'


class Error(Component):
    """An error message (an exception, with its traceback if it has one, or text)."""

    def __init__(self, error: BaseException | str, title: str | None = None):
        self.error = error
        self.title = title

    def render(self) -> str:
        import traceback

        if isinstance(error := self.error, BaseException):
            title = self.title or type(error).__name__
            detail = "".join(traceback.format_exception(type(error), error,
                                                        error.__traceback__))
        else:
            title, detail = self.title or "Error", str(error)
        return (f'<div class="hw-error"><div class="hw-error-title">{html.escape(title)}</div>'
                f'<pre>{html.escape(detail[-8000:])}</pre></div>')


class Section(Component):
    """A titled group of components; ``columns=2`` lays them out side by side."""

    def __init__(self, title: str | None = None, contents: Iterable[Any] = (),
                 columns: int = 1):
        self.title = title
        self.contents = [as_component(c) for c in contents]
        self.columns = max(1, int(columns))

    def append(self, component: Any) -> None:
        self.contents.append(as_component(component))

    def children(self) -> Sequence[Component]:
        return self.contents

    def render(self) -> str:
        title = f"<h2>{html.escape(self.title)}</h2>" if self.title else ""
        body = "".join(f'<div class="hw-cell">{c.render()}</div>' for c in self.contents)
        return (f'<section class="hw-section">{title}<div class="hw-grid" '
                f'style="grid-template-columns: repeat({self.columns}, minmax(0, 1fr))">'
                f"{body}</div></section>")


class ProgressBar(Component):
    """A progress bar; ``update(value)`` moves it (call ``current.card.refresh()`` to show
    the new value while the task runs)."""

    def __init__(self, max: float = 100, label: str | None = None, value: float = 0,
                 unit: str | None = None):
        if not max or max <= 0:
            raise CardError(f"ProgressBar(max={max!r}) must be a positive number")
        self.max = float(max)
        self.label = label
        self.value = float(value)
        self.unit = unit

    def update(self, value: float) -> None:
        self.value = float(value)

    def render(self) -> str:
        fraction = min(max(self.value / self.max, 0.0), 1.0)
        unit = f" {self.unit}" if self.unit else ""
        label = html.escape(self.label or "")
        return (f'<div class="hw-progress"><div class="hw-progress-label">{label}'
                f'<span>{self.value:g} / {self.max:g}{html.escape(unit)} '
                f'({fraction:.0%})</span></div>'
                f'<progress max="{self.max:g}" value="{self.value:g}">{fraction:.0%}</progress>'
                f"</div>")


class VegaChart(Component):
    """A chart from a Vega-Lite (or Vega) specification, drawn in the card by the inlined
    Vega libraries: no network is needed to open it.

        VegaChart({"mark": "line", "data": {"values": rows},
                   "encoding": {"x": {"field": "t", "type": "quantitative"},
                                "y": {"field": "loss", "type": "quantitative"}}})

    Data must be inline (``data.values``): a card never fetches a URL.
    """

    assets = frozenset({Asset.VEGA})

    def __init__(self, spec: dict, title: str | None = None):
        self._check(spec)
        self.spec = spec
        self.title = title

    @staticmethod
    def _check(spec: Any) -> None:
        if not isinstance(spec, dict):
            raise CardError(f"VegaChart(...) takes a Vega-Lite specification dict, not "
                            f"{type(spec).__name__}")
        text = json.dumps(spec, default=str)
        if '"url"' in text:
            raise CardError("VegaChart specifications must carry their data inline",
                            'use "data": {"values": [...]} instead of a URL')

    def update(self, spec: dict) -> None:
        self._check(spec)
        self.spec = spec

    @classmethod
    def line(cls, rows: list[dict], x: str, y: str | list[str], title: str | None = None,
             x_title: str | None = None, y_title: str | None = None,
             x_type: str = "quantitative") -> "VegaChart":
        """A line chart of ``rows`` (dicts); several ``y`` fields become coloured series."""
        fields = [y] if isinstance(y, str) else list(y)
        spec: dict[str, Any] = {
            "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
            "width": "container", "height": 180,
            "data": {"values": rows},
            "mark": {"type": "line", "interpolate": "monotone"},
        }
        encoding = {"x": {"field": x, "type": x_type, "title": x_title or x}}
        if len(fields) == 1:
            encoding["y"] = {"field": fields[0], "type": "quantitative",
                             "title": y_title or fields[0]}
        else:
            spec["transform"] = [{"fold": fields, "as": ["series", "value"]}]
            encoding["y"] = {"field": "value", "type": "quantitative", "title": y_title or ""}
            encoding["color"] = {"field": "series", "type": "nominal"}
        spec["encoding"] = encoding
        return cls(spec, title=title)

    def render(self) -> str:
        # No "<" at all inside the script element: JSON.parse reads \u003c back as "<".
        spec = json.dumps(_json_safe(self.spec), default=str).replace("<", "\\u003c")
        title = f'<div class="hw-chart-title">{html.escape(self.title)}</div>' if self.title else ""
        return (f'<div class="hw-vega">{title}<div class="hw-vega-view"></div>'
                f'<script type="application/json">{spec}</script></div>')


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as ``null`` (JSON has no such numbers)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
