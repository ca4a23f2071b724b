"""TF-IDF text features for the linear and tree families: word 1-2-grams + character n-grams.

Fitted vocabularies and idf weights are plain lists (no pickle), so a model file stays a dict
of tensors and strings. Each text column becomes a sparse L2-normalized block; ``token_map``
tells which words of a text produced each active feature, for per-word explanations.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["TfidfText", "word_attributions"]

WORD_FEATURES = 50_000  # most frequent word 1-2-grams kept per text column
CHAR_FEATURES = 50_000  # most frequent character 2-5-grams (within words) kept
# Trees read the 5,000 most frequent word 1-2-grams: a tree splits on one feature at a time,
# and character n-grams (a thousand per review) multiply LightGBM's work ~5x for no gain.
TREE_FEATURES = 5_000
UNSEGMENTED_SHARE = 0.3  # text whose letters are this much Chinese / Japanese has no words
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern
_UNSEGMENTED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")


def _clean(texts: Sequence[Any]) -> list[str]:
    return ["" if t is None else str(t) for t in texts]


class TfidfText:
    """Word (1, 2)-grams and ``char_wb`` (2, 5)-grams, sublinear tf, each part L2-normed.

    Words need two word characters (scikit-learn's pattern); character n-grams cover one-letter
    words and unsegmented scripts (Chinese, Japanese), where whole words cannot be split.
    """

    def __init__(self, *, word_features: int = WORD_FEATURES, char_features: int = CHAR_FEATURES):
        self.word_features = word_features
        self.char_features = char_features  # 0: words only, no character block

    @classmethod
    def for_trees(cls, texts: Sequence[Any]) -> TfidfText:
        """The tree family's text: the top ``TREE_FEATURES`` word 1-2-grams, and as many
        character n-grams only for text in scripts written without spaces (Chinese, Japanese),
        where whole words cannot be split."""
        sample = "".join(_clean(texts[:2000]))
        letters = len(_LETTER.findall(sample))
        unsegmented = letters and len(_UNSEGMENTED.findall(sample)) / letters > UNSEGMENTED_SHARE
        return cls(word_features=TREE_FEATURES, char_features=TREE_FEATURES if unsegmented else 0)

    def _vectorizers(self) -> tuple[Any, Any]:
        from sklearn.feature_extraction.text import TfidfVectorizer

        common = {"sublinear_tf": True, "dtype": np.float64, "lowercase": True}
        word = TfidfVectorizer(ngram_range=(1, 2), max_features=self.word_features, **common)
        char = (
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 5), max_features=self.char_features, **common
            )
            if self.char_features
            else None
        )
        return word, char

    def fit(self, texts: Sequence[Any]) -> TfidfText:
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: Sequence[Any]) -> Any:
        """Fit on ``texts`` and return their CSR matrix (as ``transform`` would), reading each
        text once per vectorizer."""
        from scipy import sparse

        word, char = self._vectorizers()
        clean = _clean(texts)
        if not any(_TOKEN.search(t) for t in clean):
            clean = [*clean, "placeholder"]  # an all-empty column still needs a vocabulary
        padded = len(clean) - len(texts)  # the placeholder's row is not returned
        parts = [word.fit_transform(clean)]
        self.word_vocab_ = sorted(word.vocabulary_, key=word.vocabulary_.__getitem__)
        self.word_idf_ = word.idf_.tolist()
        self.char_vocab_, self.char_idf_ = [], []
        if char is not None:
            parts.append(char.fit_transform(clean))
            self.char_vocab_ = sorted(char.vocabulary_, key=char.vocabulary_.__getitem__)
            self.char_idf_ = char.idf_.tolist()
        self.__dict__.pop("_cache", None)
        out = sparse.hstack(parts, format="csr")
        return out[: out.shape[0] - padded] if padded else out

    @property
    def width(self) -> int:
        return len(self.word_vocab_) + len(self.char_vocab_)

    @property
    def names(self) -> list[str]:
        """Feature names: ``w:`` word n-grams, then ``c:`` character n-grams."""
        return [f"w:{g}" for g in self.word_vocab_] + [f"c:{g}" for g in self.char_vocab_]

    def _fitted(self) -> tuple[Any, Any]:
        cached = self.__dict__.get("_cache")
        if cached is None:
            word, char = self._vectorizers()
            word.vocabulary_ = {g: i for i, g in enumerate(self.word_vocab_)}
            word.idf_ = np.asarray(self.word_idf_)
            if char is not None:
                char.vocabulary_ = {g: i for i, g in enumerate(self.char_vocab_)}
                char.idf_ = np.asarray(self.char_idf_)
            cached = self.__dict__["_cache"] = (word, char)
        return cached

    def transform(self, texts: Sequence[Any]) -> Any:
        """Texts → CSR float64 ``[n, width]`` (word block, then character block)."""
        from scipy import sparse

        word, char = self._fitted()
        clean = _clean(texts)
        if char is None:
            return sparse.csr_matrix(word.transform(clean))
        return sparse.hstack([word.transform(clean), char.transform(clean)], format="csr")

    def to_dict(self) -> dict[str, Any]:
        return {
            "word_vocab": self.word_vocab_,
            "char_vocab": self.char_vocab_,
            "word_idf": self.word_idf_,
            "char_idf": self.char_idf_,
            "word_features": self.word_features,
            "char_features": self.char_features,
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> TfidfText:
        self = cls(word_features=spec["word_features"], char_features=spec["char_features"])
        self.word_vocab_ = list(spec["word_vocab"])
        self.char_vocab_ = list(spec["char_vocab"])
        self.word_idf_ = list(spec["word_idf"])
        self.char_idf_ = list(spec["char_idf"])
        return self


def word_attributions(
    text: str, tfidf: TfidfText, feature_values: dict[int, float]
) -> tuple[list[tuple[str, float]], float]:
    """Spread per-feature contributions of one text over its words.

    ``feature_values``: feature index (within the column's block) → contribution. A word
    n-gram's contribution is shared equally by its words; a character n-gram's by the words it
    occurs in (by occurrence). Contributions of features the text does not contain (trees see
    absence) go to the returned rest. Returns ([(word, value)] by |value|, rest).
    """
    n_word = len(tfidf.word_vocab_)
    lowered = text.lower()
    words = _TOKEN.findall(lowered)
    chunks = lowered.split()
    owners: dict[int, list[str]] = {}
    for i, gram in enumerate(tfidf.word_vocab_):
        if i in feature_values:
            parts = gram.split(" ")
            if all(p in words for p in parts):
                owners[i] = parts
    for j, gram in enumerate(tfidf.char_vocab_):
        index = n_word + j
        if index in feature_values:
            hits = []
            for chunk in chunks:
                padded = f" {chunk} "
                count = padded.count(gram)
                if count:
                    inner = _TOKEN.findall(chunk) or [chunk]
                    hits += [w for w in inner for _ in range(count)]
            if hits:
                owners[index] = hits
    totals: dict[str, float] = {}
    rest = 0.0
    for index, value in feature_values.items():
        who = owners.get(index)
        if not who:
            rest += value
            continue
        share = value / len(who)
        for word in who:
            totals[word] = totals.get(word, 0.0) + share
    ranked = sorted(totals.items(), key=lambda kv: abs(kv[1]), reverse=True)
    return ranked, rest
