"""Drift: both sides binned alike (missing and unseen as bins), thresholds that know the window
size, a false-alarm rate under 1 % on undrifted traffic, the stored reference, Prometheus."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from datawheel.loop.drift import (
    bin_counts,
    build_reference,
    compare,
    feature_drift,
    prometheus_drift_lines,
)
from datawheel.registry.versions import get_version
from datawheel.store.db import drift_references

from .helpers import NOW, income_rows, serve_and_label

RNG = np.random.default_rng(0)
SAME = RNG.normal(40, 10, 5000).tolist()


@pytest.mark.parametrize(
    ("recent", "psi_low", "psi_high", "p_small"),
    [
        (RNG.normal(40, 10, 2000).tolist(), 0.0, 0.02, False),  # same distribution
        (RNG.normal(55, 10, 2000).tolist(), 0.5, 99.0, True),  # mean shifted by 1.5 sd
        (RNG.normal(40, 20, 2000).tolist(), 0.2, 99.0, True),  # twice the spread
    ],
)
def test_compare_when_numeric_sample_then_psi_and_ks(recent, psi_low, psi_high, p_small):
    reference = build_reference({"age": SAME}, {"age": "numeric"})
    (d,) = compare(reference, {"age": recent})
    assert psi_low <= d.psi <= psi_high
    assert d.test in ("ks", "chi2") and (d.p_value < 0.001) == p_small
    assert d.drifted == (p_small and d.psi > 0.25)


@pytest.mark.parametrize(
    ("recent", "psi_high", "shifted"),
    [
        (["a"] * 500 + ["b"] * 300 + ["c"] * 200, 0.02, False),  # same shares
        (["a"] * 200 + ["b"] * 300 + ["c"] * 500, 99.0, True),  # a and c swapped
        (["a"] * 500 + ["z"] * 500, 99.0, True),  # an unseen category
    ],
)
def test_compare_when_categorical_sample_then_psi_and_chi2(recent, psi_high, shifted):
    train = ["a"] * 5000 + ["b"] * 3000 + ["c"] * 2000 + [None] * 100
    reference = build_reference({"job": train}, {"job": "categorical"})
    (d,) = compare(reference, {"job": recent + [None] * 10})  # the same share missing (1 %)
    assert d.test == "chi2" and d.psi <= psi_high
    assert (d.psi > 0.25) == shifted and (d.p_value < 0.001) == shifted
    assert d.drifted == shifted


def test_bin_counts_when_missing_and_unseen_then_their_own_bins_on_both_sides():
    reference = build_reference(
        {"job": ["a", "a", "b", None], "age": [20, None, 40, 60]},
        {"job": "categorical", "age": "numeric"},
    )
    # categorical: top categories, then other-known, unseen, missing
    assert reference["job"]["counts"] == [2, 1, 0, 0, 1]
    assert bin_counts(reference["job"], ["b", "z", None, None]).tolist() == [0, 1, 0, 1, 2]
    # numeric: the training deciles, then missing (None, NaN, blank, not a number)
    counts = bin_counts(reference["age"], [25, None, float("nan"), "", "n/a"])
    assert counts[-1] == 4 and counts.sum() == 5
    assert reference["age"]["counts"][-1] == 1  # the reference's own gap, before any filling


def test_compare_when_missing_share_rises_then_that_is_drift_not_hidden():
    train = list(RNG.normal(40, 10, 5000))
    reference = build_reference({"x": train}, {"x": "numeric"})
    recent = list(RNG.normal(40, 10, 700)) + [None] * 300  # 30 % missing, none in training
    (d,) = compare(reference, {"x": recent})
    assert d.drifted and d.psi > 0.25


@pytest.mark.parametrize("window", [50, 200])
def test_compare_when_wide_categorical_in_small_windows_then_noise_is_not_drift(window):
    # 40 categories of skewed shares: a small window's PSI is large by chance alone,
    # and the threshold must know it
    shares = np.r_[np.full(5, 0.12), np.full(35, 0.4 / 35)]
    cats = [f"c{i}" for i in range(40)]
    rng = np.random.default_rng(window)
    train = rng.choice(cats, size=20_000, p=shares).tolist()
    reference = build_reference({"job": train}, {"job": "categorical"})
    noisy = alarms = 0
    for _ in range(400):
        (d,) = compare(reference, {"job": rng.choice(cats, size=window, p=shares).tolist()})
        noisy += d.psi > 0.25
        alarms += d.drifted
    assert alarms / 400 < 0.01
    if window == 50:
        assert noisy / 400 > 0.02  # PSI > 0.25 alone would have cried wolf too often


def test_compare_when_text_vocabulary_shifts_then_ngram_psi_is_large():
    train = ["my card was charged twice", "refund my card please", "card declined"] * 200
    same = ["card declined", "my card was charged twice", "refund my card please"] * 50
    other = ["the app crashes on login", "login page is blank"] * 100
    reference = build_reference({"message": train}, {"message": "text"})
    (stable,) = compare(reference, {"message": same})
    (moved,) = compare(reference, {"message": other})
    assert stable.psi < 0.25 < moved.psi


def test_feature_drift_when_traffic_is_shifted_then_flagged_and_reference_stored_once(loop_env):
    ws, config = loop_env.ws, loop_env.project.config
    v1 = get_version(ws, "v1")
    rows = income_rows(2000, 6000)
    serve_and_label(ws, config, rows.filter(rows["age"] >= 55).head(300), labels="none")
    report = feature_drift(ws, v1, config.loop)
    assert report.judged and report.recent == 300
    by_name = {d.feature: d for d in report.features}
    assert by_name["age"].drifted and by_name["age"].psi > 1.0
    assert by_name["age"].p_value < 1e-6
    assert by_name["sex"].psi < 0.1 and not by_name["sex"].drifted
    assert "age" in report.to_dict()["drifted"]

    lines = prometheus_drift_lines(ws, config.loop)
    age = [x for x in lines if x.startswith('datawheel_feature_psi{version="v1",feature="age"}')]
    assert len(age) == 1 and float(age[0].split()[-1]) > 1.0
    sample = re.compile(r'^[a-z_]+\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\} [0-9.e+-]+$')
    assert all(x.startswith("# ") or sample.match(x) for x in lines)
    with ws.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(drift_references)).scalar() == 1


def test_feature_drift_when_too_few_requests_then_not_judged(loop_env):
    ws, config = loop_env.ws, loop_env.project.config
    serve_and_label(ws, config, income_rows(2000, 2050), labels="none")
    report = feature_drift(ws, get_version(ws, "v1"), config.loop)
    assert not report.judged and report.recent == 50 and report.drifted == []


@pytest.mark.slow
def test_feature_drift_when_training_traffic_streams_through_many_windows_then_under_1pct_alarms(
    loop_env,
):
    # traffic sampled from the training file itself, window after window, through the real
    # store and feature_drift; then the demo's shift (people aged 45+) in one more window
    ws, config = loop_env.ws, loop_env.project.config
    policy = config.loop.model_copy(
        update={"drift_recent_requests": 200, "drift_min_requests": 200, "drift_window": "1h"}
    )
    training_file = income_rows(0, 2000)
    rng = np.random.default_rng(0)
    v1 = get_version(ws, "v1")
    windows, alarms = 120, 0
    for w in range(windows):
        at = NOW + timedelta(hours=2 * w)
        sample = training_file[rng.integers(0, training_file.height, 200).tolist()]
        serve_and_label(ws, config, sample, labels="none", at=at)
        report = feature_drift(ws, v1, policy, now=at + timedelta(minutes=1))
        assert report.judged and report.recent == 200
        alarms += bool(report.drifted)
    assert alarms / windows < 0.01

    at = NOW + timedelta(hours=2 * windows)
    shifted = income_rows(2000, 8000)
    serve_and_label(
        ws, config, shifted.filter(shifted["age"] >= 45).head(200), labels="none", at=at
    )
    report = feature_drift(ws, v1, policy, now=at + timedelta(minutes=1))
    assert "age" in {d.feature for d in report.drifted}
