"""fairness_report against fairlearn, the reference implementation of the same definitions."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from datawheel.errors import DataError
from datawheel.evaluate.fairness import (
    MISSING_GROUP,
    fairness_report,
    gated_gap,
    group_gaps,
    max_gap,
)

fl = pytest.importorskip("fairlearn.metrics")
pd = pytest.importorskip("pandas")


def _case(
    seed: int, n: int = 600, no_positive_group: bool = False, no_negative_group: bool = False
):
    """Random labels and predictions over three groups; optionally one group with one label."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    y = rng.choice(["neg", "pos"], size=n, p=[0.6, 0.4])
    pred = np.where(rng.random(n) < 0.7, y, rng.choice(["neg", "pos"], size=n))
    if no_positive_group:
        y[group == "c"] = "neg"
    if no_negative_group:
        y[group == "b"] = "pos"
    return y, pred, group


def _fairlearn(y, pred, sensitive) -> dict[str, float]:
    yt, yp = (np.asarray(y) == "pos").astype(int), (np.asarray(pred) == "pos").astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on the 0/0 rates we are testing
        frame = fl.MetricFrame(
            metrics={"sr": fl.selection_rate, "tpr": fl.true_positive_rate},
            y_true=yt,
            y_pred=yp,
            sensitive_features=sensitive,
        )
        return {
            "dpd": fl.demographic_parity_difference(yt, yp, sensitive_features=sensitive),
            "dpr": fl.demographic_parity_ratio(yt, yp, sensitive_features=sensitive),
            "eod": fl.equalized_odds_difference(yt, yp, sensitive_features=sensitive),
            "sr": frame.by_group["sr"],
            "tpr": frame.by_group["tpr"],
        }


@pytest.mark.parametrize(
    ("seed", "no_pos", "no_neg"),
    [
        (0, False, False),  # every group has both labels
        (1, True, False),  # group c has no positive labels: its TPR is 0, as in fairlearn
        (2, False, True),  # group b has no negative labels: its FPR is 0, as in fairlearn
        (3, True, True),  # both at once
    ],
)
def test_fairness_report_when_random_groups_then_matches_fairlearn(seed, no_pos, no_neg) -> None:
    y, pred, group = _case(seed, no_positive_group=no_pos, no_negative_group=no_neg)
    entry = fairness_report(y, pred, {"g": group}, positive="pos")["g"]
    want = _fairlearn(y, pred, group)
    assert entry["demographic_parity_difference"] == pytest.approx(want["dpd"], abs=1e-9)
    assert entry["demographic_parity_ratio"] == pytest.approx(want["dpr"], abs=1e-9)
    assert entry["equalized_odds_difference"] == pytest.approx(want["eod"], abs=1e-9)
    for name, stats in entry["groups"].items():
        assert stats["selection_rate"] == pytest.approx(want["sr"][name], abs=1e-9)
        assert stats["tpr"] == pytest.approx(want["tpr"][name], abs=1e-9)
    if no_pos:
        assert entry["groups"]["c"]["n_positive"] == 0
        assert entry["groups"]["c"]["tpr"] == 0.0


def test_fairness_report_when_intersections_then_pairs_match_fairlearn_multi_feature() -> None:
    y, pred, group = _case(4)
    other = np.random.default_rng(9).choice(["x", "y"], size=len(y))
    report = fairness_report(y, pred, {"g": group, "h": other}, positive="pos", intersections=True)
    assert set(report) == {"g", "h", "g×h"}
    entry = report["g×h"]
    assert entry["columns"] == ["g", "h"]
    assert "a×x" in entry["groups"]
    want = _fairlearn(y, pred, pd.DataFrame({"g": group, "h": other}))
    assert entry["demographic_parity_difference"] == pytest.approx(want["dpd"], abs=1e-9)
    assert entry["equalized_odds_difference"] == pytest.approx(want["eod"], abs=1e-9)


def test_fairness_report_when_values_missing_then_grouped_as_missing() -> None:
    y = ["pos", "neg", "pos", "neg"]
    groups = {"sex": ["F", None, float("nan"), "M"]}
    entry = fairness_report(y, y, groups, positive="pos")["sex"]
    assert entry["groups"][MISSING_GROUP]["n"] == 2
    assert sorted(entry["groups"]) == sorted(["F", "M", MISSING_GROUP])


def test_fairness_report_when_no_group_selected_then_ratio_none_not_nan() -> None:
    # fairlearn returns NaN (0/0); None keeps the report strict JSON
    y, _, group = _case(5)
    report = fairness_report(y, ["neg"] * len(y), {"g": group}, positive="pos")
    assert report["g"]["demographic_parity_ratio"] is None
    assert math.isnan(_fairlearn(y, ["neg"] * len(y), group)["dpr"])
    json.dumps(report, allow_nan=False)


