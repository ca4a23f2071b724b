"""The shared shape of the families that read a design matrix (trees and linear models).

Outputs come from margins: a binary model has one margin (the log-odds of the second class),
a multiclass model one per class (softmax), a regression one (the value). Explanations are
exact per design position in that margin space, then summed per input column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from datawheel.errors import UsageError
from datawheel.train.design import Design

__all__ = ["DesignModel", "margins_to_output"]


def margins_to_output(margin: np.ndarray, *, task: str, n_classes: int) -> np.ndarray:
    """Margins [n, K'] → probabilities [n, K] (classification) or values [n, 1]."""
    margin = np.asarray(margin, dtype=np.float64)
    if task == "regression":
        return margin.reshape(-1, 1)
    if n_classes == 2:
        p = 1.0 / (1.0 + np.exp(-margin.reshape(-1)))
        return np.stack([1.0 - p, p], axis=1)
    shifted = margin - margin.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


class DesignModel:
    """A fitted model over a ``Design``: ``kind`` names the family, ``task`` the output."""

    kind = "design"

    def __init__(self, design: Design, *, task: str, n_classes: int) -> None:
        if task not in ("classification", "regression"):
            raise UsageError(f"unknown task {task!r}")
        self.design = design
        self.task = task
        self.n_classes = n_classes if task == "classification" else 1  # outputs

    @property
    def n_margins(self) -> int:
        return 1 if self.n_classes <= 2 else self.n_classes

    @property
    def reads_text(self) -> bool:
        return bool(self.design.tfidf)

    def matrix(
        self, numeric: np.ndarray, categorical: np.ndarray, texts: Sequence[Sequence[str]] | None
    ) -> Any:
        if self.reads_text and texts is None:
            raise UsageError(
                f"a {self.kind} model with text columns needs the raw rows, not arrays",
                hint="call predict_proba(rows) or explain(rows)",
            )
        return self.design.matrix(numeric, categorical, texts or [[]] * len(numeric))

    def margin(self, x: Any) -> np.ndarray:  # pragma: no cover - each family implements it
        raise NotImplementedError

    def output(
        self, numeric: np.ndarray, categorical: np.ndarray, texts: Sequence[Sequence[str]] | None
    ) -> np.ndarray:
        """Probabilities [n, K] or values [n, 1] for preprocessed rows."""
        x = self.matrix(numeric, categorical, texts)
        return margins_to_output(self.margin(x), task=self.task, n_classes=self.n_classes)

    def contributions(self, x: Any) -> tuple[np.ndarray, list[Any]]:
        """(base [n, K'], per margin a matrix [n, width] of exact position contributions):
        base + row sums = the margins."""
        raise NotImplementedError  # pragma: no cover

    def architecture(self) -> dict[str, Any]:  # pragma: no cover - each family implements it
        """The constructor's plain values (the model file's ``architecture``)."""
        raise NotImplementedError

    def payload(self) -> dict[str, Any]:  # pragma: no cover - each family implements it
        """The fitted state: tensors or strings, loadable with ``weights_only``."""
        raise NotImplementedError

    def to(self, *_: Any, **__: Any) -> DesignModel:  # the torch-style call TrainedModel makes
        return self

    def eval(self) -> DesignModel:
        return self
