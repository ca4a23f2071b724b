"""Charts drawn on the server as inline SVG: no chart library to ship, nothing to run in the
browser, and they render under the console's strict Content-Security-Policy. Labels come in
translated; the text is drawn in the page's fonts (CJK included, see console.css)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "day_chart", "line_chart", "spark_chart"]

_PAD_LEFT, _PAD_BOTTOM, _PAD_TOP, _PAD_RIGHT = 48, 24, 14, 10


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 1_000:
        return f"{value / 1_000:.1f}k"
    return f"{value:g}"


def _frame(width: int, height: int, title: str, top_label: str) -> list[str]:
    inner_h = height - _PAD_BOTTOM - _PAD_TOP
    return [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{_PAD_LEFT}" y1="{_PAD_TOP + inner_h}" x2="{width - _PAD_RIGHT}" '
        f'y2="{_PAD_TOP + inner_h}"/>',
        f'<line class="grid" x1="{_PAD_LEFT}" y1="{_PAD_TOP}" x2="{width - _PAD_RIGHT}" '
        f'y2="{_PAD_TOP}"/>',
        f'<text class="tick" x="{_PAD_LEFT - 6}" y="{_PAD_TOP + 4}" text-anchor="end">'
        f"{escape(top_label)}</text>",
        f'<text class="tick" x="{_PAD_LEFT - 6}" y="{_PAD_TOP + inner_h + 4}" '
        f'text-anchor="end">0</text>',
    ]


def _day_ticks(labels: Sequence[str], slot: float, height: int) -> list[str]:
    every = max(1, len(labels) // 8)
    return [
        f'<text class="tick" x="{_PAD_LEFT + i * slot + slot / 2:.1f}" y="{height - 6}" '
        f'text-anchor="middle">{escape(label[-5:])}</text>'
        for i, label in enumerate(labels)
        if i % every == 0
    ]


def bar_chart(
    points: list[tuple[str, float]],
    *,
    width: int = 960,
    height: int = 200,
    title: str = "",
    fmt: str = "count",
) -> Markup:
    """A vertical bar chart of (label, value) pairs with a labelled maximum, as SVG markup.
    ``fmt="percent"`` shows values in [0, 1] as percentages."""
    inner_w, inner_h = width - _PAD_LEFT - _PAD_RIGHT, height - _PAD_BOTTOM - _PAD_TOP
    top = max((v for _, v in points), default=0) or 1
    if fmt == "percent":
        top = 1.0
    n = max(len(points), 1)
    slot = inner_w / n
    bar = max(slot * 0.7, 1.0)
    parts = _frame(width, height, title, "100%" if fmt == "percent" else _short(top))
    for i, (label, value) in enumerate(points):
        h = inner_h * (value / top) if top else 0
        x = _PAD_LEFT + i * slot + (slot - bar) / 2
        y = _PAD_TOP + inner_h - h
        shown = f"{value:.0%}" if fmt == "percent" else _short(value)
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'rx="2"><title>{escape(label)}: {shown}</title></rect>'
        )
    parts += _day_ticks([label for label, _ in points], slot, height)
    parts.append("</svg>")
    return Markup("".join(parts))


def day_chart(
    days: list[tuple[str, dict[str, int]]],
    *,
    series: list[tuple[str, str]],
    width: int = 960,
    height: int = 220,
    title: str = "",
) -> Markup:
    """Bars side by side per day, one per series: ``series`` is [(key in each day's dict,
    translated name)], the first drawn in the accent colour, the second as errors (red). The
    scale is the largest value of any series, so a day's errors read against its requests."""
    inner_w, inner_h = width - _PAD_LEFT - _PAD_RIGHT, height - _PAD_BOTTOM - _PAD_TOP
    top = max((d.get(key, 0) for _, d in days for key, _ in series), default=0) or 1
    n, k = max(len(days), 1), max(len(series), 1)
    slot = inner_w / n
    bar = max(slot * 0.78 / k, 1.0)
    parts = _frame(width, height, title, _short(top))
    for i, (day, values) in enumerate(days):
        for j, (key, name) in enumerate(series):
            value = values.get(key, 0)
            h = inner_h * value / top
            x = _PAD_LEFT + i * slot + slot * 0.11 + j * bar
            parts.append(
                f'<rect class="bar s{j}" x="{x:.1f}" y="{_PAD_TOP + inner_h - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" rx="2"><title>{escape(day)} · '
                f"{escape(name)}: {value:,}</title></rect>"
            )
    parts += _day_ticks([day for day, _ in days], slot, height)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    points: list[tuple[str, float]],
    *,
    days: list[str],
    limit: float,
    limit_label: str,
    width: int = 960,
    height: int = 200,
    title: str = "",
) -> Markup:
    """A running total over ``days`` (the x axis, e.g. the month's days) as a line, against a
    dashed ``limit`` (the monthly quota) labelled ``limit_label``."""
    inner_w, inner_h = width - _PAD_LEFT - _PAD_RIGHT, height - _PAD_BOTTOM - _PAD_TOP
    top = max([limit, *(v for _, v in points)]) or 1
    slot = inner_w / max(len(days), 1)
    x_of = {day: _PAD_LEFT + i * slot + slot / 2 for i, day in enumerate(days)}
    parts = _frame(width, height, title, _short(top))
    y_limit = _PAD_TOP + inner_h * (1 - limit / top)
    parts.append(
        f'<line class="limit" x1="{_PAD_LEFT}" y1="{y_limit:.1f}" x2="{width - _PAD_RIGHT}" '
        f'y2="{y_limit:.1f}"/><text class="tick limit-label" x="{width - _PAD_RIGHT}" '
        f'y="{y_limit - 5:.1f}" text-anchor="end">{escape(limit_label)}</text>'
    )
    shown = [(x_of[d], _PAD_TOP + inner_h * (1 - v / top), d, v) for d, v in points if d in x_of]
    if shown:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in shown)
        parts.append(f'<polyline class="line" points="{path}"/>')
        for x, y, day, value in shown:
            parts.append(
                f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                f"<title>{escape(day)}: {value:,.0f}</title></circle>"
            )
    parts += _day_ticks(days, slot, height)
    parts.append("</svg>")
    return Markup("".join(parts))


