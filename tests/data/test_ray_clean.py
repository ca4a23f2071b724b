"""``clean --engine ray`` on the session's two-node cluster: the same output bytes and counts as
the local engine, statistics computed on the cluster (medians, quartiles and modes exact)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from datawheel.config import CleanConfig, DataConfig
from datawheel.data.clean_file import clean_file
from datawheel.errors import UsageError
from ray_tables import read_parts, records, write_parts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DATA = DataConfig(source="people.csv", target="label", id="id", text=["note"])


def _config(*, near: bool = False, **clean: object) -> CleanConfig:
    fields = ["note"] if near else []
    base: dict[str, object] = {"dedup": {"exact": True, "near": {"fields": fields}}}
    return CleanConfig.model_validate({**base, **clean})


def test_clean_on_ray_when_csv_in_and_out_then_same_bytes_and_counts_as_local(
    ray_cluster, tmp_path
):
    from datawheel.data.ray_clean import clean_file_on_ray

    source = tmp_path / "people.csv"
    records().write_csv(source)
    config = _config(near=True, rules=[{"when": "hours > 60", "set": {"overtime": True}}])
    local = clean_file(source, tmp_path / "local.csv", config=config, data=DATA)
    on_ray = clean_file_on_ray(
        source, tmp_path / "ray.csv", config=config, data=DATA, address=ray_cluster.address
    )
    assert (tmp_path / "ray.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert on_ray.stats == local.stats
    # every kind of work happened, so the equality above covers it
    assert {"exact_duplicate", "near_duplicate"} <= set(local.stats.dropped)
    assert {"age", "income", "city"} <= set(local.stats.fill_values)
    assert local.stats.outlier_bounds and local.stats.rules
    assert any("lie beyond" in why for why in local.stats.skipped.values())


@pytest.mark.parametrize(
    ("clean", "exact"),
    [
        # medians, most frequent categories, IQR fences (rows beyond them dropped): exact
        ({"outliers": {"method": "iqr", "action": "drop"}}, True),
        # means, a categorical drop between learning fills and fences, z-score cut-offs
        (
            {
                "missing": {"numeric": "mean", "categorical": "drop"},
                "outliers": {"method": "zscore", "factor": 2},
            },
            False,
        ),
    ],
)
def test_clean_on_ray_when_parquet_parts_then_values_equal_local(
    ray_cluster, tmp_path, clean, exact
):
    from datawheel.data.ray_clean import clean_file_on_ray

    frame = records(seed=8)
    frame.write_parquet(tmp_path / "people.parquet")
    parts = write_parts(frame, tmp_path / "parts", parts=3, group_rows=40)
    config = _config(**clean)
    local = clean_file(
        tmp_path / "people.parquet", tmp_path / "local.parquet", config=config, data=DATA
    )
    on_ray = clean_file_on_ray(
        parts, tmp_path / "out", config=config, data=DATA, address=ray_cluster.address
    )
    expected = pl.read_parquet(tmp_path / "local.parquet")
    written = read_parts(tmp_path / "out")
    assert on_ray.stats.dropped == local.stats.dropped
    assert on_ray.stats.imputed == local.stats.imputed
    if exact:
        assert written.equals(expected)
        assert on_ray.stats == local.stats
        return
    # means and standard deviations are sums taken in another order: 1e-12 relative
    for column, value in local.stats.fill_values.items():
        close = pytest.approx(value, rel=1e-12) if isinstance(value, float) else value
        assert on_ray.stats.fill_values[column] == close
    for column, bounds in local.stats.outlier_bounds.items():
        assert on_ray.stats.outlier_bounds[column] == pytest.approx(bounds, rel=1e-12)
    for column in expected.columns:
        if expected[column].dtype.is_float():
            assert np.allclose(
                written[column].to_numpy(), expected[column].to_numpy(), rtol=1e-12, equal_nan=True
            )
        else:
            assert written[column].equals(expected[column])


def test_clean_on_ray_when_ffill_then_usage_error_before_any_work(tmp_path):
    from datawheel.data.ray_clean import clean_file_on_ray

    records().write_csv(tmp_path / "people.csv")
    with pytest.raises(UsageError, match="ffill"):
        clean_file_on_ray(
            tmp_path / "people.csv",
            tmp_path / "o.csv",
            config=_config(missing={"numeric": "ffill"}),
            data=DATA,
        )
    assert not (tmp_path / "o.csv").exists()
