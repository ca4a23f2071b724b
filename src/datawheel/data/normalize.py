"""Text normalization for comparisons, and a fitted numeric scaler (standard or min-max)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar, cast

import polars as pl

from datawheel.errors import DataError, NotFittedError

__all__ = ["Scaler", "normalize_text"]

T = TypeVar("T", pl.Expr, pl.Series)


def normalize_text(value: T, *, lowercase: bool = True) -> T:
    """NFKC, trim, collapse inner whitespace, lower-case: equal text compares equal.

    NFKC folds full-width and compatibility forms ('Ｈｅｌｌｏ' -> 'Hello'). Lower-casing is
    Unicode ``to_lowercase``, close to but not exactly ``str.casefold`` ('ß' stays 'ß').
    """
    out = value.str.normalize("NFKC").str.strip_chars().str.replace_all(r"\s+", " ")
    return out.str.to_lowercase() if lowercase else out


class Scaler:
    """Standardize (``standard``: (x - mean) / std) or rescale (``minmax``: to [0, 1]).

    scikit-learn style: ``__init__`` stores the method, ``fit`` learns ``params_``
    (column -> (center, scale)), ``transform`` before ``fit`` raises NotFittedError.
    A constant column gets scale 1, so it maps to 0 instead of dividing by zero.
    """

    def __init__(self, method: Literal["standard", "minmax"] = "standard"):
        if method not in ("standard", "minmax"):
            raise DataError(f"scaler method must be 'standard' or 'minmax', got {method!r}")
        self.method = method

    def fit(self, frame: pl.DataFrame, columns: Sequence[str]) -> Scaler:
        """Learn each column's center and scale, ignoring missing values."""
        params: dict[str, tuple[float, float]] = {}
        for name in columns:
            _require(frame, name)
            values = frame[name].cast(pl.Float64, strict=False).drop_nulls().drop_nans()
            # a Float64 column's statistics are floats, or None when it is empty
            if self.method == "standard":
                center = cast(float | None, values.mean())
                spread = cast(float | None, values.std())
            else:
                center = low = cast(float | None, values.min())
                high = cast(float | None, values.max())
                spread = None if low is None or high is None else high - low
            params[name] = (
                0.0 if center is None else float(center),
                float(spread) if spread else 1.0,
            )
        self.params_ = params
        return self

    def _params(self) -> dict[str, tuple[float, float]]:
        params = getattr(self, "params_", None)
        if params is None:
            raise NotFittedError("Scaler is not fitted", hint="call fit(frame, columns) first")
        return params

    def transform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Scale the fitted columns to Float64; other columns pass through."""
        params = self._params()
        for name in params:
            _require(frame, name)
        return frame.with_columns(
            ((pl.col(name).cast(pl.Float64) - center) / scale).alias(name)
            for name, (center, scale) in params.items()
        )

    def fit_transform(self, frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
        return self.fit(frame, columns).transform(frame)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description, saved with the model so serving scales the same way."""
        params = self._params()
        return {
            "method": self.method,
            "params": {name: [center, scale] for name, (center, scale) in params.items()},
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Scaler:
        scaler = cls(spec["method"])
        scaler.params_ = {name: (float(c), float(s)) for name, (c, s) in spec["params"].items()}
        return scaler


def _require(frame: pl.DataFrame, name: str) -> None:
    if name not in frame.columns:
        raise DataError(
            f"column {name!r} is not in the table",
            where=name,
            hint=f"available columns: {', '.join(frame.columns)}",
        )
