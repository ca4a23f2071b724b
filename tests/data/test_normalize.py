"""Text normalization and the fitted scaler."""

from __future__ import annotations

import polars as pl
import pytest

from datawheel.data.normalize import Scaler, normalize_text
from datawheel.errors import DataError, NotFittedError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ｈｅｌｌｏ  World", "hello world"),  # full-width letters and a double space
        ("  tab\tand\nnewline ", "tab and newline"),  # any whitespace collapses, ends trimmed
        ("Ⅻ ﬁ", "xii fi"),  # NFKC compatibility forms
        ("ideographic\u3000space", "ideographic space"),  # U+3000 is whitespace
    ],
)
def test_normalize_text_when_variants_then_canonical(raw: str, expected: str) -> None:
    assert normalize_text(pl.Series([raw])).to_list() == [expected]
    assert pl.DataFrame({"t": [raw]}).select(normalize_text(pl.col("t"))).item() == expected


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("standard", [-1.0, 0.0, 1.0, None]),  # mean 2, std 1 (sample)
        ("minmax", [0.0, 0.5, 1.0, None]),  # min 1, range 2
    ],
)
def test_scaler_when_fitted_then_transforms(method: str, expected: list) -> None:
    frame = pl.DataFrame({"a": [1, 2, 3, None], "b": ["x", "y", "z", "w"]})
    scaler = Scaler(method).fit(frame, ["a"])
    out = scaler.transform(frame)
    assert out["a"].to_list() == expected and out["b"].to_list() == frame["b"].to_list()
    again = Scaler.from_dict(scaler.to_dict()).transform(frame)
    assert again.equals(out)


def test_scaler_when_constant_column_then_scale_one() -> None:
    frame = pl.DataFrame({"a": [5.0, 5.0]})
    assert Scaler().fit_transform(frame, ["a"])["a"].to_list() == [0.0, 0.0]


def test_scaler_when_not_fitted_then_not_fitted_error() -> None:
    with pytest.raises(NotFittedError):
        Scaler().transform(pl.DataFrame({"a": [1]}))
    with pytest.raises(NotFittedError):
        Scaler().to_dict()


def test_scaler_when_column_missing_then_data_error() -> None:
    scaler = Scaler().fit(pl.DataFrame({"a": [1, 2]}), ["a"])
    with pytest.raises(DataError, match="'a'"):
        scaler.transform(pl.DataFrame({"b": [1]}))
