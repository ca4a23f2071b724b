"""DP aggregates: the noise matches the stated epsilon, intervals cover, bad queries are refused."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from datawheel.errors import UsageError
from datawheel.privacy.dp import Measure, dp_aggregate, parse_measures

pytest.importorskip("opendp")


def _people(n: int = 2000, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "sex": rng.choice(["F", "M"], n),
            "age": rng.integers(18, 90, n).astype(float),
            "pid": np.arange(n) // 2,  # two rows per subject
        }
    )


def _discrete_laplace_var(scale: float) -> float:
    p = math.exp(-1 / scale)
    return 2 * p / (1 - p) ** 2


def test_counts_when_released_many_times_then_noise_variance_matches_epsilon():
    """Empirical check: for ε = 0.5 and one row per subject, the count noise is discrete
    Laplace with scale 1/ε = 2 (variance 7.8; ε = 1 would give 1.8): 600 releases pin it within
    20 % (3 standard errors)."""
    frame = _people(300)
    truth = frame.group_by("sex").len().sort("sex")["len"].to_list()
    noise = []
    for _ in range(600):
        out = dp_aggregate(
            frame,
            group_by=["sex"],
            measures=[Measure("count")],
            epsilon=0.5,
            public_keys={"sex": ["F", "M"]},
        )
        assert out.scales["count"] == pytest.approx(2.0, rel=1e-6)
        noise += [r["count"] - t for r, t in zip(out.rows, truth, strict=True)]
    variance = float(np.var(noise))
    assert variance == pytest.approx(_discrete_laplace_var(2.0), rel=0.2)
    assert abs(float(np.mean(noise))) < 0.2  # unbiased


def test_scale_when_subject_contributes_two_rows_then_noise_doubles():
    frame = _people(400)
    one = dp_aggregate(frame, group_by=[], measures=[Measure("count")], epsilon=1.0)
    two = dp_aggregate(
        frame,
        group_by=[],
        measures=[Measure("count")],
        epsilon=1.0,
        id_column="pid",
        max_contributions=2,
    )
    assert two.scales["count"] == pytest.approx(2 * one.scales["count"], rel=1e-6)


def test_mean_when_large_groups_then_interval_covers_the_true_mean():
    frame = _people(4000, seed=3)
    true = dict(frame.group_by("sex").agg(pl.col("age").mean()).iter_rows())
    covered = 0
    for _ in range(40):
        out = dp_aggregate(
            frame,
            group_by=["sex"],
            measures=parse_measures("count,mean:age"),
            epsilon=1.0,
            bounds={"age": (0, 120)},
            public_keys={"sex": ["F", "M"]},
        )
        for row in out.rows:
            low, high = row["mean_age_interval"]
            covered += low <= true[row["sex"]] <= high
    assert covered >= 0.9 * 80  # nominal 95 % (conservative by construction)


def test_threshold_when_keys_not_public_then_small_groups_never_released():
    frame = pl.concat(
        [_people(3000), pl.DataFrame({"sex": ["X"] * 3, "age": [40.0] * 3, "pid": [9999] * 3})]
    )
    for _ in range(20):
        out = dp_aggregate(
            frame, group_by=["sex"], measures=[Measure("count")], epsilon=1.0, delta=1e-6
        )
        assert {r["sex"] for r in out.rows} == {"F", "M"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"group_by": ["sex"], "measures": [Measure("count")]}, "would reveal"),  # no keys/delta
        ({"group_by": [], "measures": [Measure("sum", "age")]}, "bounds"),  # sum without bounds
        ({"group_by": [], "measures": [Measure("count")], "epsilon": 0.0}, "epsilon"),
        ({"group_by": ["nope"], "measures": [Measure("count")], "delta": 1e-6}, "nope"),
    ],
)
def test_dp_aggregate_when_query_unsafe_then_usage_error(kwargs, message):
    with pytest.raises(UsageError, match=message):
        dp_aggregate(_people(50), **{"epsilon": 1.0, **kwargs})


def test_parse_measures_when_unknown_then_names_the_valid_forms():
    assert [m.name for m in parse_measures("count,sum:a,mean:b")] == ["count", "sum_a", "mean_b"]
    with pytest.raises(UsageError, match="unknown measure"):
        parse_measures("median:a")
