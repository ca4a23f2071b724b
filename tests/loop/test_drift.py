"""Drift: PSI / KS / chi² on same vs shifted samples; the stored reference; Prometheus lines."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sqlalchemy import func, select

from datawheel.loop.drift import build_reference, compare, feature_drift, prometheus_drift_lines
from datawheel.registry.versions import get_version
from datawheel.store.db import drift_references

from .helpers import income_rows, serve_and_label

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
    assert d.test == "ks" and (d.p_value < 0.001) == p_small


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
    (d,) = compare(reference, {"job": recent + [None] * 50})  # gaps never count as drift
    assert d.test == "chi2" and d.psi <= psi_high
    assert (d.psi > 0.25) == shifted and (d.p_value < 0.001) == shifted


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
