"""Intervals that stay honest at small counts, and paired tests on the same rows.

- :func:`metric_interval`: Wilson's score interval for metrics that are plain shares
  (accuracy; binary precision and recall), a percentile bootstrap for the rest — and no
  interval at all ("n too small") when the count a metric rests on is below ``min_count``:
  4 predicted positives cannot carry a precision interval, whatever the formula says.
- :func:`paired_bootstrap`: the improvement of one set of predictions over another on the
  *same* rows, resampled jointly, so the noise the two models share cancels. It backs the
  promotion gate and the beat-the-baseline check, for any metric in ``METRICS``.

Every resample is a row of multinomial counts ``[b, n]``; metrics take them as weights
(``evaluate.metrics``), so ``b`` replicates cost a few array passes, not ``b`` metric calls.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from datawheel.errors import UsageError
from datawheel.evaluate.metrics import (
    METRICS,
    Metric,
    encode_labels,
    positive_index,
    proportion_counts,
)

__all__ = [
    "MIN_COUNT",
    "N_BOOT",
    "Interval",
    "PairedTest",
    "bootstrap_ci",
    "metric_interval",
    "paired_bootstrap",
    "resample_weights",
    "wilson_interval",
]

MIN_COUNT = 10  # fewer rows behind a metric than this: no interval, "n too small"
N_BOOT = 1000  # bootstrap replicates for an interval
N_BOOT_PAIRED = 2000  # … for a paired test (its tail quantile decides a promotion)
_CELLS = 2_000_000  # weights held at once (b × n floats, ~16 MB)


def _z(confidence: float, *, two_sided: bool = True) -> float:
    # the standard library's normal quantile: the same value as scipy.stats.norm.ppf, without
    # the second it takes to import scipy.stats on every `evaluate` and `status`
    return NormalDist().inv_cdf(1 - (1 - confidence) / (2 if two_sided else 1))


def _check_confidence(confidence: float) -> None:
    if not 0.5 <= confidence < 1:
        raise UsageError(f"confidence must be in [0.5, 1), got {confidence}")


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion: sane at 0 %, 100 % and small n."""
    if trials <= 0:
        raise UsageError(f"a proportion needs trials > 0, got {trials}")
    _check_confidence(confidence)
    z = _z(confidence)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def resample_weights(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap resamples of ``n`` rows as counts ``[b, n]`` (each row sums to ``n``), chunked.

    Drawn as ``n`` row indices per resample and counted with one ``bincount``; float32 counts
    are exact (n < 2**24) and halve the memory traffic of the metrics that read them.
    """
    rng = np.random.default_rng(seed)
    step = max(1, _CELLS // max(n, 1))
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        idx = rng.integers(0, n, size=(b, n), dtype=np.int64)  # [b, n] rows drawn
        idx += (np.arange(b, dtype=np.int64) * n)[:, None]  # one block of n counts per resample
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float32)


def _replicates(
    metric: Metric, y: np.ndarray, pred: np.ndarray, pos: int | None, n_boot: int, seed: int
) -> np.ndarray:
    return np.concatenate(
        [metric.weighted(y, pred, w, pos) for w in resample_weights(len(y), n_boot, seed)]
    )


@dataclass(frozen=True)
class Interval:
    """A metric's value and its interval, or why there is none."""

    metric: str
    value: float | None
    low: float | None
    high: float | None
    confidence: float
    method: str  # wilson | bootstrap | n too small | undefined
    support: int  # the count the value rests on …
    support_of: str  # … and what it counts ("predicted positives")
    min_count: int

    @property
    def ok(self) -> bool:
        return self.low is not None

    def text(self, digits: int = 4) -> str:
        """``0.8120 [0.7900, 0.8330]`` or ``0.8120 (n too small: 4 predicted positives < 10)``."""
        if self.value is None:
            return f"— ({self.method})"
        value = f"{self.value:.{digits}f}"
        if self.low is None or self.high is None:
            return f"{value} ({self.reason})"
        return f"{value} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    @property
    def reason(self) -> str:
        if self.method == "n too small":
            return f"n too small: {self.support} {self.support_of} < {self.min_count}"
        return self.method

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def metric_interval(
    metric: Metric,
    y: np.ndarray,
    pred: np.ndarray,
    pos: int | None = None,
    *,
    confidence: float = 0.95,
    n_boot: int = N_BOOT,
    seed: int = 0,
    min_count: int = MIN_COUNT,
) -> Interval:
    """The metric on all rows with a ``confidence`` interval valid at its count.

    Wilson for plain shares, else a percentile bootstrap (replicates where the metric is
    undefined, e.g. AUC on a resample without positives, are left out). Below ``min_count``
    rows behind the metric, the value is reported without an interval.
    """
    _check_confidence(confidence)
    if n_boot < 1:
        raise UsageError(f"n_boot must be >= 1, got {n_boot}")
    value = metric.score(y, pred, pos)
    support, support_of = metric.support(y, pred, pos)

    def result(low: float | None, high: float | None, method: str) -> Interval:
        point = None if math.isnan(value) else value
        return Interval(metric.name, point, low, high, confidence, method, support, support_of,
                        min_count)  # fmt: skip

    if math.isnan(value):
        return result(None, None, "undefined")
    if support < min_count:
        return result(None, None, "n too small")
    counts = proportion_counts(metric, pos)
    if counts is not None:
        successes, trials = counts(y, pred, pos)
        low, high = wilson_interval(successes, trials, confidence)
        return result(low, high, "wilson")
    values = _replicates(metric, y, pred, pos, n_boot, seed)
    values = values[np.isfinite(values)]
    if values.size < n_boot // 2:
        return result(None, None, "undefined")
    alpha = 1 - confidence
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return result(float(low), float(high), "bootstrap")


@dataclass(frozen=True)
class PairedTest:
    """A challenger against a reference on the same rows; > 0 always means better."""

    metric: str
    n: int
    reference: float
    challenger: float
    improvement: float  # challenger − reference, sign flipped for lower-is-better metrics
    lower: float  # one-sided lower confidence bound of the improvement
    upper: float  # one-sided upper confidence bound
    p_value: float  # bootstrap P(improvement <= 0): small = the challenger is better
    confidence: float
    replicates: int
    method: str = "paired bootstrap"

    @property
    def significant(self) -> bool:
        """Better beyond noise: the lower bound is above zero (a tie never is)."""
        return self.lower > 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant}


