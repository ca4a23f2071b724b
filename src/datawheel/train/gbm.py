"""The tree family: LightGBM gradient-boosted trees on the design matrix.

Categories are split natively (integer codes, 0 = unknown); text is TF-IDF (sparse). Rounds
stop early on the validation split. Exact Shapley values are LightGBM's TreeSHAP
(``pred_contrib``): path-dependent, in the margin space (log-odds, class scores or the value).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datawheel.train.design import Design
from datawheel.train.design_model import DesignModel

__all__ = ["GBMModel", "fit_gbm"]

MAX_ROUNDS = 2000
EARLY_STOP = 50


def _lightgbm() -> Any:
    import lightgbm  # a runtime dependency, imported late: `import datawheel` stays light

    return lightgbm


class GBMModel(DesignModel):
    kind = "gbm"

    def __init__(self, design: Design, *, task: str, n_classes: int, model: str) -> None:
        super().__init__(design, task=task, n_classes=n_classes)
        self.model_string = model
        self.booster = _lightgbm().Booster(model_str=model)

    def margin(self, x: Any) -> np.ndarray:
        raw = self.booster.predict(x, raw_score=True)
        return np.asarray(raw, dtype=np.float64).reshape(x.shape[0], self.n_margins)

    def contributions(self, x: Any) -> tuple[np.ndarray, list[Any]]:
        from scipy import sparse

        raw = self.booster.predict(x, pred_contrib=True)
        parts = raw if isinstance(raw, list) else [raw]
        if len(parts) == 1 and self.n_margins > 1:  # dense multiclass: [n, K (w + 1)]
            dense = np.asarray(sparse.csr_matrix(parts[0]).todense())
            parts = np.split(dense, self.n_margins, axis=1)
        matrices = [sparse.csr_matrix(p) for p in parts]
        base = np.stack([np.asarray(m[:, -1].todense()).reshape(-1) for m in matrices], axis=1)
        return base, [m[:, :-1].tocsr() for m in matrices]

    @property
    def rounds(self) -> int:
        return int(self.booster.current_iteration())

    def architecture(self) -> dict[str, Any]:
        return {
            "kind": "gbm",
            "task": self.task,
            "n_classes": self.n_classes,
            "design": self.design.to_dict(),
        }

    def payload(self) -> dict[str, Any]:
        return {"booster": self.model_string}

    @classmethod
    def from_payload(cls, spec: dict[str, Any], payload: dict[str, Any]) -> GBMModel:
        return cls(
            Design.from_dict(spec["design"]),
            task=spec["task"],
            n_classes=int(spec["n_classes"]),
            model=payload["booster"],
        )


def fit_gbm(
    design: Design,
    x: Any,
    y: np.ndarray,
    x_val: Any,
    y_val: np.ndarray,
    *,
    task: str,
    n_classes: int,
    loss: str = "mse",
    seed: int = 0,
    learning_rate: float = 0.05,
    num_leaves: int = 31,
    rounds: int | None = None,
    class_weight: np.ndarray | None = None,
) -> GBMModel:
    """Boost up to ``MAX_ROUNDS`` rounds, stopping after ``EARLY_STOP`` without progress on
    the validation loss; the model keeps the best round. With ``rounds`` (a refit on train +
    validation) exactly that many rounds, no early stopping: ``x_val`` is not used.
    ``class_weight`` (per class) weighs the training rows and the validation loss alike."""
    lgb = _lightgbm()
    objective: dict[str, Any]
    if task == "regression":
        objective = {"objective": "huber" if loss == "huber" else "regression"}
    elif n_classes == 2:
        objective = {"objective": "binary"}
    else:
        objective = {"objective": "multiclass", "num_class": n_classes}
    params = {
        **objective,
        "learning_rate": learning_rate,
        "num_leaves": num_leaves,
        "min_data_in_leaf": 20,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }
    cats = design.categorical_features()
    weight = (
        class_weight[np.clip(y, 0, None).astype(np.int64)] if class_weight is not None else None
    )
    train_set = lgb.Dataset(
        x, label=y, weight=weight, categorical_feature=cats or "auto", free_raw_data=False
    )
    if rounds is not None:
        booster = lgb.train(params, train_set, num_boost_round=max(1, rounds))
        return GBMModel(design, task=task, n_classes=n_classes, model=booster.model_to_string())
    keep = y_val >= 0 if task != "regression" else np.ones(len(y_val), bool)
    val_weight = class_weight[y_val[keep].astype(np.int64)] if class_weight is not None else None
    val_set = lgb.Dataset(
        x_val[np.flatnonzero(keep)], label=y_val[keep], weight=val_weight, reference=train_set
    )
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[val_set],
        callbacks=[lgb.early_stopping(EARLY_STOP, verbose=False)],
    )
    model = booster.model_to_string(num_iteration=booster.best_iteration or -1)
    return GBMModel(design, task=task, n_classes=n_classes, model=model)
