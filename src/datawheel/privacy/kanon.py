"""k-anonymity and l-diversity: measure them on a table, and enforce them by generalizing and
suppressing quasi-identifiers.

An *equivalence class* is the set of rows sharing one combination of quasi-identifier values; a
table is k-anonymous when every class has at least k rows, and l-diverse (distinct l-diversity)
when every class holds at least l distinct values of the sensitive column.
"""

# ruff: noqa: E741 — `l` is the letter of l-diversity
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import polars as pl

from datawheel.errors import DataError, UsageError

__all__ = ["EnforceReport", "KAnonReport", "check_k_anonymity", "enforce_k_anonymity"]

SUPPRESSED = "*"
_SIZE, _DISTINCT = "__dw_size", "__dw_distinct"


@dataclass(frozen=True)
class KAnonReport:
    """How anonymous a table is with respect to its quasi-identifiers."""

    quasi: list[str]
    k: int  # required
    k_achieved: int  # size of the smallest equivalence class (0 for an empty table)
    rows: int
    classes: int  # equivalence classes
    smallest_size: int
    smallest_count: int  # how many classes have the smallest size
    violating_classes: int  # classes smaller than k
    violating_rows: int  # rows in those classes
    sensitive: str | None = None
    l: int | None = None
    l_achieved: int | None = None  # fewest distinct sensitive values in one class
    l_violating_classes: int | None = None

    @property
    def satisfied(self) -> bool:
        k_ok = self.violating_classes == 0
        return k_ok and (self.l is None or self.l_violating_classes == 0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "satisfied": self.satisfied}


@dataclass(frozen=True)
class EnforceReport:
    """What enforcing cost: rows suppressed and how far each quasi-identifier was generalized."""

    k: int
    l: int | None  # the letter the literature uses
    rows_in: int
    rows_out: int
    rows_suppressed: int
    widened: dict[str, int]  # column → generalization steps taken (0 = kept as is)
    generalization: dict[str, str]  # column → what it became, e.g. "bins of width 20"
    before: KAnonReport
    after: KAnonReport
    information_loss: dict[str, float] = field(default_factory=dict)  # column → steps / max

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["before"], out["after"] = self.before.to_dict(), self.after.to_dict()
        return out


def _validate(
    frame: pl.DataFrame, quasi: Sequence[str], k: int, sensitive: str | None, l: int | None
) -> list[str]:
    quasi = [q.strip() for q in quasi if q.strip()]
    if not quasi:
        raise UsageError("name at least one quasi-identifier", hint="e.g. --quasi age,zip,sex")
    if k < 1:
        raise UsageError(f"k must be >= 1, got {k}")
    missing = [c for c in [*quasi, *([sensitive] if sensitive else [])] if c not in frame.columns]
    if missing:
        raise DataError(
            f"no column {missing[0]!r} in the data", hint=f"columns: {', '.join(frame.columns)}"
        )
    if l is not None and (l < 1 or sensitive is None):
        raise UsageError(
            f"l-diversity needs a sensitive column and l >= 1, got l={l}, sensitive={sensitive}",
            hint="pass --sensitive COLUMN --l 2",
        )
    if sensitive in quasi:
        raise UsageError(f"{sensitive!r} cannot be both quasi-identifier and sensitive")
    return quasi


def _classes(frame: pl.DataFrame, quasi: list[str], sensitive: str | None) -> pl.DataFrame:
    aggs = [pl.len().alias(_SIZE)]
    if sensitive:
        aggs.append(pl.col(sensitive).n_unique().alias(_DISTINCT))
    return frame.group_by(quasi).agg(aggs)


def _report(
    frame: pl.DataFrame, quasi: list[str], k: int, sensitive: str | None, l: int | None
) -> KAnonReport:
    classes = _classes(frame, quasi, sensitive)
    sizes = classes[_SIZE]
    smallest = int(sizes.min()) if classes.height else 0  # type: ignore[arg-type]
    small = classes.filter(pl.col(_SIZE) < k)
    l_achieved = l_bad = None
    if sensitive:
        distinct = classes[_DISTINCT]
        l_achieved = int(distinct.min()) if classes.height else 0  # type: ignore[arg-type]
        l_bad = int((distinct < l).sum()) if l is not None else None
    return KAnonReport(
        quasi=quasi,
        k=k,
        k_achieved=smallest,
        rows=frame.height,
        classes=classes.height,
        smallest_size=smallest,
        smallest_count=int((sizes == smallest).sum()) if classes.height else 0,
        violating_classes=small.height,
        violating_rows=int(small[_SIZE].sum()),
        sensitive=sensitive,
        l=l,
        l_achieved=l_achieved,
        l_violating_classes=l_bad,
    )


def check_k_anonymity(
    frame: pl.DataFrame,
    quasi: Sequence[str],
    k: int,
    *,
    sensitive: str | None = None,
    l: int | None = None,
) -> KAnonReport:
    """Measure k (and distinct l-diversity of ``sensitive`` when given) over ``quasi``.

    >>> df = pl.DataFrame({"age": [30, 30, 41], "zip": ["941", "941", "100"]})
    >>> check_k_anonymity(df, ["age", "zip"], 2).k_achieved
    1
    """
    quasi = _validate(frame, quasi, k, sensitive, l)
    return _report(frame, quasi, k, sensitive, l)


# -- enforcement ------------------------------------------------------------------------------


def _nice(x: float) -> float:
    """The smallest 1, 2 or 5 × 10^n at or above ``x``."""
    if x <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(x))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= x - 1e-12)


@dataclass(frozen=True)
class _Step:
    expr: pl.Expr
    label: str


