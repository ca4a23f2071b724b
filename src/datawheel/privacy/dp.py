"""Differentially private counts, sums and means by group, with OpenDP's mechanisms.

Privacy unit: one subject. With ``id_column`` each subject keeps at most ``max_contributions``
rows (the first ones), so one person moves any figure by a bounded amount; without it, one row
is one subject. The budget ``epsilon`` (and ``delta``) is split evenly over the releases a
query needs: the group counts (also used by means and, with ``delta``, to choose which groups
are released at all) and one sum per measured column. Groups are disjoint, so the per-group sums
of one column together cost what one group's sum costs (parallel composition).

Group keys are public only when the caller lists them (``public_keys``): their presence says
nothing about anyone. Otherwise a positive ``delta`` releases the groups whose noisy count
clears a threshold (OpenDP's Laplace-threshold mechanism); small groups are then not shown.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from datawheel.errors import MissingDependencyError, UsageError

__all__ = ["DPRelease", "Measure", "check_query", "dp_aggregate", "parse_measures"]


@dataclass(frozen=True)
class Measure:
    kind: str  # count | sum | mean
    column: str | None = None

    @property
    def name(self) -> str:
        return self.kind if self.column is None else f"{self.kind}_{self.column}"


@dataclass
class DPRelease:
    """The noisy figures with their accuracy: with probability 1 - alpha each true value lies
    within ± accuracy of the released one (for means: the stated interval)."""

    group_by: list[str]
    measures: list[str]
    rows: list[dict[str, Any]]
    epsilon: float
    delta: float
    alpha: float
    max_contributions: int
    keys: str  # "public" or "released above a noisy threshold" or "none"
    scales: dict[str, float] = field(default_factory=dict)
    suppressed_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_measures(text: str) -> list[Measure]:
    """``count,sum:income,mean:age`` → measures; an unknown kind is a UsageError."""
    out: list[Measure] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        kind, _, column = part.partition(":")
        if kind == "count" and not column:
            out.append(Measure("count"))
        elif kind in ("sum", "mean") and column:
            out.append(Measure(kind, column))
        else:
            raise UsageError(
                f"unknown measure {part!r}",
                hint="use count, sum:COLUMN or mean:COLUMN, comma-separated",
            )
    if not out:
        raise UsageError("no measure given", hint="e.g. --measure count,mean:age")
    return list(dict.fromkeys(out))


def _opendp() -> Any:
    try:
        import opendp.prelude as dp
    except ImportError:
        raise MissingDependencyError("opendp", "share", purpose="differential privacy") from None
    dp.enable_features("contrib")
    return dp


def _validate(
    frame: pl.DataFrame,
    group_by: Sequence[str],
    measures: Sequence[Measure],
    epsilon: float,
    delta: float,
    bounds: Mapping[str, tuple[float, float]],
) -> None:
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise UsageError(f"epsilon must be a positive number, got {epsilon}")
    if not 0.0 <= delta < 1.0:
        raise UsageError(f"delta must be in [0, 1), got {delta}")
    columns = set(group_by) | {m.column for m in measures if m.column}
    missing = sorted(columns - set(frame.columns))
    if missing:
        raise UsageError(
            f"not in the data: {', '.join(missing)}", hint=f"columns: {', '.join(frame.columns)}"
        )
    for m in measures:
        if m.column is None:
            continue
        if m.column not in bounds:
            raise UsageError(
                f"{m.name} needs public bounds for {m.column!r}",
                hint=f"pass --bounds {m.column}=LOW:HIGH (values outside are clamped; choose them "
                "from domain knowledge, not from the data)",
            )
        lo, hi = bounds[m.column]
        if not lo < hi:
            raise UsageError(f"bounds for {m.column!r} must have LOW < HIGH, got {lo}:{hi}")
        if not frame[m.column].dtype.is_numeric():
            raise UsageError(f"{m.name}: column {m.column!r} is not numeric")


def _truncate(frame: pl.DataFrame, id_column: str | None, max_contributions: int) -> pl.DataFrame:
    if id_column is None:
        return frame
    if id_column not in frame.columns:
        raise UsageError(f"id column {id_column!r} is not in the data")
    rank = pl.int_range(pl.len()).over(id_column)
    return frame.filter(rank < max_contributions)


def _keys_of(frame: pl.DataFrame, group_by: Sequence[str]) -> list[str]:
    if not group_by:
        return ["[]"] * frame.height
    values = frame.select([pl.col(c).cast(pl.String) for c in group_by]).rows()
    return [json.dumps(list(v), ensure_ascii=False) for v in values]


# Each noise scale depends only on the budget share, the contribution bound and the bounds: it
# is found once by OpenDP's binary search over the mechanism's own privacy map, then reused.


@functools.lru_cache(maxsize=256)
def _count_scale(eps_share: float, d_in: int) -> float:
    dp = _opendp()
    space = dp.t.make_count_by_categories(
        dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance(), categories=["a"]
    )
    return float(
        dp.binary_search_param(
            lambda s: space >> dp.m.then_laplace(scale=s), d_in=d_in, d_out=eps_share
        )
    )


def _sum_space(lo: float, hi: float) -> Any:
    dp = _opendp()
    domain = (dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.symmetric_distance())
    return domain >> dp.t.then_clamp((lo, hi)) >> dp.t.then_sum()


@functools.lru_cache(maxsize=256)
def _sum_scale(lo: float, hi: float, eps_share: float, d_in: int) -> float:
    dp = _opendp()
    space = _sum_space(lo, hi)
    return float(
        dp.binary_search_param(
            lambda s: space >> dp.m.then_laplace(scale=s), d_in=d_in, d_out=eps_share
        )
    )


@functools.lru_cache(maxsize=256)
def _threshold_params(eps_share: float, delta: float, d_in: int) -> tuple[float, int]:
    """The smallest noise whose epsilon fits the share, then the lowest threshold whose delta
    fits: OpenDP's privacy maps decide both; we only search."""
    dp = _opendp()
    space = dp.t.make_count_by(dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance())

    def made(scale: float, threshold: int) -> Any:
        return space >> dp.m.then_laplace_threshold(scale=scale, threshold=threshold)

    scale = dp.binary_search(
        lambda s: made(s, 2**31 - 1).map(d_in)[0] <= eps_share, bounds=(1e-6, 1e9)
    )
    threshold = dp.binary_search(
        lambda t: made(scale, t).map(d_in)[1] <= delta, bounds=(d_in, 2**31 - 1), T=int
    )
    return float(scale), int(threshold)


