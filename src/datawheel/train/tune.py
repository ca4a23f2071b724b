"""Hyper-parameter search with Optuna: TPE over lr, width, dropout, weight decay; pruned."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from datawheel.config import CleanConfig, ModelConfig, TrainConfig
from datawheel.errors import MissingDependencyError
from datawheel.store.runs import finish_run, start_run
from datawheel.store.workspace import Workspace
from datawheel.train.features import FeatureColumns
from datawheel.train.trainer import train_classifier

__all__ = ["TuneResult", "suggest", "tune_hyperparameters"]


@dataclass
class TuneResult:
    """The best trial's settings as a config overlay, and every trial's outcome."""

    best_overlay: dict[str, Any]  # {"model": {...}, "train": {...}}: datawheel.tuned.yaml
    best_value: float  # the best trial's best validation loss
    best_accuracy: float  # that trial's validation accuracy at its best epoch
    trials: list[dict[str, Any]] = field(default_factory=list)


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise MissingDependencyError("optuna", "tune", purpose="datawheel tune") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def suggest(trial: Any, model: ModelConfig, train: TrainConfig) -> tuple[ModelConfig, TrainConfig]:
    """The search space: the configured depth keeps its shape, each layer half the one before."""
    width = trial.suggest_int("width", 16, 512, log=True)
    hidden = [max(4, width // 2**i) for i in range(max(1, len(model.hidden)))]
    tuned_model = model.model_copy(
        update={"hidden": hidden, "dropout": trial.suggest_float("dropout", 0.0, 0.5)}
    )
    tuned_train = train.model_copy(
        update={
            "lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
            "checkpoint": False,
        }
    )
    return tuned_model, tuned_train


def tune_hyperparameters(
    train: pl.DataFrame,
    val: pl.DataFrame,
    *,
    features: FeatureColumns,
    target: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    trials: int,
    ws: Workspace | None = None,
    dataset_id: str | None = None,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
    clean_config: CleanConfig | None = None,
) -> TuneResult:
    """Minimize the best validation loss over ``trials`` trainings (TPE, seeded by train.seed).

    A trial reports its validation loss every epoch; the MedianPruner stops one that is worse
    than the median of earlier trials at the same epoch. With ``ws`` every trial is a run of
    kind ``tune`` (status ``finished`` or ``pruned``).
    """
    optuna = _optuna()
    outcomes: list[dict[str, Any]] = []

    def objective(trial: Any) -> float:
        tuned_model, tuned_train = suggest(trial, model_config, train_config)
        params = {
            "trial": trial.number,
            "model": tuned_model.model_dump(),
            "train": tuned_train.model_dump(),
            "features": {"numeric": features.numeric, "categorical": features.categorical},
        }
        run_id = start_run(ws, kind="tune", params=params, dataset_id=dataset_id) if ws else None

        def report(row: dict[str, float]) -> bool:
            value = row["val_loss"] if math.isfinite(row["val_loss"]) else math.inf
            trial.report(value, int(row["epoch"]))
            return trial.should_prune()

        try:
            result = train_classifier(
                train,
                val,
                features=features,
                target=target,
                model_config=tuned_model,
                train_config=tuned_train,
                progress=False,
                on_epoch=report,
                clean_config=clean_config,  # the same fills and fences as the final run
            )
        except BaseException:
            if ws is not None and run_id:
                finish_run(ws, run_id, status="failed", metrics={}, history=[])
            raise
        best = result.history[result.best_epoch - 1]
        outcome = {
            "trial": trial.number,
            "status": "pruned" if result.stopped else "finished",
            "params": dict(trial.params),
            "val_loss": best["val_loss"],
            "val_accuracy": best["val_accuracy"],
            "epochs": len(result.history),
            "run_id": run_id,
        }
        outcomes.append(outcome)
        trial.set_user_attr("val_accuracy", best["val_accuracy"])
        trial.set_user_attr("overlay", _overlay(tuned_model, tuned_train))
        if ws is not None and run_id:
            finish_run(
                ws,
                run_id,
                status=outcome["status"],
                metrics={k: outcome[k] for k in ("val_loss", "val_accuracy", "epochs")},
                history=result.history,
                extra_env={"device": result.device, "precision": result.precision},
            )
        if on_trial:
            on_trial(outcome)
        if result.stopped:
            raise optuna.TrialPruned()
        return best["val_loss"]

    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=train_config.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    study.optimize(objective, n_trials=trials)
    best = study.best_trial
    return TuneResult(
        best_overlay=best.user_attrs["overlay"],
        best_value=float(best.value),
        best_accuracy=float(best.user_attrs["val_accuracy"]),
        trials=outcomes,
    )


def _overlay(model: ModelConfig, train: TrainConfig) -> dict[str, Any]:
    """Only the searched keys: the project file keeps everything else."""
    return {
        "model": {"hidden": list(model.hidden), "dropout": round(model.dropout, 6)},
        "train": {
            "lr": float(f"{train.lr:.6g}"),
            "weight_decay": float(f"{train.weight_decay:.6g}"),
        },
    }
