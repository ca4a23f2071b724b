"""Statistics on the cluster against polars as the oracle: exact order statistics (radix
selection) with fill copies counted in, and most frequent values with ties to the smallest."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_order_statistics_when_mixed_signs_ties_and_fill_copies_then_equal_polars(ray_cluster):
    from datawheel.data.ray_io import connect
    from datawheel.data.ray_read import rows_of_frame
    from datawheel.data.ray_stats import (
        column_counts,
        interpolate,
        most_frequent,
        order_statistics,
        quantile_ranks,
    )

    ray = connect(ray_cluster.address)
    rng = np.random.default_rng(4)
    n = 700
    spread = rng.normal(size=n) * 10.0 ** rng.integers(-4, 8, n)  # many exponents, both signs
    spread[::9] = 0.0  # ties (and -0.0 beside 0.0)
    spread[::31] = -0.0
    frame = pl.DataFrame(
        {
            "x": spread,
            "k": rng.integers(-5, 5, n),  # few distinct values: one round
            "big": rng.integers(-(2**52), 2**52, n),  # many distinct: several rounds
            "c": rng.choice(["b", "a", "c"], n).tolist(),
        }
    ).with_columns(pl.when(pl.col("k") == 3).then(None).otherwise(pl.col("x")).alias("x"))
    dataset = rows_of_frame(ray, frame, batch_rows=100).dataset.materialize()
    copies = {"x": (1.25, 40)}  # a fill value counted once per null it replaces
    counts = column_counts(dataset, ["x", "k", "big"])
    assert counts["x"].nulls == frame["x"].null_count() and counts["big"].values == n
    sizes = {c: counts[c].values + copies.get(c, (0, 0))[1] for c in counts}
    wanted = {
        c: [r for q in (0.1, 0.25, 0.5, 0.75) for r in quantile_ranks(m, q)[:2]]
        for c, m in sizes.items()
    }
    found = order_statistics(dataset, wanted, extra=copies)
    for column, size in sizes.items():
        values = frame[column].drop_nulls().cast(pl.Float64)
        if column in copies:
            values = pl.concat([values, pl.Series([copies[column][0]] * copies[column][1])])
        assert values.len() == size
        for q in (0.1, 0.25, 0.5, 0.75):
            low, high, fraction = quantile_ranks(size, q)
            mine = interpolate(found[(column, low)], found[(column, high)], fraction)
            assert mine == values.quantile(q, "linear"), (column, q)
    ties = pl.DataFrame({"c": ["b", "a", "b", "a", "c"]})
    tied = rows_of_frame(ray, ties, batch_rows=2).dataset
    assert most_frequent(tied, "c") == "a"  # a and b tie: the smaller wins, as locally
    assert (
        most_frequent(dataset, "k")
        == frame["k"].value_counts().sort(["count", "k"], descending=[True, False])["k"][0]
    )
