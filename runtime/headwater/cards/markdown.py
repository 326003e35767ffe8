"""A small, safe Markdown-to-HTML converter for the ``Markdown`` card component.

Covers what reports use: ``#`` headings, paragraphs, ``**bold**``, ``*italic*``,
```` `code` ````, fenced code blocks, ``-``/``*``/``1.`` lists, ``> quotes``, ``---`` rules and
``[links](https://...)``. Every piece of text is HTML-escaped first, so Markdown can never
inject markup or script into a card; links keep only http(s)/mailto targets and open in a new
window (a card itself never fetches anything).
"""

from __future__ import annotations

import html
import re

_INLINE_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)|(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?!\w)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ORDERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_UNORDERED = re.compile(r"^\s*[-*+]\s+(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")


def _inline(text: str) -> str:
    """Escape ``text`` and apply inline markup; code spans are protected from the rest."""
    codes: list[str] = []

    def keep_code(match: re.Match) -> str:
        codes.append(f"<code>{html.escape(match.group(1))}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = _INLINE_CODE.sub(keep_code, text)
    text = html.escape(text, quote=False)
    text = _BOLD.sub(lambda m: f"<strong>{m.group(1) or m.group(2)}</strong>", text)
    text = _ITALIC.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", text)

    def link(match: re.Match) -> str:
        label, target = match.group(1), html.unescape(match.group(2))
        if not re.match(r"^(https?:|mailto:)", target):
            return label
        return (f'<a href="{html.escape(target)}" target="_blank" rel="noopener noreferrer">'
                f"{label}</a>")

    text = _LINK.sub(link, text)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], text)


def to_html(source: str) -> str:
    """The HTML for Markdown ``source``."""
    lines = source.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    paragraph: list[str] = []
    i = 0

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(s.strip() for s in paragraph))}</p>")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            lang = stripped[3:].strip()
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            cls = f' class="language-{html.escape(lang)}"' if lang else ""
            out.append(f"<pre><code{cls}>{html.escape(chr(10).join(body))}</code></pre>")
            i += 1
            continue
        if not stripped:
            flush()
            i += 1
            continue
        heading = _HEADING.match(stripped)
        if heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            i += 1
            continue
        if _RULE.match(stripped):
            flush()
            out.append("<hr>")
            i += 1
            continue
        if stripped.startswith(">"):
            flush()
            quoted = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                quoted.append(lines[i].strip()[1:].lstrip())
                i += 1
            out.append(f"<blockquote>{to_html(chr(10).join(quoted))}</blockquote>")
            continue
        for pattern, tag in ((_UNORDERED, "ul"), (_ORDERED, "ol")):
            if pattern.match(line):
                flush()
                items = []
                while i < len(lines) and (item := pattern.match(lines[i])):
                    items.append(f"<li>{_inline(item.group(1))}</li>")
                    i += 1
                out.append(f"<{tag}>{''.join(items)}</{tag}>")
                break
        else:
            paragraph.append(line)
            i += 1
    flush()
    return "\n".join(out)
