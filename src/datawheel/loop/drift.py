"""Feature drift: a training reference per model version vs recent requests (PSI, KS, chi²).

The reference is computed once per version, lazily, from the version's training split — raw
values, before any imputation (the model's preprocessing fills them; the training split
itself is not filled) — and kept in ``drift_references``: decile bins + counts and a 101-point
quantile sketch per numeric feature (no raw rows are copied), category counts per categorical
feature, top word n-grams per text column.

Both sides are binned by the *same* function (:func:`bin_counts`): numeric deciles of the
training values plus a bin for missing values; the top categories plus "other known", "unseen"
(never in training) and "missing" bins. A missing value is therefore neither dropped nor
imputed on one side only — a change in missingness is drift, and noise in it is not.

Whether a feature drifted depends on the window size: PSI computed on a window of ``m`` rows
is noisy — about ``(bins - 1) * (1/n + 1/m)`` on average even with no drift at all, and a wide
categorical feature in a small window easily passes 0.25 by chance. Bins too rare to be
measured in the window (expected count < 5) are pooled first; then a feature is flagged only
when its PSI exceeds ``loop.drift_psi_above`` (the size of the change) AND a test says the
change is not noise at this window size: chi² on the same bins (and KS for numbers), with
p-value below ``FALSE_ALARM / features``. A window of traffic drawn from the training
distribution therefore raises an alarm well under 1 % of the time, however many features.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from datawheel.config import LoopConfig
from datawheel.loop.window import since
from datawheel.registry.versions import ModelVersion, list_versions
from datawheel.store.db import drift_references, now_iso, predictions, reading
from datawheel.store.workspace import Workspace

__all__ = [
    "FALSE_ALARM",
    "MIN_EXPECTED",
    "DriftReport",
    "FeatureDrift",
    "bin_counts",
    "build_reference",
    "compare",
    "feature_drift",
    "prometheus_drift_lines",
    "psi",
    "reference_for",
]

EPS = 1e-4  # floor for empty bins so PSI stays finite
OTHER, UNSEEN, MISSING = "__other__", "__unseen__", "__missing__"
TOP_CATEGORIES = 50
KNOWN_CATEGORIES = 10_000  # beyond this many distinct training values, unseen = other
TOP_NGRAMS = 200
REFERENCE_POINTS = 10_000
REFERENCE_FORMAT = 2  # references of format 1 (missing values left out) are rebuilt
FALSE_ALARM = 0.002  # chance that a window of undrifted traffic flags any feature
MIN_EXPECTED = 5.0  # bins expected to hold fewer window rows are pooled
_WORD = re.compile(r"\w+", re.UNICODE)


def psi(expected: Iterable[float], actual: Iterable[float]) -> float:
    """Population stability index of two histograms over the same bins (counts or shares)."""
    e, a = np.asarray(list(expected), float), np.asarray(list(actual), float)
    if e.sum() == 0 or a.sum() == 0:
        return 0.0
    p = np.clip(e / e.sum(), EPS, None)
    q = np.clip(a / a.sum(), EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def _as_float(value: Any) -> float:
    """A served or stored value as a float; NaN for missing, blank or not a number."""
    if value is None or isinstance(value, bool):
        return math.nan if value is None else float(value)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def _ngrams(text: Any) -> list[str]:
    words = _WORD.findall(str(text).lower()) if text is not None else []
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def bin_counts(reference: dict[str, Any], values: list[Any]) -> np.ndarray:
    """Counts of ``values`` in the reference's bins — the one binning for both sides.

    numeric: deciles (-inf, e0], (e0, e1], …, (e_k, inf), then missing; categorical: the top
    categories, other known, unseen, missing; text: the top n-grams, then every other n-gram.
    """
    kind = reference["kind"]
    if kind == "numeric":
        x = np.fromiter((_as_float(v) for v in values), float, count=len(values))
        finite = x[np.isfinite(x)]
        edges = np.asarray(reference["edges"], float)
        binned = np.bincount(np.searchsorted(edges, finite, side="left"), minlength=edges.size + 1)
        return np.r_[binned, x.size - finite.size].astype(float)
    if kind == "text":
        index = {t: i for i, t in enumerate(reference["tokens"])}
        grams = np.zeros(len(index) + 1)
        for value in values:
            for gram in _ngrams(value):
                grams[index.get(gram, len(index))] += 1
        return grams
    index = {c: i for i, c in enumerate(reference["categories"])}
    known = set(reference["known"]) if reference.get("known") is not None else None
    top = len(index)
    counts = np.zeros(top + 3)  # top…, other, unseen, missing
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            counts[top + 2] += 1
            continue
        key = str(value)
        if key in index:
            counts[index[key]] += 1
        elif known is None or key in known:
            counts[top] += 1
        else:
            counts[top + 1] += 1
    return counts


def _numeric_reference(values: list[Any]) -> dict[str, Any]:
    x = np.fromiter((_as_float(v) for v in values), float, count=len(values))
    finite = x[np.isfinite(x)]
    edges: list[float] = (
        np.unique(np.quantile(finite, np.linspace(0.1, 0.9, 9))).tolist() if finite.size else []
    )
    reference = {
        "kind": "numeric",
        "format": REFERENCE_FORMAT,
        "rows": len(values),
        "edges": edges,
        "quantiles": np.quantile(finite, np.linspace(0, 1, 101)).tolist() if finite.size else [],
        "n_finite": int(finite.size),
    }
    reference["counts"] = bin_counts(reference, values).tolist()
    return reference


def _categorical_reference(values: list[Any]) -> dict[str, Any]:
    present = Counter(str(v) for v in values if v is not None and v == v)
    reference = {
        "kind": "categorical",
        "format": REFERENCE_FORMAT,
        "rows": len(values),
        "categories": [c for c, _ in present.most_common(TOP_CATEGORIES)],
        # every training category, to tell "other known" from "unseen" (None: too many)
        "known": sorted(present) if len(present) <= KNOWN_CATEGORIES else None,
    }
    reference["counts"] = bin_counts(reference, values).tolist()
    return reference


def _text_reference(values: list[Any]) -> dict[str, Any]:
    grams = Counter(g for v in values for g in _ngrams(v))
    reference = {
        "kind": "text",
        "format": REFERENCE_FORMAT,
        "rows": len(values),
        "tokens": [t for t, _ in grams.most_common(TOP_NGRAMS)],
    }
    reference["counts"] = bin_counts(reference, values).tolist()
    return reference


def build_reference(columns: dict[str, list[Any]], kinds: dict[str, str]) -> dict[str, Any]:
    """The reference of each column; ``kinds`` maps column → numeric | categorical | text."""
    builders = {"numeric": _numeric_reference, "text": _text_reference}
    return {
        name: builders.get(kind, _categorical_reference)(list(columns.get(name, [])))
        for name, kind in kinds.items()
    }


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str  # numeric categorical text
    psi: float
    test: str  # ks or chi2
    statistic: float
    p_value: float
    n_reference: int
    n_recent: int
    drifted: bool = False  # psi above ``threshold`` and p_value below ``alpha``
    threshold: float = 0.25  # the policy's PSI threshold (loop.drift_psi_above)
    alpha: float = 0.0  # the per-feature significance level: FALSE_ALARM / features


def _pooled(expected: np.ndarray, actual: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Pool the bins expected to hold fewer than ``MIN_EXPECTED`` of ``m`` window rows."""
    share = expected / max(expected.sum(), 1.0)
    rare = share * m < MIN_EXPECTED
    if rare.sum() <= 1:
        return expected, actual
    keep = ~rare
    return (
        np.r_[expected[keep], expected[rare].sum()],
        np.r_[actual[keep], actual[rare].sum()],
    )


