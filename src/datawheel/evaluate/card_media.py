"""The model card's examples for a model with image or audio columns: a few held-out rows with
their modality values, the occlusion heatmap of each image and the time segments of each clip."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from datawheel.report.html import Section, escape, table

__all__ = ["CARD_EXAMPLES", "media_examples_section"]

CARD_EXAMPLES = 3  # held-out rows shown with their explanations


def media_examples_section(
    model: Any, frame: pl.DataFrame, *, examples: int = CARD_EXAMPLES
) -> Section | None:
    """Up to ``examples`` rows of ``frame`` that have an image or a clip, explained."""
    columns = model.preprocessor.media.columns
    if not columns or frame.height == 0:
        return None
    has_media = pl.any_horizontal([pl.col(c).is_not_null() for c in columns if c in frame.columns])
    rows = frame.filter(has_media).head(examples)
    if rows.height == 0:
        return None
    explained = model.explain(rows)
    truth = (
        rows.get_column(model.target).cast(pl.String).to_list()
        if model.target in rows.columns
        else []
    )
    parts = [_example(i, e, truth[i] if truth else None) for i, e in enumerate(explained)]
    return Section(
        "Examples",
        "".join(parts),
        note="Held-out rows with their explanations. Values: exact Shapley values over the "
        "modalities (a modality left out takes the training mean, or for an image or clip the "
        "model's missing embedding); base value + values = the output. Heatmap: each grid cell "
        "painted grey in turn — red where that lowered the answer's probability (the cell "
        "supported it), blue where it raised it. Clips: each tenth silenced in turn.",
    )


def _example(i: int, explanation: Mapping[str, Any], truth: str | None) -> str:
    label = explanation.get("label")
    head = f"<h3>Row {i + 1}: predicted {escape(label)}" + (
        f" (true: {escape(truth)})" if truth is not None else ""
    ) + "</h3>"  # fmt: skip
    values = [{"input": "base value", "value": f"{explanation['base_value']:.3f}"}]
    values += [{"input": name, "value": f"{v:+.3f}"} for name, v in explanation["values"].items()]
    body = table(values, columns=["input", "value"])
    for column, png in (explanation.get("heatmaps") or {}).items():
        body += (
            f'<figure><img alt="occlusion heatmap of {escape(column)}" width="160" height="160" '
            f'src="data:image/png;base64,{png}"><figcaption>{escape(column)}</figcaption></figure>'
        )
    for column, segments in (explanation.get("segments") or {}).items():
        body += _segments(column, segments)
    return head + body


def _segments(column: str, segments: Sequence[Mapping[str, float]]) -> str:
    """One bar per time segment: up (red) where silencing it lowered the answer."""
    scale = max((abs(s["value"]) for s in segments), default=0.0) or 1.0
    width, height, bar = 300, 80, 300 / max(len(segments), 1)
    rects = []
    for k, s in enumerate(segments):
        h = abs(s["value"]) / scale * (height / 2 - 4)
        y = height / 2 - h if s["value"] > 0 else height / 2
        colour = "#c44e52" if s["value"] > 0 else "#3b6ea8"
        rects.append(
            f'<rect x="{k * bar + 1:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{s["start"]:.2f}–{s["end"]:.2f} s: {s["value"]:+.4f}'
            "</title></rect>"
        )
    axis = f'<line x1="0" y1="{height / 2}" x2="{width}" y2="{height / 2}" stroke="#59636e"/>'
    end = segments[-1]["end"] if segments else 0.0
    return (
        f'<figure><svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="time occlusion of {escape(column)}">{axis}{"".join(rects)}'
        f"</svg><figcaption>{escape(column)}: 0–{end:.2f} s</figcaption></figure>"
    )
