"""Group fairness: per-group rates and fairlearn-compatible parity gaps per sensitive column."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from datawheel.errors import DataError, UsageError
from datawheel.i18n.catalog import N_

__all__ = [
    "MIN_GROUP_SIZE",
    "MISSING_GROUP",
    "GatedGap",
    "fairness_report",
    "gated_gap",
    "group_gaps",
    "max_gap",
]

#: Default of ``gates.min_group_size``: a rate from fewer people swings by 0.2 by chance alone.
MIN_GROUP_SIZE = 30

#: Group name for missing sensitive values (None or NaN), so they are measured, not dropped.
MISSING_GROUP = "(missing)"
_JOIN = "×"  # joins column names and group values of an intersection: "sex×race", "F×Asian"


def fairness_report(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    sensitive: Mapping[str, Sequence[Any]],
    *,
    positive: str,
    intersections: bool = False,
) -> dict[str, Any]:
    """Per-group rates and parity gaps for each sensitive column (and, optionally, each pair).

    Definitions follow fairlearn's ``between_groups`` defaults, with ``positive`` as the selected
    outcome (multiclass labels are treated one-vs-rest):

    - ``demographic_parity_difference`` = max - min selection rate over groups;
    - ``demographic_parity_ratio`` = min / max selection rate (``None`` where every group's rate
      is 0: fairlearn gives NaN there, ``None`` keeps the report strict JSON);
    - ``equalized_odds_difference`` = max(TPR max - min, FPR max - min).

    A group with no positive labels has TPR 0, and one with no negative labels has FPR 0 — as in
    fairlearn, whose rates come from scikit-learn's normalized confusion matrix, which turns 0/0
    into 0. Such a group can therefore widen the equalized-odds gap; ``n_positive`` and
    ``n_negative`` are reported so a reader can tell.

    Intersections are keyed ``"a×b"`` with group names ``"va×vb"`` and carry ``"columns": [a, b]``.
    """
    positive = str(positive)
    yt = np.array([str(v) for v in y_true]) == positive
    yp = np.array([str(v) for v in y_pred]) == positive
    if len(yt) != len(yp):
        raise DataError(f"y_true has {len(yt)} rows but y_pred has {len(yp)}")
    if len(yt) == 0:
        raise DataError("no rows to assess", hint="pass at least one labelled prediction")
    keys: dict[str, list[str]] = {}
    for column, values in sensitive.items():
        if len(values) != len(yt):
            raise DataError(
                f"sensitive column {column!r} has {len(values)} values for {len(yt)} rows",
                hint="pass one value per row",
            )
        keys[str(column)] = [_group_name(v) for v in values]
    report: dict[str, Any] = {column: _column_report(yt, yp, k) for column, k in keys.items()}
    if intersections:
        for a, b in itertools.combinations(keys, 2):
            joined = [f"{x}{_JOIN}{y}" for x, y in zip(keys[a], keys[b], strict=True)]
            name = f"{a}{_JOIN}{b}"
            if name in report:
                raise UsageError(f"intersection {name!r} clashes with a sensitive column's name")
            report[name] = {**_column_report(yt, yp, joined), "columns": [a, b]}
    return report


def max_gap(report: Mapping[str, Any], *, intersections: bool = True) -> float:
    """The largest parity gap in a report: max over columns of max(DP diff, EO diff).

    This is the number the promotion gate compares with ``gates.max_fairness_gap``; 0.0 when the
    report is empty (no sensitive columns).
    """
    gaps = [
        max(entry["demographic_parity_difference"], entry["equalized_odds_difference"])
        for entry in report.values()
        if intersections or "columns" not in entry
    ]
    return float(max(gaps, default=0.0))


def group_gaps(entry: Mapping[str, Any]) -> dict[str, float]:
    """For one column's entry: each group's largest gap to any other group, over the three rates.

    A group is at one end of a failing pair exactly when its value exceeds the gate, which is
    how the model card decides which rows to flag.
    """
    groups = entry["groups"]
    out = {}
    for g, stats in groups.items():
        out[g] = max(
            (
                abs(stats[rate] - other[rate])
                for other in groups.values()
                for rate in ("selection_rate", "tpr", "fpr")
            ),
            default=0.0,
        )
    return out


@dataclass(frozen=True)
class GatedGap:
    """The fairness number the promotion gate compares, or why there is none.

    ``value`` is the largest equalized-odds difference over the sensitive columns, where a
    group's TPR counts only with >= ``min_group_size`` positives and its FPR only with >=
    ``min_group_size`` negatives. ``None`` means not measurable, and ``reason`` says why:
    no sensitive column, every group too small, or a model that predicts one class.
    """

    value: float | None
    column: str | None
    min_group_size: int
    reason: str = ""  # why not measurable ("" when measured)
    gated_groups: dict[str, list[str]] = field(default_factory=dict)  # column → groups counted

    @property
    def measurable(self) -> bool:
        return self.value is not None

    def text(self) -> str:
        """``0.0834 (sex; groups with >= 30 positives / negatives)`` or the reason."""
        size, gap_reason = self.min_group_size, self.reason
        if self.value is None:
            return N_(f"not measurable: {gap_reason}")
        value, column = f"{self.value:.4f}", self.column
        if column:
            return N_(f"{value} ({column}; groups with >= {size} positives / negatives)")
        return N_(f"{value} (groups with >= {size} positives / negatives)")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "measurable": self.measurable, "text": self.text()}


def gated_gap(
    report: Mapping[str, Any],
    *,
    min_group_size: int = MIN_GROUP_SIZE,
    sensitive: Sequence[str] = (),
    predicted_classes: int | None = None,
) -> GatedGap:
    """The gated gap of a ``fairness_report`` (intersections are reported, never gated).

    Equalized odds, not demographic parity, is gated: parity also penalizes true differences in
    base rates; both are reported. ``sensitive`` is the configured column list (to tell "none
    set" from "not in the data"); ``predicted_classes`` the number of distinct predictions.
    """
    if min_group_size < 1:
        raise UsageError(f"min_group_size must be >= 1, got {min_group_size}")

    def unmeasured(reason: str) -> GatedGap:
        return GatedGap(None, None, min_group_size, reason)

    columns = {c: e for c, e in report.items() if "columns" not in e}
    if not columns:
        if not sensitive:
            return unmeasured(N_("no sensitive column is set (data.sensitive)"))
        listed = ", ".join(sensitive)
        return unmeasured(N_(f"the sensitive column(s) {listed} are not in the data"))
    if predicted_classes is not None and predicted_classes < 2:
        return unmeasured(N_("the model predicts one class for every row"))
    worst, worst_column, gated, sizes = None, None, {}, []
    for column, entry in columns.items():
        groups = entry["groups"]
        tpr = {g: v["tpr"] for g, v in groups.items() if v["n_positive"] >= min_group_size}
        fpr = {g: v["fpr"] for g, v in groups.items() if v["n_negative"] >= min_group_size}
        sizes.append(
            f"{column}: "
            + ", ".join(f"{g} {v['n_positive']}/{v['n_negative']}" for g, v in groups.items())
        )
        if len(tpr) < 2 and len(fpr) < 2:
            continue
        gated[column] = sorted(set(tpr) | set(fpr))
        gap = max(
            (max(tpr.values()) - min(tpr.values())) if len(tpr) > 1 else 0.0,
            (max(fpr.values()) - min(fpr.values())) if len(fpr) > 1 else 0.0,
        )
        if worst is None or gap > worst:
            worst, worst_column = float(gap), column
    if worst is None:
        per_group = "; ".join(sizes)
        return unmeasured(
            N_(f"no two groups of a sensitive column have >= {min_group_size} positives or "
               f"negatives (positives/negatives per group — {per_group})")
        )  # fmt: skip
    return GatedGap(worst, worst_column, min_group_size, "", gated)


def _column_report(yt: np.ndarray, yp: np.ndarray, groups: list[str]) -> dict[str, Any]:
    """Rates per group (bincounts over group codes) and the gaps between them."""
    names, code = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    m = len(names)
    n = np.bincount(code, minlength=m)
    pos = np.bincount(code, weights=yt, minlength=m)
    selected = np.bincount(code, weights=yp, minlength=m)
    tp = np.bincount(code, weights=yt & yp, minlength=m)
    fp = np.bincount(code, weights=~yt & yp, minlength=m)
    correct = np.bincount(code, weights=yt == yp, minlength=m)
    neg = n - pos
    sel = selected / n
    tpr = np.divide(tp, pos, out=np.zeros(m), where=pos > 0)  # 0/0 -> 0, as fairlearn
    fpr = np.divide(fp, neg, out=np.zeros(m), where=neg > 0)
    dp_ratio = float(sel.min() / sel.max()) if sel.max() > 0 else None
    return {
        "groups": {
            str(name): {
                "n": int(n[i]),
                "n_positive": int(pos[i]),
                "n_negative": int(neg[i]),
                "selection_rate": float(sel[i]),
                "tpr": float(tpr[i]),
                "fpr": float(fpr[i]),
                "accuracy": float(correct[i] / n[i]),
            }
            for i, name in enumerate(names)
        },
        "demographic_parity_difference": float(sel.max() - sel.min()),
        "demographic_parity_ratio": dp_ratio,
        "equalized_odds_difference": float(max(tpr.max() - tpr.min(), fpr.max() - fpr.min())),
    }


def _group_name(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_GROUP
    return str(value)