def spark_chart(
    points: list[tuple[str, float, bool]],
    *,
    days: list[str],
    threshold: float,
    title: str = "",
    width: int = 300,
    height: int = 84,
) -> Markup:
    """One feature's drift over ``days``: its PSI per day as a line (drifted days in red)
    against the dashed threshold; small enough to show every feature side by side."""
    pad_x, pad_top, pad_bottom = 6, 8, 16
    inner_w, inner_h = width - 2 * pad_x, height - pad_top - pad_bottom
    top = max([threshold * 2, *(psi for _, psi, _ in points)]) or 1
    slot = inner_w / max(len(days), 1)
    x_of = {day: pad_x + i * slot + slot / 2 for i, day in enumerate(days)}

    def y(value: float) -> float:
        return pad_top + inner_h * (1 - value / top)

    parts = [
        f'<svg class="chart spark" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{pad_x}" y1="{pad_top + inner_h}" x2="{width - pad_x}" '
        f'y2="{pad_top + inner_h}"/>',
        f'<line class="limit" x1="{pad_x}" y1="{y(threshold):.1f}" x2="{width - pad_x}" '
        f'y2="{y(threshold):.1f}"/>',
    ]
    shown = [(x_of[d], y(psi), d, psi, bad) for d, psi, bad in points if d in x_of]
    if len(shown) > 1:
        path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy, *_ in shown)
        parts.append(f'<polyline class="line" points="{path}"/>')
    for x, yy, day, psi, bad in shown:
        parts.append(
            f'<circle class="dot{" bad" if bad else ""}" cx="{x:.1f}" cy="{yy:.1f}" r="2.5">'
            f"<title>{escape(day)}: PSI {psi:.3f}</title></circle>"
        )
    if days:
        for day, anchor, x in ((days[0], "start", pad_x), (days[-1], "end", width - pad_x)):
            parts.append(
                f'<text class="tick" x="{x}" y="{height - 3}" text-anchor="{anchor}">'
                f"{escape(day[-5:])}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