def _key_mode(
    group_by: Sequence[str], public_keys: Mapping[str, Sequence[Any]] | None, delta: float
) -> tuple[str, list[str]]:
    """How the groups are known: none, listed as public, or released above a noisy threshold."""
    if not group_by:
        return "none", ["[]"]
    if public_keys and all(c in public_keys for c in group_by):
        product = itertools.product(*[[str(v) for v in public_keys[c]] for c in group_by])
        return "public", [json.dumps(list(t), ensure_ascii=False) for t in product]
    if delta > 0:
        return "released above a noisy threshold", []
    raise UsageError(
        "the groups themselves would reveal who is in the data",
        hint="pass --delta (e.g. 1e-6) to release only groups above a noisy threshold, or "
        "list the public values of each grouping column with --keys COL=A|B|C",
    )


def check_query(
    frame: pl.DataFrame,
    *,
    group_by: Sequence[str],
    measures: Sequence[Measure],
    epsilon: float,
    delta: float = 0.0,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    public_keys: Mapping[str, Sequence[Any]] | None = None,
) -> None:
    """Raise the UsageError ``dp_aggregate`` would, before any budget is spent."""
    _validate(frame, group_by, measures, epsilon, delta, dict(bounds or {}))
    _key_mode(group_by, public_keys, delta)


