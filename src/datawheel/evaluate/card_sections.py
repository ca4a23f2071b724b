"""Model-card sections shared by every task: the candidate models, the regression figures,
and the words that move a text model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from datawheel.evaluate.regression import REGRESSION_METRICS, regression_bootstrap_ci
from datawheel.report import plots
from datawheel.report.html import Section, alert, escape, kv_table, render_page, table

__all__ = [
    "candidates_section",
    "regression_card_html",
    "regression_sections",
    "word_importance",
    "words_section",
]

TOP_WORDS = 25


def candidates_section(selection: Mapping[str, Any] | None) -> Section | None:
    """model.kind auto: every candidate's validation figure, interval, gap and time."""
    if not selection:
        return None
    rows = [
        {
            "family": c["family"],
            selection["metric"]: c["value"],
            "95% CI low": c["low"],
            "95% CI high": c["high"],
            "gap to best": c["gap_to_best"],
            "gap CI low": c["gap_low"],
            "gap CI high": c["gap_high"],
            "train seconds": c["seconds"],
            "chosen": "yes" if c["chosen"] else "",
        }
        for c in selection["candidates"]
    ]
    note = f"Validation split; paired percentile bootstrap (200 resamples). {selection['reason']}."
    return Section("Candidate models", table(rows), note=note)


def regression_sections(
    metrics: Mapping[str, Any],
    y_true: Sequence[float] | np.ndarray,
    predicted: np.ndarray,
    *,
    interval: Mapping[str, Any] | None = None,
) -> list[Section]:
    """Metrics with intervals against the mean baseline, and the residual plots."""
    rows = []
    baseline = metrics.get("baseline", {})
    for name in REGRESSION_METRICS:
        low, high = regression_bootstrap_ci(y_true, predicted, name)
        rows.append({"metric": name, "value": metrics[name], "95% CI low": low,
                     "95% CI high": high, "mean baseline": baseline.get(name)})  # fmt: skip
    facts = {"evaluated rows": metrics.get("n"), "baseline (training mean)": baseline.get("value")}
    if interval:
        facts["prediction interval"] = (
            f"value ± {interval['halfwidth']:.4g} (split conformal, {interval['coverage']:.0%} "
            f"coverage, from {interval.get('rows', '?')} validation rows)"
        )
    residuals = np.asarray(predicted, float) - np.asarray(y_true, float)
    inside = float(np.mean(np.abs(residuals) <= interval["halfwidth"])) if interval else None
    if inside is not None:
        facts["held-out rows inside their interval"] = f"{inside:.1%}"
    spread = plots.histogram(residuals, title="Residual distribution", xlabel="prediction - truth")
    figures = (
        f"<figure>{plots.residual_chart(predicted, residuals)}</figure><figure>{spread}</figure>"
    )
    return [
        Section(
            "Metrics",
            kv_table(facts) + table(rows),
            note="Intervals: percentile bootstrap, 200 resamples of the evaluation rows.",
        ),
        Section("Residuals", figures, note="Each point is a held-out row."),
    ]


