"""Feature drift: a training reference per model version vs recent requests (PSI, KS, chi²).

The reference is computed once per version, lazily, from the version's training set and kept
in ``drift_references``: decile bins + counts and a 101-point quantile sketch per numeric
feature (no raw rows are copied), category counts per categorical feature, top word n-grams per
text column. Recent traffic is the ``features`` of the version's last non-shadow predictions.
Missing values are left out of both sides: training data was imputed by `clean`, requests are
not, and the model imputes them the same way at inference — counting them would flag every
feature with gaps as drifted.
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
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from datawheel.config import LoopConfig
from datawheel.loop.window import since
from datawheel.registry.versions import ModelVersion, list_versions
from datawheel.store.datasets import get_dataset, load_frame
from datawheel.store.db import drift_references, now_iso, predictions, reading
from datawheel.store.workspace import Workspace

__all__ = [
    "DriftReport",
    "FeatureDrift",
    "build_reference",
    "compare",
    "feature_drift",
    "prometheus_drift_lines",
    "psi",
    "reference_for",
]

EPS = 1e-4  # floor for empty bins so PSI stays finite
OTHER = "__other__"
TOP_CATEGORIES = 50
TOP_NGRAMS = 200
REFERENCE_POINTS = 10_000
_WORD = re.compile(r"\w+", re.UNICODE)


def psi(expected: Iterable[float], actual: Iterable[float]) -> float:
    """Population stability index of two histograms over the same bins (counts or shares)."""
    e, a = np.asarray(list(expected), float), np.asarray(list(actual), float)
    if e.sum() == 0 or a.sum() == 0:
        return 0.0
    p = np.clip(e / e.sum(), EPS, None)
    q = np.clip(a / a.sum(), EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def _as_floats(values: Iterable[Any]) -> tuple[np.ndarray, int]:
    """Finite floats and how many values were missing or not numbers."""
    out, missing = [], 0
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            missing += 1
            continue
        if math.isfinite(f):
            out.append(f)
        else:
            missing += 1
    return np.asarray(out, float), missing


def _ngrams(text: Any) -> list[str]:
    words = _WORD.findall(str(text).lower()) if text is not None else []
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def _numeric_reference(values: Iterable[Any]) -> dict[str, Any]:
    x, missing = _as_floats(values)
    if x.size == 0:
        empty = {"n": 0, "edges": [], "counts": [0], "missing": missing, "quantiles": []}
        return {"kind": "numeric", **empty}
    edges = np.unique(np.quantile(x, np.linspace(0.1, 0.9, 9)))
    counts = np.bincount(np.searchsorted(edges, x, side="left"), minlength=edges.size + 1)
    return {
        "kind": "numeric",
        "n": int(x.size),
        "edges": edges.tolist(),  # bins (-inf, e0], (e0, e1], …, (e_k, inf)
        "counts": counts.tolist(),
        "missing": missing,
        "quantiles": np.quantile(x, np.linspace(0, 1, 101)).tolist(),  # the KS sketch
    }


def _counts_reference(kind: str, tokens: Iterable[str], top: int) -> dict[str, Any]:
    counts = Counter(tokens)
    kept = dict(counts.most_common(top))
    other = sum(counts.values()) - sum(kept.values())
    return {"kind": kind, "n": sum(counts.values()), "counts": {**kept, OTHER: other}}


def build_reference(columns: dict[str, list[Any]], kinds: dict[str, str]) -> dict[str, Any]:
    """The reference of each column; ``kinds`` maps column → numeric | categorical | text."""
    out: dict[str, Any] = {}
    for name, kind in kinds.items():
        values = columns.get(name, [])
        if kind == "numeric":
            out[name] = _numeric_reference(values)
        elif kind == "text":
            out[name] = _counts_reference(
                "text", (g for v in values for g in _ngrams(v)), TOP_NGRAMS
            )
        else:
            tokens = (str(v) for v in values if v is not None)
            out[name] = _counts_reference("categorical", tokens, TOP_CATEGORIES)
            out[name]["missing"] = sum(v is None for v in values)
    return out


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
    drifted: bool = False  # psi above the policy's threshold


def _compare_numeric(ref: dict[str, Any], values: list[Any]) -> tuple[float, str, float, float]:
    from scipy.stats import ks_2samp

    x, _ = _as_floats(values)
    edges = np.asarray(ref["edges"], float)
    counts = np.bincount(np.searchsorted(edges, x, side="left"), minlength=edges.size + 1)
    score = psi(ref["counts"], counts.tolist())
    if x.size == 0 or not ref["quantiles"]:
        return score, "ks", 0.0, 1.0
    # the reference's empirical distribution, rebuilt at its real size from the quantile sketch,
    # so the p-value reflects how many training rows there were (capped for speed)
    quantiles = np.asarray(ref["quantiles"], float)
    size = int(min(ref["n"], REFERENCE_POINTS))
    levels = np.linspace(0, 1, quantiles.size)
    pseudo = np.interp((np.arange(size) + 0.5) / size, levels, quantiles)
    test = ks_2samp(pseudo, x)
    return score, "ks", float(test.statistic), float(test.pvalue)


def _compare_counts(ref: dict[str, Any], tokens: list[str]) -> tuple[float, str, float, float]:
    from scipy.stats import chi2_contingency

    known = [k for k in ref["counts"] if k != OTHER]
    seen = Counter(t if t in ref["counts"] else OTHER for t in tokens)
    expected = [ref["counts"][k] for k in [*known, OTHER]]
    actual = [seen.get(k, 0) for k in [*known, OTHER]]
    score = psi(expected, actual)
    table = np.asarray([expected, actual], float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or table[1].sum() == 0:
        return score, "chi2", 0.0, 1.0
    chi2, p_value, _, _ = chi2_contingency(table)
    return score, "chi2", float(chi2), float(p_value)


def compare(reference: dict[str, Any], recent: dict[str, list[Any]]) -> list[FeatureDrift]:
    """Each referenced feature's drift in ``recent`` (column → values), worst PSI first."""
    out = []
    for name, ref in reference.items():
        values = recent.get(name, [])
        if ref["kind"] == "numeric":
            score, test, stat, p = _compare_numeric(ref, values)
            n = int(_as_floats(values)[0].size)
        elif ref["kind"] == "text":
            tokens = [g for v in values for g in _ngrams(v)]
            score, test, stat, p = _compare_counts(ref, tokens)
            n = len(values)
        else:
            present = [str(v) for v in values if v is not None]
            score, test, stat, p = _compare_counts(ref, present)
            n = len(present)
        out.append(FeatureDrift(name, ref["kind"], score, test, stat, p, ref["n"], n))
    return sorted(out, key=lambda d: -d.psi)


def _kinds(version: ModelVersion, text: Iterable[str]) -> dict[str, str]:
    kinds = {
        name: ("numeric" if kind == "number" else "categorical")
        for name, kind in version.input_schema.items()
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
    if stored is not None:
        return stored
    frame = load_frame(ws, get_dataset(ws, version.dataset_id))
    kinds = {k: v for k, v in _kinds(version, text).items() if k in frame.columns}
    reference = build_reference({k: frame[k].to_list() for k in kinds}, kinds)
    try:
        with ws.engine.begin() as conn:
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
        FeatureDrift(**{**asdict(d), "drifted": report.judged and d.psi > policy.drift_psi_above})
        for d in compare(reference, recent)
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
