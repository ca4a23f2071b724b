"""Train one candidate model on given splits and assess it — shared by `run` and the loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from datawheel.config import ProjectConfig
from datawheel.data.schema import feature_columns, infer_schema
from datawheel.evaluate.assess import Assessment, assess, latency_p99_ms
from datawheel.store.runs import finish_run, start_run
from datawheel.store.workspace import Workspace
from datawheel.train import FeatureColumns, TrainedModel, TrainResult, train_classifier

__all__ = ["Candidate", "model_features", "train_candidate"]


@dataclass
class Candidate:
    model: TrainedModel
    assessment: Assessment
    latency_p99_ms: float
    run_id: str
    result: TrainResult


def model_features(config: ProjectConfig, frame: pl.DataFrame) -> FeatureColumns:
    """Numeric and categorical feature columns: never the target, id, PII, text or ignored."""
    schema = infer_schema(frame, config.data, pii_columns=config.privacy.columns)
    numeric, categorical = feature_columns(schema)
    return FeatureColumns(numeric=numeric, categorical=categorical)


def train_candidate(
    ws: Workspace,
    config: ProjectConfig,
    *,
    train: pl.DataFrame,
    val: pl.DataFrame,
    test: pl.DataFrame,
    dataset_id: str,
    kind: str = "train",
    progress: bool = False,
    params: dict[str, Any] | None = None,
) -> Candidate:
    """Fit on ``train`` (early stopping on ``val``), score on ``test``, track it as a run."""
    features = model_features(config, train)
    run_params = {
        "model": config.model.model_dump(),
        "train": config.train.model_dump(),
        "features": {"numeric": features.numeric, "categorical": features.categorical},
        "rows": {"train": train.height, "val": val.height, "test": test.height},
        **(params or {}),
    }
    run_id = start_run(ws, kind=kind, params=run_params, dataset_id=dataset_id)
    try:
        result = train_classifier(
            train,
            val,
            features=features,
            target=config.data.target,
            model_config=config.model,
            train_config=config.train,
            progress=progress,
        )
        assessment = assess(
            result.model, test, target=config.data.target, sensitive=config.data.sensitive
        )
        latency = latency_p99_ms(result.model, test)
    except BaseException:
        finish_run(ws, run_id, status="failed", metrics={}, history=[])
        raise
    finish_run(
        ws,
        run_id,
        status="finished",
        metrics={
            **_headline(assessment.metrics),
            "fairness_gap": assessment.gap,
            "latency_p99_ms": latency,
            "best_epoch": result.best_epoch,
            "seconds": result.seconds,
        },
        history=result.history,
        extra_env={"device": result.device, "precision": result.precision},
    )
    return Candidate(result.model, assessment, latency, run_id, result)


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = ("accuracy", "balanced_accuracy", "f1", "macro_f1", "roc_auc", "log_loss", "n")
    return {k: metrics[k] for k in keys if k in metrics}