def paired_bootstrap(
    metric: Metric,
    y: np.ndarray,
    reference: np.ndarray,
    challenger: np.ndarray,
    pos: int | None = None,
    *,
    confidence: float = 0.95,
    n_boot: int = N_BOOT_PAIRED,
    seed: int = 0,
) -> PairedTest:
    """Resample rows once and score both prediction sets on each resample.

    ``lower`` is the ``1 - confidence`` quantile of the replicated improvements: a one-sided
    test at level ``1 - confidence`` rejects "no better" when it is above 0. Identical
    predictions give improvements of exactly 0 on every resample, so a tie is never significant.
    """
    _check_confidence(confidence)
    if n_boot < 1:
        raise UsageError(f"n_boot must be >= 1, got {n_boot}")
    if len(reference) != len(y) or len(challenger) != len(y):
        raise UsageError(
            f"paired predictions must cover the same rows: {len(y)} labels, "
            f"{len(reference)} and {len(challenger)} predictions"
        )
    sign = 1.0 if metric.higher_is_better else -1.0
    ref_value, new_value = metric.score(y, reference, pos), metric.score(y, challenger, pos)
    gain = np.concatenate(
        [
            sign * (metric.weighted(y, challenger, w, pos) - metric.weighted(y, reference, w, pos))
            for w in resample_weights(len(y), n_boot, seed)
        ]
    )
    gain = gain[np.isfinite(gain)]
    if gain.size == 0:
        lower = upper = p_value = math.nan
    else:
        lower, upper = np.quantile(gain, [1 - confidence, confidence])
        p_value = (1 + np.count_nonzero(gain <= 0)) / (gain.size + 1)
    return PairedTest(
        metric=metric.name,
        n=len(y),
        reference=ref_value,
        challenger=new_value,
        improvement=sign * (new_value - ref_value),
        lower=float(lower),
        upper=float(upper),
        p_value=float(p_value),
        confidence=confidence,
        replicates=int(gain.size),
    )


def bootstrap_ci(
    y_true: Any,
    proba: np.ndarray,
    classes: Any,
    metric: str,
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
    alpha: float = 0.05,
    positive: str | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(low, high)`` of any registered metric, from text labels
    and probabilities — the bare resampling, with no minimum count (``metric_interval`` is the
    honest report: Wilson for shares, "n too small" below ``MIN_COUNT``)."""
    if metric not in METRICS:
        raise UsageError(
            f"unknown metric {metric!r}", hint=f"use one of {', '.join(sorted(METRICS))}"
        )
    if n_boot < 1:
        raise UsageError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < alpha < 1:
        raise UsageError(f"alpha must be in (0, 1), got {alpha}")
    y, p, names = encode_labels(y_true, proba, classes)
    pos = positive_index(names, positive) if len(names) == 2 else None
    values = _replicates(METRICS[metric], y, p, pos, n_boot, seed)
    values = values[np.isfinite(values)]
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
