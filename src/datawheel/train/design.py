"""The design matrix the tree and linear families read: numerics, categories, TF-IDF text.

Layout, left to right: the Preprocessor's numeric array (standardized values, then missing
indicators), then the categorical columns (one-hot for the linear family, integer codes for
trees, which split on categories natively), then one TF-IDF block per text column. ``owner``
maps every design position to the input column it came from: explanations sum over it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from datawheel.train.tfidf import TfidfText

__all__ = ["Design"]


class Design:
    """Builds the sparse design matrix from the Preprocessor's arrays and the raw texts."""

    def __init__(
        self,
        *,
        players: Sequence[str],
        numeric_owner: Sequence[int],
        cardinalities: Sequence[int],
        text_owner: Sequence[int],
        tfidf: Sequence[TfidfText],
        one_hot: bool,
    ) -> None:
        self.players = list(players)  # input column names, explanation order
        self.numeric_owner = list(numeric_owner)  # [d] player of each numeric position
        self.cardinalities = list(cardinalities)  # [c] incl. index 0 (unknown)
        self.text_owner = list(text_owner)  # [t] player of each text column
        self.tfidf = list(tfidf)
        self.one_hot = one_hot

    @property
    def n_numeric(self) -> int:
        return len(self.numeric_owner)

    @property
    def categorical_width(self) -> int:
        return sum(self.cardinalities) if self.one_hot else len(self.cardinalities)

    @property
    def text_offsets(self) -> list[int]:
        """The first design position of each text column's block."""
        start = self.n_numeric + self.categorical_width
        out = []
        for block in self.tfidf:
            out.append(start)
            start += block.width
        return out

    @property
    def width(self) -> int:
        return self.n_numeric + self.categorical_width + sum(b.width for b in self.tfidf)

    def owner(self) -> np.ndarray:
        """[width] the player (input column index) of every design position."""
        parts = [np.asarray(self.numeric_owner, dtype=np.int64)]
        first_cat = len(self.players) - len(self.cardinalities) - len(self.text_owner)
        for j, card in enumerate(self.cardinalities):
            parts.append(np.full(card if self.one_hot else 1, first_cat + j, dtype=np.int64))
        for block, player in zip(self.tfidf, self.text_owner, strict=True):
            parts.append(np.full(block.width, player, dtype=np.int64))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def categorical_features(self) -> list[int]:
        """Design positions holding category codes (trees only)."""
        return (
            []
            if self.one_hot
            else list(range(self.n_numeric, self.n_numeric + len(self.cardinalities)))
        )

    def matrix(
        self,
        numeric: np.ndarray,
        categorical: np.ndarray,
        texts: Sequence[Sequence[str]],
        *,
        text_blocks: Sequence[Any] | None = None,
    ) -> Any:
        """CSR float64 ``[n, width]``; ``texts`` is ``[n][len(text columns)]`` (or
        ``text_blocks``: the TF-IDF matrices of the text columns, already computed)."""
        from scipy import sparse

        n = numeric.shape[0]
        blocks: list[Any] = [sparse.csr_matrix(np.asarray(numeric, dtype=np.float64))]
        if self.cardinalities:
            codes = np.asarray(categorical, dtype=np.int64)  # [n, c]
            if self.one_hot:
                offsets = np.cumsum([0, *self.cardinalities[:-1]])
                cols = (codes + offsets).ravel()
                rows = np.repeat(np.arange(n), codes.shape[1])
                data = np.ones(len(cols))
                blocks.append(
                    sparse.csr_matrix((data, (rows, cols)), shape=(n, sum(self.cardinalities)))
                )
            else:
                blocks.append(sparse.csr_matrix(codes.astype(np.float64)))
        for j, block in enumerate(self.tfidf):
            if text_blocks is not None:
                blocks.append(sparse.csr_matrix(text_blocks[j]))
            else:
                blocks.append(block.transform([row[j] for row in texts]))
        if len(blocks) == 1:
            return blocks[0].tocsr()
        return sparse.hstack(blocks, format="csr")

    def to_dict(self) -> dict[str, Any]:
        return {
            "players": self.players,
            "numeric_owner": self.numeric_owner,
            "cardinalities": self.cardinalities,
            "text_owner": self.text_owner,
            "tfidf": [b.to_dict() for b in self.tfidf],
            "one_hot": self.one_hot,
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Design:
        return cls(
            players=spec["players"],
            numeric_owner=spec["numeric_owner"],
            cardinalities=spec["cardinalities"],
            text_owner=spec["text_owner"],
            tfidf=[TfidfText.from_dict(b) for b in spec["tfidf"]],
            one_hot=bool(spec["one_hot"]),
        )

    @classmethod
    def fit(
        cls,
        preprocessor: Any,
        numeric: np.ndarray,
        categorical: np.ndarray,
        texts: Sequence[Sequence[str]] | None,
        *,
        one_hot: bool,
    ) -> tuple[Design, Any]:
        """A design over a fitted Preprocessor's columns, its TF-IDF fitted on ``texts`` (for
        trees, ``one_hot=False``, the smaller ``TfidfText.for_trees``), and the matrix of the
        same rows — each text read once, not once to fit and again to transform."""
        columns = preprocessor.columns
        numeric_names = list(columns.numeric)
        players = [*numeric_names, *columns.categorical, *columns.text]
        owner = list(range(len(numeric_names)))
        owner += [numeric_names.index(name) for name in preprocessor.missing_indicator_]
        tfidf, blocks = [], []
        for j, _ in enumerate(columns.text):
            column = [row[j] for row in texts or []]
            block = TfidfText() if one_hot else TfidfText.for_trees(column)
            blocks.append(block.fit_transform(column))
            tfidf.append(block)
        first_text = len(numeric_names) + len(columns.categorical)
        design = cls(
            players=players,
            numeric_owner=owner,
            cardinalities=preprocessor.cardinalities,
            text_owner=list(range(first_text, first_text + len(columns.text))),
            tfidf=tfidf,
            one_hot=one_hot,
        )
        return design, design.matrix(numeric, categorical, [], text_blocks=blocks)
