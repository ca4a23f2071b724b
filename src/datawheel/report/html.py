"""Self-contained HTML pages for reports: inline CSS, no JavaScript, no external URLs."""

from __future__ import annotations

import html as _html
import math
import numbers
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datawheel.atomic import atomic_write
from datawheel.i18n.catalog import _, html_lang
from datawheel.report.fonts import CSS_FONT_STACK, text_lang

__all__ = [
    "Section",
    "alert",
    "escape",
    "fmt",
    "kv_table",
    "render_page",
    "table",
    "write_page",
]

_CSS = """
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --bg-alt: #f6f8fa; --flag: #fde8e8; --flag-line: #c44e52; --accent: #3b6ea8; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.5;
  font: 15px/1.5 FONT_STACK; }
main { max-width: 980px; margin: 0 auto; padding: 24px 20px 64px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.25rem; margin: 36px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
nav { font-size: 0.9rem; color: var(--muted); margin-bottom: 8px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 12px; white-space: nowrap; }
.note { color: var(--muted); font-size: 0.9rem; margin: 4px 0 12px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.9rem; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left;
  vertical-align: top; }
th { background: var(--bg-alt); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fbfcfd; }
tr.flag, tbody tr.flag:nth-child(even) { background: var(--flag); }
tr.flag td:first-child { border-left: 3px solid var(--flag-line); }
figure { margin: 8px 0 16px; }
svg { max-width: 100%; height: auto; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.alert { border-left: 4px solid var(--flag-line); background: var(--flag); color: #8a1c1c;
  padding: 8px 12px; margin: 8px 0 16px; font-weight: 600; }
footer { margin-top: 48px; color: var(--muted); font-size: 0.8rem; }
@media print { nav { display: none; } h2 { break-after: avoid; } }
""".replace("FONT_STACK", CSS_FONT_STACK)


@dataclass(frozen=True)
class Section:
    """One titled part of a page; ``body_html`` is trusted HTML, ``note`` is escaped text."""

    heading: str
    body_html: str
    note: str | None = None


def alert(text: str) -> str:
    """A red line: a finding a reader must not miss (escaped)."""
    return f'<p class="alert" role="alert">{escape(text)}</p>'


def escape(text: Any) -> str:
    """HTML-escape any value's ``str`` (quotes too, so it is safe inside attributes)."""
    return _html.escape(str(text), quote=True)


def fmt(value: Any) -> str:
    """Display text for a cell: floats to 4 significant digits, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return "nan" if math.isnan(value) else f"{float(value):.4g}"
    return str(value)


def table(
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    highlight: Callable[[Mapping[str, Any]], bool] | None = None,
) -> str:
    """An HTML table of dict rows; every cell is escaped, numbers right-aligned.

    ``columns`` defaults to the keys in first-seen order; rows for which ``highlight`` is true
    get ``class="flag"`` (a tinted background and a red edge).
    """
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    head = "".join(f"<th{_lang(c)}>{escape(_(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = "".join(_cell(row.get(c)) for c in columns)
        flag = ' class="flag"' if highlight is not None and highlight(row) else ""
        body.append(f"<tr{flag}>{cells}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def kv_table(mapping: Mapping[str, Any]) -> str:
    """A two-column key/value table; nested dicts and lists are shown compactly."""
    body = "".join(
        f"<tr><th{_lang(k)}>{escape(_(k))}</th>"
        f"{_cell(v) if _is_number(v) else _cell(_compact(v))}</tr>"
        for k, v in mapping.items()
    )
    return f'<div class="scroll"><table><tbody>{body}</tbody></table></div>'


def render_page(
    title: str,
    sections: Sequence[Section],
    *,
    subtitle: str | None = None,
    lang: str | None = None,
) -> str:
    """A complete HTML5 page: title, an in-page contents bar, then the sections in order.

    Titles, headings, notes, table headers and keys go out in the interface language
    (``i18n.catalog``). ``lang`` (e.g. ``zh-CN``) is the document's language; by default the
    interface's when it is Chinese, else ``zh-CN`` when the title or headings are Chinese, else
    ``en``. Table cells in Chinese carry their own ``lang``.
    """
    title, subtitle = _(title), _(subtitle) if subtitle else subtitle
    sections = [Section(_(s.heading), s.body_html, _(s.note) if s.note else None) for s in sections]
    words = " ".join([title, subtitle or "", *(s.heading for s in sections)])
    lang = lang or html_lang() or text_lang(words) or "en"
    anchors = _anchors([s.heading for s in sections])
    nav = " ".join(
        f'<a href="#{a}">{escape(s.heading)}</a>' for a, s in zip(anchors, sections, strict=True)
    )
    parts = []
    for anchor, s in zip(anchors, sections, strict=True):
        note = f'<p class="note">{escape(s.note)}</p>' if s.note else ""
        parts.append(
            f'<section id="{anchor}"><h2>{escape(s.heading)}</h2>{note}{s.body_html}</section>'
        )
    sub = f'<p class="note">{escape(subtitle)}</p>' if subtitle else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(title)}</h1>\n{sub}\n<nav>{nav}</nav>\n"
        + "\n".join(parts)
        + f"\n<footer>{escape(_('Generated by datawheel.'))}</footer>\n</main>\n</body>\n</html>\n"
    )


def write_page(path: str | os.PathLike[str], html: str) -> Path:
    """Write ``html`` atomically (``datawheel.atomic``): a temp file, then a rename.

    A reader (or a browser refreshing the report) never sees a half-written page.
    """
    return atomic_write(path, html)


def _cell(value: Any) -> str:
    css = ' class="num"' if _is_number(value) else _lang(value)
    return f"<td{css}>{escape(fmt(value))}</td>"


def _lang(value: Any) -> str:
    """`` lang="zh-CN"`` for Chinese text (so a browser draws Chinese, not Japanese, forms)."""
    found = text_lang(str(value))
    return f' lang="{found}"' if found else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _compact(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return ", ".join(fmt(v) for v in value)
    return fmt(value)


def _anchors(headings: Sequence[str]) -> list[str]:
    """Unique, URL-safe ids for section headings."""
    seen: dict[str, int] = {}
    out = []
    for h in headings:
        base = re.sub(r"[^a-z0-9\u3400-\u9fff]+", "-", h.lower()).strip("-") or "section"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out
