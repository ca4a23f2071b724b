"""Charts drawn on the server as inline SVG: no chart library to ship, nothing to run in the
browser, and they render under the console's strict Content-Security-Policy."""

from __future__ import annotations

from markupsafe import Markup, escape

__all__ = ["bar_chart"]


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 1_000:
        return f"{value / 1_000:.1f}k"
    return f"{value:g}"


def bar_chart(
    points: list[tuple[str, float]],
    *,
    width: int = 720,
    height: int = 200,
    title: str = "",
    fmt: str = "count",
) -> Markup:
    """A vertical bar chart of (label, value) pairs with a labelled maximum, as SVG markup.
    ``fmt="percent"`` shows values in [0, 1] as percentages."""
    pad_left, pad_bottom, pad_top = 44, 24, 12
    inner_w, inner_h = width - pad_left - 8, height - pad_bottom - pad_top
    top = max((v for _, v in points), default=0) or 1
    if fmt == "percent":
        top = 1.0
    n = max(len(points), 1)
    slot = inner_w / n
    bar = max(slot * 0.7, 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{pad_left}" y1="{pad_top + inner_h}" x2="{width - 8}" '
        f'y2="{pad_top + inner_h}"/>',
        f'<line class="grid" x1="{pad_left}" y1="{pad_top}" x2="{width - 8}" y2="{pad_top}"/>',
        f'<text class="tick" x="{pad_left - 6}" y="{pad_top + 4}" text-anchor="end">'
        f"{'100%' if fmt == 'percent' else _short(top)}</text>",
        f'<text class="tick" x="{pad_left - 6}" y="{pad_top + inner_h + 4}" '
        f'text-anchor="end">0</text>',
    ]
    every = max(1, n // 8)
    for i, (label, value) in enumerate(points):
        h = inner_h * (value / top) if top else 0
        x = pad_left + i * slot + (slot - bar) / 2
        y = pad_top + inner_h - h
        shown = f"{value:.0%}" if fmt == "percent" else _short(value)
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'rx="2"><title>{escape(label)}: {shown}</title></rect>'
        )
        if i % every == 0:
            parts.append(
                f'<text class="tick" x="{x + bar / 2:.1f}" y="{height - 6}" '
                f'text-anchor="middle">{escape(label[-5:])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
