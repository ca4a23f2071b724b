"""k-anonymity and l-diversity: measured exactly, and enforced by generalizing and suppressing."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from datawheel.errors import DataError, UsageError
from datawheel.privacy.kanon import check_k_anonymity, enforce_k_anonymity

SMALL = pl.DataFrame(
    {
        "age": [30, 30, 30, 41, 41, 52],
        "zip": ["94110", "94110", "94110", "10001", "10001", "60601"],
        "disease": ["flu", "flu", "cold", "flu", "flu", "cold"],
    }
)


@pytest.mark.parametrize(
    ("quasi", "k", "sensitive", "l", "expect"),
    [
        # classes 3, 2, 1: k achieved 1, one class of size 1 violates k=2
        (["age", "zip"], 2, None, None, {"k_achieved": 1, "classes": 3, "smallest_count": 1,
                                         "violating_classes": 1, "violating_rows": 1}),
        # k=1 always holds
        (["age", "zip"], 1, None, None, {"k_achieved": 1, "violating_classes": 0}),
        # one quasi-identifier: zip alone gives the same classes
        (["zip"], 3, None, None, {"k_achieved": 1, "violating_classes": 2, "violating_rows": 3}),
        # l-diversity: the (41, 10001) class has only "flu"
        (["age", "zip"], 1, "disease", 2, {"l_achieved": 1, "l_violating_classes": 2}),
    ],
)  # fmt: skip
def test_check_when_table_then_exact_counts(quasi, k, sensitive, l, expect):  # noqa: E741
    report = check_k_anonymity(SMALL, quasi, k, sensitive=sensitive, l=l)
    for name, value in expect.items():
        assert getattr(report, name) == value, name
    assert report.satisfied == (report.violating_classes == 0 and not report.l_violating_classes)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"quasi": [], "k": 2}, UsageError),  # no quasi-identifier
        ({"quasi": ["age"], "k": 0}, UsageError),  # k < 1
        ({"quasi": ["height"], "k": 2}, DataError),  # unknown column
        ({"quasi": ["age"], "k": 2, "l": 2}, UsageError),  # l without a sensitive column
        ({"quasi": ["age"], "k": 2, "sensitive": "age", "l": 2}, UsageError),  # both roles
    ],
)
def test_check_when_bad_arguments_then_usage_error(kwargs, error):
    with pytest.raises(error):
        check_k_anonymity(SMALL, **kwargs)


def _people(n: int = 3000, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "age": rng.integers(17, 91, n),
            "zip": [f"{z:05d}" for z in rng.integers(10000, 99999, n)],
            "sex": rng.choice(["F", "M"], n),
            "diagnosis": rng.choice(["a", "b", "c", "d"], n),
            "row": np.arange(n),
        }
    )


@pytest.mark.parametrize(
    ("k", "l", "max_suppression"),
    [
        (5, None, 0.05),  # the usual case
        (20, None, 0.0),  # no suppression budget: generalize until k holds everywhere
        (5, 3, 0.05),  # with l-diversity on the diagnosis
        (4000, None, 0.05),  # k larger than the table: everything is suppressed
    ],
)
def test_enforce_when_done_then_k_holds_and_losses_reported(k, l, max_suppression):  # noqa: E741
    frame = _people()
    sensitive = "diagnosis" if l else None
    out, report = enforce_k_anonymity(
        frame, ["age", "zip", "sex"], k, sensitive=sensitive, l=l, max_suppression=max_suppression
    )
    again = check_k_anonymity(out, ["age", "zip", "sex"], k, sensitive=sensitive, l=l)
    assert again.satisfied and report.after.satisfied and not report.before.satisfied
    assert report.rows_out == out.height == frame.height - report.rows_suppressed
    assert out["row"].is_sorted()  # row order kept
    assert sum(report.widened.values()) > 0
    if k <= 20:
        assert report.rows_suppressed <= max_suppression * frame.height
    else:
        assert out.height == 0


def test_enforce_when_numeric_then_bins_widen_5_10_20(secret_key):
    frame = pl.DataFrame({"age": list(range(20, 80)) * 2})
    out, report = enforce_k_anonymity(frame, ["age"], 8, widths={"age": 5}, max_suppression=0)
    assert report.generalization["age"] == "bins of width 5"  # 5 equal ages x 2 copies = 10 >= 8
    assert out["age"][0] == "20-24"
    _, wider = enforce_k_anonymity(frame, ["age"], 12, widths={"age": 5}, max_suppression=0)
    assert wider.generalization["age"] == "bins of width 10" and wider.widened["age"] == 2


def test_enforce_when_strings_then_truncated_then_starred():
    frame = pl.DataFrame({"zip": ["94110", "94112", "94131", "94132", "10001"]})
    out, report = enforce_k_anonymity(frame, ["zip"], 2, max_suppression=0.2)  # 1 row may go
    assert out["zip"].to_list() == ["9411*", "9411*", "9413*", "9413*"]
    assert report.rows_suppressed == 1 and report.generalization["zip"] == "first 4 characters kept"
    out, report = enforce_k_anonymity(frame, ["zip"], 2, max_suppression=0.0)  # none may go
    assert out["zip"].to_list() == ["*"] * 5 and report.generalization["zip"] == "suppressed"
