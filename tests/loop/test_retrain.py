"""Retraining data: feedback that repeats a test, validation or held-out row — or comes from a
subject of the test or validation split — never enters training."""

from __future__ import annotations

import polars as pl

from datawheel.loop.retrain import prepare_retrain_data
from datawheel.privacy.anonymize import subject_token
from datawheel.registry.versions import get_version
from datawheel.store.datasets import get_dataset, load_frame

from .helpers import income_rows, serve_and_label


def test_prepare_retrain_data_when_feedback_repeats_evaluation_rows_then_kept_out(loop_env):
    ws, config = loop_env.ws, loop_env.project.config
    v1 = get_version(ws, "v1")
    features = list(v1.input_schema)
    base = get_dataset(ws, v1.dataset_id)
    test_ids = set(load_frame(ws, base.stats["test"])[config.data.id].to_list())

    raw = income_rows(0, 2000)  # the training file: some of its people are in the test split
    key = ws.secret_key()
    tokens = pl.Series([subject_token(key, v) for v in raw[config.data.id].to_list()])
    of_test = raw.filter(tokens.is_in(sorted(test_ids)))
    # 1. the test split's own rows sent back as feedback (same inputs, same people)
    serve_and_label(ws, config, of_test.head(40))
    # 2. test-split people with new inputs: still their rows, still kept out
    changed = of_test.slice(40, 30).with_columns(pl.col("hours_per_week") + 1000)
    serve_and_label(ws, config, changed)
    # 3. fresh people and rows: welcome
    serve_and_label(ws, config, income_rows(5000, 5100))

    data = prepare_retrain_data(ws, config, v1)

    excluded = data.excluded
    kept_out = (
        excluded["feedback_rows_matching_evaluation_rows"]
        + excluded["feedback_rows_of_evaluation_subjects"]
    )
    assert excluded["feedback_rows_of_evaluation_subjects"] >= 1
    assert data.feedback_rows + data.feedback_holdout.height + kept_out == 170
    evaluation = pl.concat(
        [data.eval.select(features), data.val.select(features)], how="vertical_relaxed"
    )
    added = data.train.tail(data.feedback_rows)
    assert added.select(features).join(evaluation, on=features, how="semi").height == 0
    assert not set(added[config.data.id].drop_nulls().to_list()) & test_ids