def test_fairness_report_when_multiclass_then_one_vs_rest_on_positive() -> None:
    rng = np.random.default_rng(6)
    y = rng.choice(["a", "b", "pos"], size=300)
    pred = rng.choice(["a", "b", "pos"], size=300)
    group = rng.choice(["u", "v"], size=300)
    entry = fairness_report(y, pred, {"g": group}, positive="pos")["g"]
    assert entry["equalized_odds_difference"] == pytest.approx(
        _fairlearn(y, pred, group)["eod"], abs=1e-9
    )


@pytest.mark.parametrize(
    ("report", "intersections", "want"),
    [
        ({}, True, 0.0),  # no sensitive columns
        (
            {
                "a": {"demographic_parity_difference": 0.1, "equalized_odds_difference": 0.3},
                "b": {"demographic_parity_difference": 0.2, "equalized_odds_difference": 0.05},
            },
            True,
            0.3,
        ),  # EO of column a dominates
        (
            {
                "a": {"demographic_parity_difference": 0.1, "equalized_odds_difference": 0.1},
                "a×b": {
                    "demographic_parity_difference": 0.5,
                    "equalized_odds_difference": 0.1,
                    "columns": ["a", "b"],
                },
            },
            False,
            0.1,
        ),  # intersections left out on request
    ],
)
def test_max_gap_when_report_then_largest_gap(report, intersections, want) -> None:
    assert max_gap(report, intersections=intersections) == pytest.approx(want)


def test_group_gaps_when_one_group_differs_then_both_ends_carry_the_gap() -> None:
    y = ["pos"] * 4 + ["neg"] * 4
    pred = ["pos"] * 4 + ["neg"] * 4
    groups = {"g": ["a", "a", "b", "b", "a", "a", "c", "c"]}
    entry = fairness_report(y, pred, groups, positive="pos")["g"]
    gaps = group_gaps(entry)
    assert max(gaps.values()) == pytest.approx(max_gap({"g": entry}))


@pytest.mark.parametrize(
    ("y_pred", "sensitive"),
    [
        (["pos"], {"g": ["a", "b"]}),  # predictions shorter than labels
        (["pos", "neg"], {"g": ["a"]}),  # sensitive column shorter than labels
    ],
)
def test_fairness_report_when_lengths_differ_then_data_error(y_pred, sensitive) -> None:
    with pytest.raises(DataError):
        fairness_report(["pos", "neg"], y_pred, sensitive, positive="pos")


def _report(n_per_group: dict[str, tuple[int, int]], seed: int = 0) -> dict:
    """A report over groups of (positives, negatives), predictions right 80 % of the time."""
    rng = np.random.default_rng(seed)
    y, group = [], []
    for g, (pos, neg) in n_per_group.items():
        y += ["pos"] * pos + ["neg"] * neg
        group += [g] * (pos + neg)
    y = np.array(y)
    pred = np.where(rng.random(len(y)) < 0.8, y, np.where(y == "pos", "neg", "pos"))
    return fairness_report(y, pred, {"sex": group}, positive="pos")


@pytest.mark.parametrize(
    ("report", "kwargs", "reason"),
    [
        ({}, {}, "no sensitive column is set"),
        ({}, {"sensitive": ["sex"]}, "not in the data"),
        (_report({"F": (10, 12), "M": (12, 14)}), {}, "no two groups"),  # all groups small
        (_report({"F": (50, 50), "M": (60, 60)}), {"predicted_classes": 1}, "predicts one class"),
    ],
)
def test_gated_gap_when_unmeasurable_then_reason_not_zero(report, kwargs, reason) -> None:
    gap = gated_gap(report, **kwargs)
    assert gap.value is None and not gap.measurable and reason in gap.reason
    assert gap.text().startswith("not measurable")


@pytest.mark.parametrize("min_size", [20, 40])
def test_gated_gap_when_min_group_size_set_then_small_groups_not_counted(min_size) -> None:
    report = _report({"F": (30, 30), "M": (200, 200), "X": (25, 25)})
    gap = gated_gap(report, min_group_size=min_size)
    if min_size == 40:
        assert gap.value is None  # only M is large enough: no pair to compare
    else:
        groups = report["sex"]["groups"]
        tpr = [groups[g]["tpr"] for g in ("F", "M", "X")]
        fpr = [groups[g]["fpr"] for g in ("F", "M", "X")]
        assert gap.value == pytest.approx(max(max(tpr) - min(tpr), max(fpr) - min(fpr)))
        assert f">= {min_size} positives" in gap.text()
        assert set(gap.gated_groups["sex"]) == {"F", "M", "X"}
