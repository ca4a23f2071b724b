"""The model card: one self-contained HTML page of a model version's metrics, fairness and use."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from datawheel.evaluate.fairness import group_gaps, max_gap
from datawheel.evaluate.metrics import bootstrap_ci
from datawheel.i18n.catalog import _
from datawheel.report import plots
from datawheel.report.html import Section, escape, kv_table, render_page, table

__all__ = ["model_card_html"]

_SCALARS = (
    "accuracy", "balanced_accuracy", "f1", "precision", "recall", "macro_f1",
    "roc_auc", "log_loss", "brier", "ece",
)  # fmt: skip
_WITH_CI = ("accuracy", "balanced_accuracy", "f1", "precision", "recall", "macro_f1")
_RATES = ("selection_rate", "tpr", "fpr", "accuracy")
_TOP_FEATURES = 25
_NOT_METRICS = ("lr", "learning_rate", "seconds", "time", "duration")


def model_card_html(
    *,
    model_id: str,
    classes: Sequence[str],
    metrics: Mapping[str, Any] | None = None,
    fairness: Mapping[str, Any] | None = None,
    y_true: Sequence[str] = (),
    proba: np.ndarray | None = None,
    positive: str | None = None,
    data_summary: Mapping[str, Any] | None = None,
    gates: Mapping[str, Any] | None = None,
    intended_use: str = "",
    limitations: str = "",
    history: Sequence[Mapping[str, Any]] | None = None,
    importance: Mapping[str, float] | None = None,
    importance_label: str = "importance",
    gated_gap: float | None = None,
    inputs: Mapping[str, str] | None = None,
    license_note: str = "",
    extra_sections: Sequence[Section] = (),
) -> str:
    """Render the model card for one model version as a complete HTML page — the one card
    builder: ``datawheel evaluate --report``, ``datawheel export`` and a bare export all use it.

    ``metrics`` comes from ``classification_metrics`` and ``fairness`` from ``fairness_report``
    on the same evaluation rows (``y_true``, ``proba``), which are needed again for the
    bootstrap intervals and the calibration curve. Without ``metrics`` the card says the model
    was not evaluated and shows what is known (classes, inputs, use). Fairness rows whose
    largest gap to another group exceeds ``gates["max_fairness_gap"]`` are flagged, since
    those groups would fail the promotion gate. ``history`` (one dict per epoch) adds training
    curves; ``importance`` (feature → global importance, its axis titled ``importance_label``)
    adds a bar chart. ``gated_gap`` is the number the promotion gate compares (``assess``'s
    equalized-odds gap over well-measured groups); when given, the overview's pass/FAIL
    follows it rather than the largest raw gap. ``inputs`` (column → type) lists the model's
    inputs; ``license_note`` adds a License section.
    """
    classes = [str(c) for c in classes]
    if metrics is None or proba is None:
        return _unevaluated_card(model_id, classes, inputs, intended_use, limitations,
                                 license_note)  # fmt: skip
    fairness = fairness or {}
    proba = np.asarray(proba, dtype=float)
    gate = (gates or {}).get("max_fairness_gap")
    sections = [
        Section(
            "Overview", _overview(model_id, metrics, fairness, classes, positive, gates, gated_gap)
        ),
        Section(
            "Data", kv_table(data_summary) if data_summary else f"<p>{_('No summary given.')}</p>"
        ),
        *([_inputs_section(inputs)] if inputs else []),
        _metrics_section(metrics, y_true, proba, classes, positive),
        Section(
            "Confusion matrix",
            _figure(plots.confusion_matrix_chart(metrics["confusion_matrix"], classes)),
            note="Rows are true labels, columns predicted labels.",
        ),
    ]
    if len(classes) == 2:
        pos = classes.index(positive) if positive in classes else 1
        labels = np.array([str(v) for v in y_true]) == classes[pos]
        sections.append(
            Section(
                "Calibration",
                _figure(plots.calibration_chart(labels, proba[:, pos])),
                note=f"Probability of {classes[pos]!r} per bin against the observed rate. "
                f"Expected calibration error (top label, 10 bins): {metrics['ece']:.4g}.",
            )
        )
    sections.append(_fairness_section(fairness, gate))
    if metrics.get("privacy"):
        sections.append(_privacy_section(metrics["privacy"]))
    if importance:
        sections.append(_importance_section(importance, importance_label))
    if history:
        sections.append(_history_section(history))
    sections += list(extra_sections)
    sections += _use_sections(intended_use, limitations, license_note)
    return render_page(f"Model card — {model_id}", sections, subtitle=f"Model version {model_id}")


def _unevaluated_card(
    model_id: str,
    classes: list[str],
    inputs: Mapping[str, str] | None,
    intended_use: str,
    limitations: str,
    license_note: str,
) -> str:
    """What can be said of a model with no evaluation at hand: its classes, inputs and use."""
    facts = {"model": model_id, "classes": classes, "evaluation": _("none recorded")}
    sections = [
        Section("Overview", kv_table(facts)),
        *([_inputs_section(inputs)] if inputs else []),
        Section(
            "Metrics",
            "<p>"
            + _("Not evaluated: no held-out rows were at hand when this card was written.")
            + "</p>",
            note="`datawheel evaluate MODEL --report FILE.html` writes a card with metrics.",
        ),
        *_use_sections(intended_use, limitations, license_note),
    ]
    return render_page(f"Model card — {model_id}", sections, subtitle=f"Model version {model_id}")


def _inputs_section(inputs: Mapping[str, str]) -> Section:
    rows = [{"input": name, "type": kind} for name, kind in inputs.items()]
    return Section("Inputs", table(rows), note=f"{len(rows)} input columns.")


def _use_sections(intended_use: str, limitations: str, license_note: str) -> list[Section]:
    sections = [
        Section("Intended use", _paragraphs(intended_use)),
        Section("Limitations", _paragraphs(limitations)),
    ]
    if license_note:
        sections.append(Section("License", _paragraphs(license_note)))
    return sections


def _overview(
    model_id: str,
    metrics: Mapping[str, Any],
    fairness: Mapping[str, Any],
    classes: list[str],
    positive: str | None,
    gates: Mapping[str, Any] | None,
    gated_gap: float | None = None,
) -> str:
    facts: dict[str, Any] = {
        "model": model_id,
        "evaluated rows": metrics.get("n"),
        "classes": classes,
        "positive class": positive if len(classes) == 2 else _("— (multiclass: macro averages)"),
        "largest fairness gap": max_gap(fairness) if fairness else None,
    }
    gate = (gates or {}).get("max_fairness_gap")
    if gated_gap is not None:
        facts["gated fairness gap (equalized odds)"] = gated_gap
    if gate is not None and fairness:
        compared = max_gap(fairness) if gated_gap is None else gated_gap
        facts["fairness gate"] = _("pass") if compared <= gate else _("FAIL")
    html = kv_table(facts)
    if gates:
        html += f"<p><strong>{_('Gates')}</strong></p>" + kv_table(gates)
    return html


def _metrics_section(
    metrics: Mapping[str, Any],
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: list[str],
    positive: str | None,
) -> Section:
    rows = []
    for name in _SCALARS:
        if name not in metrics:
            continue
        row: dict[str, Any] = {"metric": name, "value": metrics[name]}
        if name in _WITH_CI:
            low, high = bootstrap_ci(
                y_true, proba, classes, name, positive=positive if len(classes) == 2 else None
            )
            row.update({"95% CI low": low, "95% CI high": high})
        rows.append(row)
    per_class = [{"class": c, **v} for c, v in metrics.get("per_class", {}).items()]
    body = table(rows, columns=["metric", "value", "95% CI low", "95% CI high"])
    if per_class:
        body += f"<p><strong>{_('Per class')}</strong></p>" + table(per_class)
    scope = _("the positive class") if len(classes) == 2 else _("macro averages over classes")
    note = _(
        "Intervals: percentile bootstrap, 200 resamples of the evaluation rows. "
        f"f1/precision/recall are for {scope}."
    )
    return Section("Metrics", body, note=note)


def _fairness_section(fairness: Mapping[str, Any], gate: float | None) -> Section:
    if not fairness:
        return Section("Fairness", f"<p>{_('No sensitive columns were declared.')}</p>")
    parts = []
    for column, entry in fairness.items():
        gaps = group_gaps(entry)
        rows = [{"group": g, **s, "largest gap": gaps[g]} for g, s in entry["groups"].items()]

        def failing(row: Mapping[str, Any]) -> bool:
            return gate is not None and row["largest gap"] > gate

        summary = {
            "demographic parity difference": entry["demographic_parity_difference"],
            "demographic parity ratio": entry["demographic_parity_ratio"],
            "equalized odds difference": entry["equalized_odds_difference"],
        }
        names = list(entry["groups"])
        chart = plots.grouped_bar_chart(
            names,
            {r: [entry["groups"][g][r] for g in names] for r in _RATES},
            title=f"Per-group rates — {column}",
            ylabel="rate",
        )
        parts.append(
            f"<h3>{escape(column)}</h3>"
            + kv_table(summary)
            + table(rows, highlight=failing)
            + _figure(chart)
        )
    note = _(
        "TPR is 0 for a group with no positive labels and FPR 0 for one with no negative labels "
        "(fairlearn's convention). 'largest gap' is the group's largest difference in selection "
        "rate, TPR or FPR to any other group."
    )
    if gate is not None:
        note += _(f" Flagged rows exceed the gate max_fairness_gap = {gate:.4g}.")
    return Section("Fairness", "".join(parts), note=note)


def _importance_section(importance: Mapping[str, float], label: str) -> Section:
    ranked = sorted(importance.items(), key=lambda kv: abs(kv[1]), reverse=True)[:_TOP_FEATURES]
    chart = plots.bar_chart(
        [k for k, _ in ranked],
        [v for _, v in ranked],
        title="Global feature importance",
        xlabel=label,
        horizontal=True,
    )
    note = _(f"Top {len(ranked)} of {len(importance)} features by absolute importance.")
    return Section("Feature importance", _figure(chart), note=note)


def _history_section(history: Sequence[Mapping[str, Any]]) -> Section:
    x = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    keys = [
        k
        for k in dict.fromkeys(k for row in history for k in row)
        if k not in ("epoch", "step") and all(_is_number(row.get(k)) for row in history)
    ]
    losses = {k: [row[k] for row in history] for k in keys if "loss" in k}
    others = {
        k: [row[k] for row in history]
        for k in keys
        if "loss" not in k and k not in _NOT_METRICS  # a learning rate or a duration
    }
    charts = []
    if losses:
        charts.append(plots.line_chart(x, losses, title="Loss", xlabel="epoch", ylabel="loss"))
    if others:
        ylabel = next(iter(others)) if len(others) == 1 else _("value")  # one line: no legend
        charts.append(plots.line_chart(x, others, title="Metrics", xlabel="epoch", ylabel=ylabel))
    body = "".join(_figure(c) for c in charts) or f"<p>{_('No numeric history.')}</p>"
    return Section("Training", body, note=f"{len(history)} epochs.")


def _figure(svg: str) -> str:
    return f"<figure>{svg}</figure>"


def _paragraphs(text: str) -> str:
    if not text.strip():
        return f"<p>{_('Not stated.')}</p>"
    return "".join(f"<p>{escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _privacy_section(record: Mapping[str, Any]) -> Section:
    """DP-SGD's guarantee in words and numbers (``train.privacy``)."""
    rows = {
        "ε spent (RDP accountant)": record["epsilon"],
        "ε targeted": record.get("target_epsilon"),
        "δ": record["delta"],
        "per-example gradient clip": record.get("max_grad_norm"),
        "noise multiplier": record.get("noise_multiplier"),
        "sampling rate (Poisson)": record.get("sample_rate"),
        "epochs": record.get("epochs"),
    }
    return Section(
        "Differential privacy",
        kv_table(rows),
        note=f"Trained with DP-SGD (Opacus): {record.get('protected', 'the training split')} "
        "is protected — changing any one row there changes the probability of these weights by "
        "at most a factor e^ε (except with probability δ).",
    )
