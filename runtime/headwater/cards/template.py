"""The HTML page around a card's components: one self-contained file.

Styles and, when a component needs them, the Vega and Vega-Lite libraries are inlined; a
Content-Security-Policy forbids every network fetch (images are ``data:`` URLs), so a card
opens the same from a laptop, a notebook or an air-gapped machine. The Vega libraries are
vendored minified builds (``static/``, with their licences) because a card must render
without any download.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from .components import Asset, Component

STATIC = Path(__file__).parent / "static"

# Only inline scripts and styles, data: images; no connection of any kind. Vega compiles
# chart expressions with Function(), hence 'unsafe-eval'.
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline' 'unsafe-eval'; font-src data:; connect-src 'none'; "
       "form-action 'none'; base-uri 'none'")

_ASSET_FILES: dict[str, tuple[str, ...]] = {
    Asset.VEGA: ("vega.min.js", "vega-lite.min.js"),
}
_ASSET_RUNNERS: dict[str, str] = {Asset.VEGA: "charts.js"}


@lru_cache(maxsize=None)
def static_text(name: str) -> str:
    text = (STATIC / name).read_text(encoding="utf-8")
    # A source-map comment would make devtools try to fetch the map; a literal "</script"
    # inside would end the inline script early.
    lines = [ln for ln in text.splitlines() if not ln.startswith("//# sourceMappingURL=")]
    return "\n".join(lines).replace("</script", "<\\/script")


def page_assets(components: Iterable[Component]) -> set[str]:
    found: set[str] = set()
    for component in components:
        found |= component.all_assets()
    return found


def render_page(title: str, body: str, assets: set[str], meta: dict | None = None) -> str:
    """The complete HTML document: ``body`` plus styles and the ``assets`` it needs.

    ``meta`` (card type, id, pathspec, status) is embedded as JSON for tools reading the
    file."""
    scripts = []
    for asset in sorted(assets):
        for name in _ASSET_FILES[asset]:
            scripts.append(f"<script>{static_text(name)}</script>")
    for asset in sorted(assets):
        scripts.append(f"<script>{static_text(_ASSET_RUNNERS[asset])}</script>")
    meta_json = json.dumps(meta or {}, default=str).replace("<", "\\u003c")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        f"<style>{static_text('card.css')}</style>"
        f'<script type="application/json" id="hw-card-meta">{meta_json}</script>'
        f"</head><body><main>{body}</main>{''.join(scripts)}</body></html>\n")
