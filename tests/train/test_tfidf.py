"""TF-IDF text for the linear and tree families: what each family reads, fitted in one pass."""

from __future__ import annotations

import numpy as np
import pytest

from datawheel.train.tfidf import TREE_FEATURES, TfidfText

ENGLISH = ["the parcel arrived late", "refund my order please", "great taste, would buy", ""]
CHINESE = ["我的包裹在哪里", "请给我退款", "味道很好，还会再买", "订单12延误了"]


@pytest.mark.parametrize(
    ("texts", "chars"),
    [
        (ENGLISH, 0),  # words split on spaces: trees read word 1-2-grams only
        (CHINESE, TREE_FEATURES),  # no spaces between words: character n-grams are the words
        ([None, None], 0),  # nothing to read
    ],
)
def test_for_trees_when_script_then_words_or_characters(texts: list, chars: int) -> None:
    block = TfidfText.for_trees(texts)
    assert (block.word_features, block.char_features) == (TREE_FEATURES, chars)
    fitted = block.fit(texts)
    assert bool(fitted.char_vocab_) == bool(chars)
    assert fitted.transform(["订单 refund"]).shape == (1, fitted.width)


@pytest.mark.parametrize("char_features", [50_000, 0])
def test_fit_transform_when_fitted_then_equals_transform_of_the_same_texts(
    char_features: int,
) -> None:
    texts = [*ENGLISH, *CHINESE, None]
    block = TfidfText(char_features=char_features)
    once = block.fit_transform(texts).toarray()
    np.testing.assert_allclose(once, block.transform(texts).toarray(), atol=1e-12)
    restored = TfidfText.from_dict(block.to_dict())
    np.testing.assert_allclose(restored.transform(texts).toarray(), once, atol=1e-12)


def test_fit_transform_when_no_word_at_all_then_one_row_per_text() -> None:
    block = TfidfText()
    assert block.fit_transform(["", None]).shape[0] == 2  # the placeholder row is not returned
