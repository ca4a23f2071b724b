"""The data-quality report of ``clean_file``: one self-contained HTML page (inline SVG, no JS).

Values of PII-looking columns never appear: those columns are listed by name only, left out of
duplicate examples, and a near-dedup field that looks like PII gets a note instead of examples.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from datawheel.i18n.catalog import _
from datawheel.report import html, plots

if TYPE_CHECKING:
    from datawheel.data.clean_file import CleanFileResult

__all__ = ["quality_report_html", "write_quality_report"]

MAX_CHARTS = 24  # distribution charts on one page
# two charts per row on a wide page, one on a narrow one
_GRID = (
    "<style>.charts figure { flex: 1 1 440px; max-width: 480px; margin: 0; }"
    " .charts svg { width: 100%; height: auto; }</style>"
)
TOP_K = 10  # categories shown per categorical column


def quality_report_html(result: CleanFileResult) -> str:
    """The report page: summary, rows removed by reason, columns, distributions, outliers,
    duplicates (with a few examples), PII-looking columns and type issues."""
    sections = [
        html.Section("Summary", html.kv_table(_summary(result)), note=_summary_note(result)),
        _removed(result),
        _columns(result),
        _distributions(result),
        _outliers(result),
        _missing(result),
        _duplicates(result),
        *_media(result),
        _pii(result),
    ]
    return html.render_page(
        f"Data quality: {result.input.name}",
        sections,
        subtitle=f"{result.stats.rows_in:,} rows in, {result.stats.rows_out:,} rows out",
    )


def write_quality_report(result: CleanFileResult, path: str | os.PathLike[str]) -> Path:
    """Render and write the report atomically."""
    return html.write_page(path, quality_report_html(result))


def _summary(r: CleanFileResult) -> dict[str, Any]:
    removed = sum(r.stats.dropped.values())
    out: dict[str, Any] = {
        "input": r.input.name,
        "output": r.output.name,
        "rows in": r.stats.rows_in,
        "rows out": r.stats.rows_out,
        "rows removed": removed,
        "columns": len(r.columns),
        "malformed lines": r.read.bad_lines,
    }
    if r.read.bad_lines_path is not None:
        out["malformed lines written to"] = r.read.bad_lines_path.name
    if r.media_rejects is not None:
        out["rejected files listed in"] = r.media_rejects.name
    if r.seconds:
        out["seconds"] = round(r.seconds, 2)
    return out


def _summary_note(r: CleanFileResult) -> str | None:
    if r.approximate:
        return _(
            f"Statistics of {', '.join(r.approximate)} come from a uniform sample "
            "(the column did not fit the exact budget): quantiles are approximate."
        )
    return None


def _removed(r: CleanFileResult) -> Any:
    reasons = {k: v for k, v in r.stats.dropped.items() if v}
    if not reasons:
        return html.Section("Rows removed", f"<p>{_('No rows were removed.')}</p>")
    chart = plots.bar_chart(
        list(reasons), list(reasons.values()), title="Rows removed by reason", ylabel="rows"
    )
    body = f"<figure>{chart}</figure>" + html.table(
        [{"reason": k, "rows": v} for k, v in reasons.items()]
    )
    return html.Section("Rows removed", body)


def _columns(r: CleanFileResult) -> Any:
    rows = r.stats.rows_in - r.read.bad_lines
    table = [
        {
            "column": p.name,
            "dtype": p.dtype,
            "role": p.role,
            "missing": p.missing,
            "missing %": round(100 * p.missing / rows, 2) if rows else 0.0,
            "PII-looking": p.name in r.pii_columns,
            "type issue": r.type_issues.get(p.name, "").split(": ", 1)[-1] or None,
        }
        for p in r.columns.values()
    ]
    note = (
        _("Highlighted: columns read as text although most values are numbers.")
        if (r.type_issues)
        else None
    )
    body = html.table(table, highlight=lambda row: row["type issue"] is not None)
    return html.Section("Columns", body, note=note)


def _distributions(r: CleanFileResult) -> Any:
    charts: list[str] = []
    for p in r.columns.values():
        if len(charts) >= MAX_CHARTS or p.name in r.pii_columns:
            continue
        if p.values is not None and p.values.count:
            data = p.values.series(p.name).cast(float).to_numpy()
            bins = int(min(30, max(5, len(np.unique(data[:100_000])))))
            charts.append(plots.histogram(data, title=p.name, bins=bins))
        elif p.counts is not None:
            top = p.counts.frame().head(TOP_K)
            if top.height:
                labels = [_short(v) for v in top["value"].to_list()]
                charts.append(
                    plots.bar_chart(
                        labels,
                        top["_n"].to_list(),
                        title=f"{p.name} (top {top.height})",
                        horizontal=True,
                    )
                )
    if not charts:
        return html.Section("Distributions", f"<p>{_('No numeric or categorical features.')}</p>")
    body = _GRID + '<div class="charts">' + "".join(f"<figure>{c}</figure>" for c in charts)
    body += "</div>"
    return html.Section(
        "Distributions",
        body,
        note="Numeric features after deduplication, before outlier handling; categorical "
        "features by count.",
    )


def _outliers(r: CleanFileResult) -> Any:
    s = r.stats
    rows = [
        {"column": c, "low": lo, "high": hi, "values beyond": s.outliers.get(c, 0)}
        for c, (lo, hi) in s.outlier_bounds.items()
    ]
    skipped = [
        {"column": c, "left alone because": why.split("outliers: ", 1)[-1]}
        for c, why in s.skipped.items()
        if "outliers:" in why
    ]
    body = html.table(rows) if rows else f"<p>{_('No column was checked for outliers.')}</p>"
    if skipped:
        body += html.table(skipped)
    note = _(f"Action: {s.outlier_action}.") if s.outlier_action else None
    return html.Section("Outliers", body, note=note)


def _missing(r: CleanFileResult) -> Any:
    s = r.stats
    rows = [
        {"column": c, "cells filled": n, "fill value": _short(s.fill_values.get(c))}
        for c, n in s.imputed.items()
        if c not in r.pii_columns
    ]
    body = html.table(rows) if rows else f"<p>{_('No cells were filled.')}</p>"
    return html.Section("Missing values", body)


def _duplicates(r: CleanFileResult) -> Any:
    d = r.stats.dropped
    counts = {
        "exact duplicates removed": d.get("exact_duplicate", 0),
        "near duplicates removed": d.get("near_duplicate", 0),
    }
    body = html.kv_table(counts)
    shown = [e for e in r.examples if e.field not in r.hidden_examples]
    if shown:
        body += html.table(
            [
                {
                    "kind": e.kind.replace("_", " "),
                    "compared": e.field or _("whole row"),
                    "kept row": e.kept_index,
                    "kept": e.kept,
                    "removed row": e.duplicate_index,
                    "removed": e.duplicate,
                }
                for e in shown
            ]
        )
    for why in r.hidden_examples.values():
        body += f'<p class="note">{html.escape(why)}</p>'
    note = _("Examples leave out PII-looking columns; texts are cut to a few hundred characters.")
    return html.Section("Duplicates", body, note=note)


def _media(r: CleanFileResult) -> list[Any]:
    """Images and audio: counts, sizes and durations, thumbnails of rejected and duplicate
    files (``datawheel.data.media.report``); nothing when the data names no media column."""
    if r.media is None:
        return []
    from datawheel.data.media.report import media_sections

    return media_sections(r.media, r.media_examples, blur_faces=r.blur_faces)


def _pii(r: CleanFileResult) -> Any:
    if not r.pii_columns:
        return html.Section("PII-looking columns", f"<p>{_('None found.')}</p>")
    body = html.table([{"column": c, "looks like": t} for c, t in r.pii_columns.items()])
    return html.Section(
        "PII-looking columns",
        body,
        note="Names only: their values are never shown in this report.",
    )


def _short(value: Any, limit: int = 40) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