def _numeric_ladder(frame: pl.DataFrame, column: str, width: float | None) -> list[_Step]:
    series = frame[column].drop_nulls().cast(pl.Float64).drop_nans()
    steps = [_Step(pl.col(column), "kept")]
    if series.is_empty():
        return [*steps, _Step(pl.lit(SUPPRESSED), "suppressed")]
    low, high = float(series.min()), float(series.max())  # type: ignore[arg-type]
    span = max(high - low, 1e-9)
    w = width or _nice(span / 20)
    integral = frame[column].dtype.is_integer() and float(w).is_integer()
    while True:
        steps.append(_Step(_bin(column, w, integral), f"bins of width {w:g}"))
        if w > span:  # one bin holds everything: the next step would say nothing new
            break
        w *= 2
    return [*steps, _Step(pl.lit(SUPPRESSED), "suppressed")]


def _bin(column: str, w: float, integral: bool) -> pl.Expr:
    lo = (pl.col(column).cast(pl.Float64) / w).floor() * w
    if integral:
        lo_i = lo.cast(pl.Int64)
        return pl.format("{}-{}", lo_i, lo_i + int(w) - 1)
    return pl.format("[{}, {})", lo.round(6), (lo + w).round(6))


def _string_ladder(frame: pl.DataFrame, column: str) -> list[_Step]:
    text = pl.col(column).cast(pl.String)
    longest = cast(int | None, frame[column].cast(pl.String).str.len_chars().max()) or 0
    prefixes = list(range(longest - 1, 0, -1))
    if len(prefixes) > 8:  # long strings: halve instead of peeling one character at a time
        prefixes = sorted({max(1, longest >> i) for i in range(1, 8)}, reverse=True)
    steps = [_Step(pl.col(column), "kept")]
    for p in prefixes:
        # keep the first p characters, the rest as "*" (94110 → 941**), as the operator does
        truncated = text.str.slice(0, p).str.pad_end(text.str.len_chars(), SUPPRESSED)
        steps.append(_Step(truncated, f"first {p} characters kept"))
    return [*steps, _Step(pl.lit(SUPPRESSED), "suppressed")]


def _ladder(frame: pl.DataFrame, column: str, width: float | None) -> list[_Step]:
    if frame[column].dtype.is_numeric():
        return _numeric_ladder(frame, column, width)
    return _string_ladder(frame, column)


def _violating_mask(
    frame: pl.DataFrame, quasi: list[str], k: int, sensitive: str | None, l: int | None
) -> pl.Expr:
    bad = pl.len().over(quasi) < k
    if sensitive and l is not None:
        bad = bad | (pl.col(sensitive).n_unique().over(quasi) < l)
    return bad


def _violating_rows(
    frame: pl.DataFrame, quasi: list[str], k: int, sensitive: str | None, l: int | None
) -> int:
    classes = _classes(frame, quasi, sensitive)
    bad = pl.col(_SIZE) < k
    if sensitive and l is not None:
        bad = bad | (pl.col(_DISTINCT) < l)
    return int(classes.filter(bad)[_SIZE].sum())


def enforce_k_anonymity(
    frame: pl.DataFrame,
    quasi: Sequence[str],
    k: int,
    *,
    sensitive: str | None = None,
    l: int | None = None,
    max_suppression: float = 0.05,
    widths: Mapping[str, float] | None = None,
) -> tuple[pl.DataFrame, EnforceReport]:
    """Generalize quasi-identifiers step by step, then suppress the rows still in small classes.

    Numeric columns become bins of widening width (``widths[col]``, default a round number
    near range / 20, doubled at each step: 5 → 10 → 20 …); other columns are truncated one
    character at a time (``94110`` → ``9411*`` → ``941**`` …); the last step of each is ``*``.
    At each step the column whose next step leaves the fewest rows in violating classes is
    widened, until at most ``max_suppression`` of the rows violate; those rows are removed.
    The result is k-anonymous (and l-diverse) by construction. Row order is kept.
    """
    quasi = _validate(frame, quasi, k, sensitive, l)
    if not 0.0 <= max_suppression <= 1.0:
        raise UsageError(f"max_suppression must be in [0, 1], got {max_suppression}")
    before = _report(frame, quasi, k, sensitive, l)
    ladders = {c: _ladder(frame, c, (widths or {}).get(c)) for c in quasi}
    levels = dict.fromkeys(quasi, 0)

    def at(lv: Mapping[str, int]) -> pl.DataFrame:
        return frame.with_columns(ladders[c][lv[c]].expr.alias(c) for c in quasi if lv[c])

    budget = math.floor(max_suppression * frame.height)
    current = frame
    violating = _violating_rows(frame, quasi, k, sensitive, l)
    while violating > budget:
        options = []
        for c in quasi:
            if levels[c] + 1 < len(ladders[c]):
                trial = {**levels, c: levels[c] + 1}
                options.append((_violating_rows(at(trial), quasi, k, sensitive, l), levels[c], c))
        if not options:
            break
        violating, _, chosen = min(options)
        levels[chosen] += 1
        current = at(levels)
    out = current.filter(~_violating_mask(current, quasi, k, sensitive, l))
    after = _report(out, quasi, k, sensitive, l)
    return out, EnforceReport(
        k=k,
        l=l,
        rows_in=frame.height,
        rows_out=out.height,
        rows_suppressed=frame.height - out.height,
        widened=dict(levels),
        generalization={c: ladders[c][levels[c]].label for c in quasi},
        before=before,
        after=after,
        information_loss={c: round(levels[c] / (len(ladders[c]) - 1), 4) for c in quasi},
    )