def _ks(reference: dict[str, Any], values: list[Any]) -> tuple[float, float]:
    from scipy.stats import ks_2samp

    x = np.fromiter((_as_float(v) for v in values), float, count=len(values))
    x = x[np.isfinite(x)]
    if x.size == 0 or not reference["quantiles"]:
        return 0.0, 1.0
    # the reference's empirical distribution, rebuilt at its real size from the quantile sketch,
    # so the p-value reflects how many training rows there were (capped for speed)
    quantiles = np.asarray(reference["quantiles"], float)
    size = int(min(reference["n_finite"], REFERENCE_POINTS))
    levels = np.linspace(0, 1, quantiles.size)
    pseudo = np.interp((np.arange(size) + 0.5) / size, levels, quantiles)
    test = ks_2samp(pseudo, x)
    return float(test.statistic), float(test.pvalue)


def _chi2(expected: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    from scipy.stats import chi2_contingency

    table = np.asarray([expected, actual], float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or table[1].sum() == 0:
        return 0.0, 1.0
    statistic, p_value, _, _ = chi2_contingency(table)
    return float(statistic), float(p_value)


def compare(
    reference: dict[str, Any],
    recent: dict[str, list[Any]],
    *,
    threshold: float = 0.25,
    false_alarm: float = FALSE_ALARM,
) -> list[FeatureDrift]:
    """Each referenced feature's drift in ``recent`` (column → values), worst PSI first.

    ``drifted``: PSI above ``threshold`` and a p-value below ``false_alarm / features`` —
    chi² on the pooled bins; for numbers the smaller of chi² and KS, Bonferroni-doubled.
    """
    out = []
    alpha = false_alarm / max(len(reference), 1)
    for name, ref in reference.items():
        values = list(recent.get(name, []))
        m = len(values)
        expected, actual = _pooled(np.asarray(ref["counts"], float), bin_counts(ref, values), m)
        score = psi(expected, actual) if m else 0.0
        if ref["kind"] == "text":  # n-grams of one message move together: scale to rows
            tokens = max(actual.sum(), 1.0)
            expected = expected * (ref["rows"] / max(expected.sum(), 1.0))
            actual = actual * (m / tokens)
        test, statistic, p_value = "chi2", *_chi2(expected, actual)
        if ref["kind"] == "numeric":
            ks_statistic, ks_p = _ks(ref, values)
            if ks_p < p_value:
                test, statistic, p_value = "ks", ks_statistic, ks_p
            p_value = min(1.0, 2 * p_value)  # the better of two tests, paid for
        out.append(
            FeatureDrift(name, ref["kind"], score, test, statistic, p_value, int(ref["rows"]), m,
                         drifted=bool(m and score > threshold and p_value < alpha),
                         threshold=threshold, alpha=alpha)
        )  # fmt: skip
    return sorted(out, key=lambda d: -d.psi)


def _kinds(version: ModelVersion, text: Iterable[str]) -> dict[str, str]:
    kinds = {
        name: ("numeric" if kind == "number" else "categorical")
        for name, kind in version.input_schema.items()
        if kind not in ("image", "audio")  # files: the log keeps digests, nothing to compare
    }
    kinds.update(dict.fromkeys(text, "text"))
    return kinds


def reference_for(
    ws: Workspace, version: ModelVersion, *, text: Iterable[str] = ()
) -> dict[str, Any]:
    """The version's training reference: read from the store, or computed once and stored."""
    with reading(ws.engine) as conn:
        stored = conn.execute(
            select(drift_references.c.reference).where(drift_references.c.version == version.id)
        ).scalar()
    if isinstance(stored, dict) and all(
        isinstance(r, dict) and r.get("format") == REFERENCE_FORMAT for r in stored.values()
    ):
        return stored
    from datawheel.store.datasets import get_dataset, load_frame  # polars: only when computing

    frame = load_frame(ws, get_dataset(ws, version.dataset_id))
    kinds = {k: v for k, v in _kinds(version, text).items() if k in frame.columns}
    reference = build_reference({k: frame[k].to_list() for k in kinds}, kinds)
    try:
        with ws.engine.begin() as conn:
            if stored is not None:  # an older format: replaced in the same transaction
                conn.execute(
                    delete(drift_references).where(drift_references.c.version == version.id)
                )
            conn.execute(
                insert(drift_references).values(
                    version=version.id,
                    dataset_id=version.dataset_id,
                    reference=reference,
                    created_at=now_iso(),
                )
            )
    except IntegrityError:  # another process stored it first: same data, same reference
        pass
    return reference


def recent_features(
    ws: Workspace, version_id: str, *, limit: int, window: str | None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The inputs of the version's last ``limit`` non-shadow predictions within ``window``."""
    stmt = (
        select(predictions.c.features)
        .where(predictions.c.model_version == version_id, predictions.c.shadow.is_(False))
        .order_by(predictions.c.created_at.desc())
        .limit(limit)
    )
    cutoff = since(window, now)
    if cutoff:
        stmt = stmt.where(predictions.c.created_at >= cutoff)
    with reading(ws.engine) as conn:
        return [r[0] for r in conn.execute(stmt)]


@dataclass
class DriftReport:
    version: str
    recent: int  # rows compared
    judged: bool  # False: too few recent rows to say
    threshold: float
    features: list[FeatureDrift] = field(default_factory=list)

    @property
    def drifted(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.drifted] if self.judged else []

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drifted": [f.feature for f in self.drifted]}


def feature_drift(
    ws: Workspace,
    version: ModelVersion,
    policy: LoopConfig,
    *,
    text: Iterable[str] = (),
    now: datetime | None = None,
) -> DriftReport:
    """Per-feature drift of ``version``'s recent traffic against its training reference."""
    rows = recent_features(
        ws, version.id, limit=policy.drift_recent_requests, window=policy.drift_window, now=now
    )
    judged = len(rows) >= policy.drift_min_requests
    report = DriftReport(version.id, len(rows), judged, policy.drift_psi_above)
    if not rows:
        return report
    reference = reference_for(ws, version, text=text)
    recent = {name: [r.get(name) for r in rows] for name in reference}
    report.features = [
        FeatureDrift(**{**asdict(d), "drifted": report.judged and d.drifted})
        for d in compare(reference, recent, threshold=policy.drift_psi_above)
    ]
    return report


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_drift_lines(
    ws: Workspace,
    policy: LoopConfig,
    *,
    stages: tuple[str, ...] = ("champion", "shadow"),
    text: Iterable[str] = (),
    now: datetime | None = None,
) -> list[str]:
    """Prometheus exposition lines for the drift of the versions in ``stages``:

    ``datawheel_feature_psi{version="v2",feature="age"} 0.31`` (+ KS / chi² p-values and the
    number of recent rows compared). Reads the store only, so any process may serve it.
    """
    lines = [
        "# HELP datawheel_feature_psi PSI of a feature, training reference vs recent requests.",
        "# TYPE datawheel_feature_psi gauge",
    ]
    p_lines = [
        "# HELP datawheel_feature_drift_p_value KS (numeric) or chi-squared p-value.",
        "# TYPE datawheel_feature_drift_p_value gauge",
    ]
    n_lines = [
        "# HELP datawheel_drift_recent_rows Recent requests the drift was measured on.",
        "# TYPE datawheel_drift_recent_rows gauge",
    ]
    for version in list_versions(ws):
        if version.stage not in stages:
            continue
        report = feature_drift(ws, version, policy, text=text, now=now)
        v = _label(version.id)
        n_lines.append(f'datawheel_drift_recent_rows{{version="{v}"}} {report.recent}')
        for d in report.features:
            labels = f'version="{v}",feature="{_label(d.feature)}"'
            lines.append(f"datawheel_feature_psi{{{labels}}} {d.psi:.6g}")
            p_lines.append(
                f'datawheel_feature_drift_p_value{{{labels},test="{d.test}"}} {d.p_value:.6g}'
            )
    return lines + p_lines + n_lines
