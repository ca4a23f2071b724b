"""The linear family: L2-regularized logistic or ridge regression on the design matrix.

The penalty is picked from a short grid on the validation split (log loss or squared error),
as ``LogisticRegressionCV`` would, but without refitting on the folds. Exact Shapley values
are closed form: ``w_j (x_j - E[x_j])`` per position (interventional, features taken as
independent, as ``shap.LinearExplainer`` computes them), summed per input column. The
reference of a text column is the empty text (its TF-IDF vector is zero), so a word's value
is its own weight times its TF-IDF weight, never a share of other documents' words.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from datawheel.train.design import Design
from datawheel.train.design_model import DesignModel, margins_to_output

__all__ = ["PENALTIES", "LinearModel", "fit_linear"]

PENALTIES = (0.1, 1.0, 10.0)  # C for logistic regression, 1/alpha for ridge


class LinearModel(DesignModel):
    kind = "linear"

    def __init__(
        self,
        design: Design,
        *,
        task: str,
        n_classes: int,
        coef: np.ndarray,
        intercept: np.ndarray,
        reference: np.ndarray,
        penalty: float,
    ) -> None:
        super().__init__(design, task=task, n_classes=n_classes)
        self.coef = np.asarray(coef, dtype=np.float64).reshape(self.n_margins, -1)  # [K', w]
        self.intercept = np.asarray(intercept, dtype=np.float64).reshape(self.n_margins)
        self.reference = np.asarray(reference, dtype=np.float64)  # [w] E[x], 0 on text
        self.penalty = penalty

    def margin(self, x: Any) -> np.ndarray:
        return np.asarray(x @ self.coef.T) + self.intercept  # [n, K']

    def contributions(self, x: Any) -> tuple[np.ndarray, list[Any]]:
        from scipy import sparse

        n = x.shape[0]
        base = np.tile(self.intercept + self.coef @ self.reference, (n, 1))  # [n, K']
        per_margin = []
        for k in range(self.n_margins):
            # w (x - E[x]) = w x - w E[x]; the second part is dense but the same for every row
            own = sparse.csr_matrix(x.multiply(self.coef[k]))
            shift = sparse.csr_matrix(-(self.coef[k] * self.reference)[None, :])  # [1, w]
            ones = sparse.csr_matrix(np.ones((n, 1)))
            per_margin.append((own + ones @ shift).tocsr())
        return base, per_margin

    def architecture(self) -> dict[str, Any]:
        return {
            "kind": "linear",
            "task": self.task,
            "n_classes": self.n_classes,
            "penalty": self.penalty,
            "design": self.design.to_dict(),
        }

    def payload(self) -> dict[str, Any]:
        return {
            "coef": torch.from_numpy(self.coef.copy()),
            "intercept": torch.from_numpy(self.intercept.copy()),
            "reference": torch.from_numpy(self.reference.copy()),
        }

    @classmethod
    def from_payload(cls, spec: dict[str, Any], payload: dict[str, Any]) -> LinearModel:
        return cls(
            Design.from_dict(spec["design"]),
            task=spec["task"],
            n_classes=int(spec["n_classes"]),
            coef=payload["coef"].numpy(),
            intercept=payload["intercept"].numpy(),
            reference=payload["reference"].numpy(),
            penalty=float(spec["penalty"]),
        )

    def describe(self) -> str:
        return json.dumps({"kind": self.kind, "penalty": self.penalty})


def _reference(design: Design, x: Any) -> np.ndarray:
    mean = np.asarray(x.mean(axis=0)).reshape(-1)
    for start, block in zip(design.text_offsets, design.tfidf, strict=True):
        mean[start : start + block.width] = 0.0  # the empty text
    return mean


def fit_linear(
    design: Design,
    x: Any,
    y: np.ndarray,
    x_val: Any,
    y_val: np.ndarray,
    *,
    task: str,
    n_classes: int,
    seed: int = 0,
    penalties: tuple[float, ...] = PENALTIES,
    class_weight: np.ndarray | None = None,
) -> LinearModel:
    """Fit on ``x``/``y`` for each of ``penalties``; keep the best on validation.

    ``y`` holds class indices (classification) or values (regression). ``class_weight`` (per
    class) weighs the training rows and the validation loss alike.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge

    best: tuple[float, Any, float] | None = None
    for c in penalties:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if task == "regression":
                est = Ridge(alpha=1.0 / c, random_state=seed).fit(x, y)
                loss = float(np.mean((est.predict(x_val) - y_val) ** 2))
            else:
                weights = None if class_weight is None else dict(enumerate(class_weight))
                est = LogisticRegression(
                    C=c, max_iter=2000, random_state=seed, class_weight=weights
                ).fit(x, y)
                proba = _proba(est, x_val, n_classes)
                known = np.clip(y_val, 0, n_classes - 1)
                picked = proba[np.arange(len(y_val)), known]
                w_val = None if class_weight is None else class_weight[known]
                loss = float(-np.average(np.log(np.clip(picked, 1e-12, 1.0)), weights=w_val))
        if best is None or loss < best[0] - 1e-9:
            best = (loss, est, c)
    assert best is not None
    _, est, c = best
    coef, intercept = _coefficients(est, task, n_classes)
    return LinearModel(
        design,
        task=task,
        n_classes=n_classes,
        coef=coef,
        intercept=intercept,
        reference=_reference(design, x),
        penalty=c,
    )


def _proba(est: Any, x: Any, n_classes: int) -> np.ndarray:
    """Probabilities over all classes, also when training saw only some of them."""
    out = np.zeros((x.shape[0], n_classes))
    out[:, est.classes_] = est.predict_proba(x)
    return out


def _coefficients(est: Any, task: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    coef = np.atleast_2d(est.coef_).astype(np.float64)
    intercept = np.atleast_1d(est.intercept_).astype(np.float64)
    if task == "classification" and n_classes > 2 and coef.shape[0] != n_classes:
        full = np.full((n_classes, coef.shape[1]), 0.0)
        bias = np.full(n_classes, -1e3)  # a class never seen in training is never predicted
        full[est.classes_], bias[est.classes_] = coef, intercept
        coef, intercept = full, bias
    return coef, intercept


__all__ += ["margins_to_output"]
