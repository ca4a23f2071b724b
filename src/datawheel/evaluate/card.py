"""The model card: one self-contained HTML page of a model version's metrics, fairness and use."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from datawheel.evaluate.fairness import group_gaps, max_gap
from datawheel.evaluate.metrics import METRICS, encode_labels, positive_index
from datawheel.evaluate.statistics import metric_interval
from datawheel.i18n.catalog import _
from datawheel.report import plots
from datawheel.report.html import Section, alert, escape, kv_table, render_page, table

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
    gated: Mapping[str, Any] | None = None,
    primary: Mapping[str, Any] | None = None,
    split: Mapping[str, Any] | None = None,
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
    adds a bar chart. ``gated`` (``GatedGap.to_dict()``) is what the promotion gate compares —
    the equalized-odds gap over groups of at least ``min_group_size`` — or why it is not
    measurable; the overview's pass/FAIL follows it and the fairness table marks which groups it
    counted. ``primary`` (from ``assess``) puts the primary metric, its interval and the trivial
    baseline at the top, with a red line when the model does not beat the baseline. ``split``
    (``SplitInfo.to_dict()``) says how train, validation and test were drawn. ``inputs``
    (column → type) lists the model's inputs; ``license_note`` adds a License section.
    """
    classes = [str(c) for c in classes]
    if metrics is None or proba is None:
        return _unevaluated_card(model_id, classes, inputs, intended_use, limitations,
                                 license_note)  # fmt: skip
    fairness = fairness or {}
    proba = np.asarray(proba, dtype=float)
    gate = (gates or {}).get("max_fairness_gap")
    overview = _overview(model_id, metrics, fairness, classes, positive, gates, gated, primary)
    data = kv_table(data_summary) if data_summary else f"<p>{_('No summary given.')}</p>"
    if split:
        data += f"<p><strong>{_('Split')}</strong></p>" + kv_table(_split_facts(split))
    sections = [
        Section("Overview", overview),
        Section("Data", data),
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
    sections.append(_fairness_section(fairness, gate, gated))
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
    gated: Mapping[str, Any] | None = None,
    primary: Mapping[str, Any] | None = None,
) -> str:
    html = ""
    facts: dict[str, Any] = {_("model"): model_id, _("evaluated rows"): metrics.get("n")}
    if primary:
        value, low, high = primary.get("value"), primary.get("low"), primary.get("high")
        shown = _("undefined") if value is None else f"{value:.4f}"
        if low is not None and high is not None:
            shown += f" [{low:.4f}, {high:.4f}] ({primary['confidence']:.0%})"
        else:
            shown += f" ({primary.get('interval')})"
        facts[_(f"primary metric: {primary['metric']}")] = shown
        kind = primary.get("baseline_kind", "prior")
        facts[_("trivial baseline")] = _(f"{primary['baseline']:.4f} (always the {kind})")
        facts[_("beats the baseline")] = _("yes") if primary.get("beats_baseline") else _("NO")
        if not primary.get("beats_baseline"):
            lower = primary.get("vs_baseline", {}).get("lower")
            bound = _(f"; lower bound of the gain {lower:+.4f}") if lower is not None else ""
            html += alert(
                _(
                    f"This model does not beat the trivial baseline on {primary['metric']} "
                    f"({shown} vs {primary['baseline']:.4f}{bound}). Do not use it for decisions."
                )
            )
    facts.update(
        {
            _("classes"): classes,
            _("positive class"): positive
            if len(classes) == 2
            else _("— (multiclass: macro averages)"),
            _("largest fairness gap (all groups)"): max_gap(fairness) if fairness else None,
        }
    )
    gate = (gates or {}).get("max_fairness_gap")
    if gated is not None:
        facts[_("gated fairness gap (equalized odds)")] = gated.get("text")
        if gate is not None:
            value = gated.get("value")
            facts[_("fairness gate")] = (
                _("not measurable (not gated)") if value is None
                else (_("pass") if value <= gate else _("FAIL"))
            )  # fmt: skip
    elif gate is not None and fairness:
        facts[_("fairness gate")] = _("pass") if max_gap(fairness) <= gate else _("FAIL")
    html += kv_table(facts)
    if gates:
        html += f"<p><strong>{_('Gates')}</strong></p>" + kv_table(gates)
    return html


def _split_facts(split: Mapping[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {"how": split.get("description", split.get("method"))}
    for part in ("train", "val", "test"):
        rows, groups = split.get("rows", {}).get(part), split.get("groups", {}).get(part)
        if rows is not None:
            facts[part] = f"{rows:,} rows" + (f", {groups:,} groups" if groups else "")
    if split.get("duplicate_rows_grouped"):
        facts["copies kept with their original"] = split["duplicate_rows_grouped"]
    return facts


def _metrics_section(
    metrics: Mapping[str, Any],
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: list[str],
    positive: str | None,
) -> Section:
    y, p, _names = encode_labels(y_true, proba, classes)
    pos = positive_index(classes, positive) if len(classes) == 2 else None
    rows = []
    for name in _SCALARS:
        if metrics.get(name) is None or name not in METRICS:
            continue
        interval = metric_interval(METRICS[name], y, p, pos)
        rows.append(
            {
                "metric": name,
                "value": metrics[name],
                "95% CI low": interval.low if interval.ok else "—",
                "95% CI high": interval.high if interval.ok else "—",
                "interval": interval.method if interval.ok else interval.reason,
            }
        )
    per_class = [{"class": c, **v} for c, v in metrics.get("per_class", {}).items()]
    body = table(rows, columns=["metric", "value", "95% CI low", "95% CI high", "interval"])
    if per_class:
        body += f"<p><strong>{_('Per class')}</strong></p>" + table(per_class)
    scope = _("the positive class") if len(classes) == 2 else _("macro averages over classes")
    note = _(
        "Intervals: Wilson score intervals for shares (accuracy; precision and recall of the "
        "positive class), else a percentile bootstrap of 1,000 resamples; none when fewer than "
        f"10 rows carry the metric. f1/precision/recall are for {scope}."
    )
    return Section("Metrics", body, note=note)


def _fairness_section(
    fairness: Mapping[str, Any], gate: float | None, gated: Mapping[str, Any] | None = None
) -> Section:
    if not fairness:
        reason = (gated or {}).get("reason") or "no sensitive columns were declared"
        return Section("Fairness", f"<p>Not measurable: {escape(reason)}.</p>")
    min_size = int((gated or {}).get("min_group_size") or 0)
    counted = (gated or {}).get("gated_groups", {})
    parts = []
    if gated is not None:
        parts.append(f"<p><strong>Gated gap:</strong> {escape(gated.get('text'))}</p>")
    for column, entry in fairness.items():
        gaps = group_gaps(entry)
        rows = []
        for g, stats in entry["groups"].items():
            row = {"group": g, **stats, "largest gap": gaps[g]}
            if gated is not None and "columns" not in entry:
                row["gated"] = "yes" if g in counted.get(column, []) else (
                    f"no: < {min_size} positives and negatives"
                )  # fmt: skip
            rows.append(row)

        def failing(row: Mapping[str, Any]) -> bool:
            in_gate = row.get("gated", "yes") == "yes"
            return gate is not None and in_gate and row["largest gap"] > gate

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
    if min_size:
        note += (
            f" The gate counts a group's TPR only with >= {min_size} positives and its FPR only "
            f"with >= {min_size} negatives (gates.min_group_size); smaller groups are shown, "
            "not gated. Intersections are reported, not gated."
        )
    if gate is not None:
        note += _(f" Flagged rows are gated groups beyond max_fairness_gap = {gate:.4g}.")
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