def dp_aggregate(
    frame: pl.DataFrame,
    *,
    group_by: Sequence[str],
    measures: Sequence[Measure],
    epsilon: float,
    delta: float = 0.0,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    public_keys: Mapping[str, Sequence[Any]] | None = None,
    id_column: str | None = None,
    max_contributions: int = 1,
    alpha: float = 0.05,
) -> DPRelease:
    """Release DP figures by group; see the module docstring for the accounting."""
    bounds = dict(bounds or {})
    _validate(frame, group_by, measures, epsilon, delta, bounds)
    if max_contributions < 1:
        raise UsageError(f"max_contributions must be >= 1, got {max_contributions}")
    dp = _opendp()
    frame = _truncate(frame, id_column, max_contributions)
    keys_of_rows = _keys_of(frame, group_by)
    d_in = max_contributions

    key_mode, candidate_keys = _key_mode(group_by, public_keys, delta)

    sum_columns = list(dict.fromkeys(m.column for m in measures if m.column))
    need_counts = key_mode.startswith("released") or any(
        m.kind in ("count", "mean") for m in measures
    )
    shares = int(need_counts) + len(sum_columns)
    eps_share = epsilon / shares
    release = DPRelease(
        group_by=list(group_by),
        measures=[m.name for m in measures],
        rows=[],
        epsilon=epsilon,
        delta=delta if key_mode.startswith("released") else 0.0,
        alpha=alpha,
        max_contributions=max_contributions,
        keys=key_mode,
    )

    counts: dict[str, float] = {}
    count_accuracy = 0.0
    count_alpha = alpha / 2 if any(m.kind == "mean" for m in measures) else alpha
    if key_mode.startswith("released"):
        scale, threshold = _threshold_params(eps_share, delta, d_in)
        space = dp.t.make_count_by(dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance())
        measurement = space >> dp.m.then_laplace_threshold(scale=scale, threshold=threshold)
        counts = {k: float(v) for k, v in measurement(keys_of_rows).items()}
        candidate_keys = sorted(counts)
        count_accuracy = dp.discrete_laplacian_scale_to_accuracy(scale, count_alpha)
        release.scales["count"] = scale
        release.suppressed_note = f"groups whose noisy count is below {threshold} are not released"
    elif need_counts:
        space = dp.t.make_count_by_categories(
            dp.vector_domain(dp.atom_domain(T=str)),
            dp.symmetric_distance(),
            categories=candidate_keys,
            null_category=False,
        )
        scale = _count_scale(eps_share, d_in)
        noisy = (space >> dp.m.then_laplace(scale=scale))(keys_of_rows)
        counts = {k: float(v) for k, v in zip(candidate_keys, noisy, strict=True)}
        count_accuracy = dp.discrete_laplacian_scale_to_accuracy(scale, count_alpha)
        release.scales["count"] = scale

    sums: dict[str, dict[str, float]] = {}
    sum_accuracy: dict[str, float] = {}
    for column in sum_columns:
        lo, hi = (float(b) for b in bounds[column])
        scale = _sum_scale(lo, hi, eps_share, d_in)
        measurement = _sum_space(lo, hi) >> dp.m.then_laplace(scale=scale)
        values = frame[column].cast(pl.Float64)
        fill = (lo + hi) / 2  # a missing value counts as the middle of the public range
        by_key: dict[str, list[float]] = {k: [] for k in candidate_keys}
        for key, value in zip(keys_of_rows, values.to_list(), strict=True):
            if key in by_key:
                by_key[key].append(fill if value is None or math.isnan(value) else value)
        sums[column] = {k: float(measurement(v)) for k, v in by_key.items()}
        sum_alpha = alpha / 2 if Measure("mean", column) in measures else alpha
        sum_accuracy[column] = dp.laplacian_scale_to_accuracy(scale, sum_alpha)
        release.scales[f"sum_{column}"] = scale

    for key in candidate_keys:
        row: dict[str, Any] = dict(zip(group_by, json.loads(key), strict=True))
        for m in measures:
            if m.kind == "count":
                row["count"] = max(0.0, counts[key])
                row["count_accuracy"] = count_accuracy
            elif m.kind == "sum":
                row[m.name] = sums[m.column][key]  # type: ignore[index]
                row[f"{m.name}_accuracy"] = sum_accuracy[m.column]  # type: ignore[index]
            else:
                lo, hi = bounds[m.column]  # type: ignore[index]
                total, n = sums[m.column][key], counts[key]  # type: ignore[index]
                a_s, a_c = sum_accuracy[m.column], count_accuracy  # type: ignore[index]
                mean = min(hi, max(lo, total / n)) if n >= 1 else None
                ends = [
                    (total + e) / (n + f) for e in (-a_s, a_s) for f in (-a_c, a_c) if n + f > 0
                ]
                low = max(lo, min(ends)) if n - a_c > 0 else lo
                high = min(hi, max(ends)) if n - a_c > 0 else hi
                row[m.name] = mean
                row[f"{m.name}_interval"] = [low, high]
        release.rows.append(row)
    return release