def word_importance(explanations: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per text column, the mean value of each word over the explained rows it appears in."""
    sums: dict[str, dict[str, list[float]]] = {}
    for entry in explanations:
        for column, tokens in (entry.get("tokens") or {}).items():
            for word, value in tokens["values"]:
                sums.setdefault(column, {}).setdefault(word, []).append(value)
    return {
        column: {w: float(np.mean(v)) for w, v in words.items() if len(v) >= 2}
        for column, words in sums.items()
    }


def words_section(words: Mapping[str, Mapping[str, float]], scale: str) -> Section | None:
    """The words that push the explained output up or down most, per text column."""
    if not words:
        return None
    parts = []
    for column, values in words.items():
        ranked = sorted(values.items(), key=lambda kv: abs(kv[1]), reverse=True)[:TOP_WORDS]
        if not ranked:
            continue
        parts.append(
            "<figure>"
            + plots.bar_chart(
                [w for w, _ in ranked], [v for _, v in ranked], title=f"Words in {column}",
                xlabel=f"mean value ({scale}) where the word appears", horizontal=True,
            )
            + "</figure>"
        )  # fmt: skip
    if not parts:
        return None
    return Section(
        "Words",
        "".join(parts),
        note=(
            "Per-word values of the explained class, averaged over held-out rows: Shapley "
            "values for linear and tree models, integrated gradients (hashed n-grams) or word "
            "occlusion (MiniLM) for the network."
        ),
    )


def _paragraphs(text: str) -> str:
    if not text.strip():
        return "<p>Not stated.</p>"
    return "".join(f"<p>{escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def _fairness(fairness: Mapping[str, Any]) -> Section:
    if not fairness:
        return Section("Fairness", "<p>No sensitive columns were declared.</p>")
    parts = []
    for column, entry in fairness.items():
        rows = [{"group": g, **v} for g, v in entry["groups"].items()]
        parts.append(f"<h3>{escape(column)}</h3>" + table(rows)
                     + kv_table({"MAE gap / target std": entry["gap"]}))  # fmt: skip
    note = "Per-group errors; the gated gap is the largest MAE difference between groups of "
    note += "at least 30 rows, divided by the target's standard deviation."
    return Section("Fairness", "".join(parts), note=note)


def regression_card_html(
    *,
    model_id: str,
    family: str,
    metrics: Mapping[str, Any],
    fairness: Mapping[str, Any],
    y_true: Sequence[float],
    predicted: np.ndarray,
    data_summary: Mapping[str, Any],
    interval: Mapping[str, Any] | None = None,
    selection: Mapping[str, Any] | None = None,
    importance: Mapping[str, float] | None = None,
    words: Mapping[str, Mapping[str, float]] | None = None,
    gates: Mapping[str, Any] | None = None,
    intended_use: str = "",
    limitations: str = "",
    license_note: str = "",
    primary: Mapping[str, Any] | None = None,
    split: Mapping[str, Any] | None = None,
) -> str:
    """The model card of a regression: error metrics with intervals against the mean
    baseline, residual plots, per-group errors, the candidates, importance and words.
    ``primary`` (from ``assess``) adds a red line when the model does not beat the mean
    baseline beyond noise; ``split`` says how the rows were split."""
    overview = {"model": model_id, "task": "regression", "family": family,
                "evaluated rows": metrics.get("n")}  # fmt: skip
    html = ""
    if primary and not primary.get("beats_baseline"):
        value = primary.get("value")
        shown = "undefined" if value is None else f"{value:.4g}"
        html += alert(
            f"This model does not beat the trivial baseline (the training mean) on "
            f"{primary['metric']}: {shown} vs {primary['baseline']:.4g}. Do not use it."
        )
    html += kv_table(overview) + (
        ("<p><strong>Gates</strong></p>" + kv_table(gates)) if gates else ""
    )
    data = kv_table(data_summary)
    if split:
        data += "<p><strong>Split</strong></p>" + kv_table(
            {"how": split.get("description", split.get("method"))}
        )
    sections = [Section("Overview", html), Section("Data", data)]
    sections += regression_sections(metrics, y_true, predicted, interval=interval)
    sections.append(_fairness(fairness))
    for extra in (candidates_section(selection), words_section(words or {}, "value")):
        if extra is not None:
            sections.append(extra)
    if importance:
        ranked = sorted(importance.items(), key=lambda kv: abs(kv[1]), reverse=True)[:25]
        chart = plots.bar_chart([k for k, _ in ranked], [v for _, v in ranked],
                                title="Global feature importance", xlabel="mean |SHAP value|",
                                horizontal=True)  # fmt: skip
        sections.append(Section("Feature importance", f"<figure>{chart}</figure>"))
    sections += [
        Section("Intended use", _paragraphs(intended_use)),
        Section("Limitations", _paragraphs(limitations)),
    ]
    if license_note:
        sections.append(Section("License", _paragraphs(license_note)))
    return render_page(f"Model card — {model_id}", sections, subtitle=f"Model version {model_id}")
