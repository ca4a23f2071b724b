"""Train one candidate model on given splits, assess it, register it — shared by `run` and the
loop, so both record a version the same way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from datawheel.config import ProjectConfig
from datawheel.data.schema import feature_columns, infer_schema
from datawheel.errors import UsageError
from datawheel.evaluate.assess import Assessment, assess, latency_p99_ms
from datawheel.evaluate.regression import conformal_halfwidth
from datawheel.evaluate.selection import Selection
from datawheel.registry.versions import ModelVersion, register_model
from datawheel.store.roles import require
from datawheel.store.runs import finish_run, start_run
from datawheel.store.workspace import Workspace
from datawheel.train import FeatureColumns, TrainedModel, TrainResult
from datawheel.train.auto import choose
from datawheel.train.checkpoint import checkpoint_key
from datawheel.train.distributed import dist_info
from datawheel.train.families import FAMILIES, fit_family, refit
from datawheel.train.task import infer_task
from datawheel.train.tracking import MlflowTracker

__all__ = [
    "Candidate",
    "assess_model",
    "checkpoint_path",
    "families_for",
    "media_columns",
    "model_features",
    "register_candidate",
    "resolve_task",
    "train_candidate",
]

MLP_KINDS = ("mlp", "tabular", "text", "multimodal")


@dataclass
class Candidate:
    model: TrainedModel
    assessment: Assessment
    latency_p99_ms: float
    run_id: str
    result: TrainResult
    selection: Selection | None = None  # model.kind auto: every candidate's figures


def model_features(config: ProjectConfig, frame: pl.DataFrame) -> FeatureColumns:
    """The model's inputs by ``model.kind``: never the target, id, time, PII or ignored columns.

    ``tabular`` uses numeric and categorical columns, ``text`` only the text columns,
    ``multimodal`` both, and every other kind whatever the table has. Image and audio
    columns (``data.images``, ``data.audio``) go to every kind but ``tabular`` and ``text``.
    """
    schema = infer_schema(frame, config.data, pii_columns=config.privacy.columns)
    images, audio = media_columns(config)
    leave_out = {*images, *audio, *([config.data.time] if config.data.time else [])}
    numeric, categorical = feature_columns(schema)
    numeric = [c for c in numeric if c not in leave_out]
    categorical = [c for c in categorical if c not in leave_out]
    text = [name for name, info in schema.items() if info.role == "text" and name not in leave_out]
    kind = config.model.kind
    if kind in ("text", "multimodal") and not text:
        raise UsageError(
            f"model.kind is {kind!r} but the data has no text column",
            hint="list free-text columns in data.text, or use model.kind: tabular",
        )
    if kind == "tabular":
        text, images, audio = [], [], []
    elif kind == "text":
        numeric, categorical, images, audio = [], [], [], []
    return FeatureColumns(
        numeric=numeric, categorical=categorical, text=text, images=images, audio=audio
    )


def media_columns(config: ProjectConfig) -> tuple[list[str], list[str]]:
    """``data.images`` and ``data.audio``: the columns the fusion network encodes."""
    return list(config.data.images), list(config.data.audio)


def resolve_task(config: ProjectConfig, frame: pl.DataFrame) -> str:
    """``data.task``, or the task the target's values call for (``binary``, ``multiclass``,
    ``regression``) when it is ``auto``."""
    return infer_task(frame.get_column(config.data.target), declared=config.data.task)


def families_for(config: ProjectConfig) -> list[str]:
    """The families ``model.kind`` trains: all of them for ``auto``, else one."""
    kind = config.model.kind
    if config.train.privacy is not None:  # DP-SGD: only the network's training is private
        if kind in ("gbm", "linear"):
            raise UsageError(
                f"train.privacy (DP-SGD) trains the mlp; model.kind {kind!r} would not be private",
                hint="set model.kind: mlp (or auto, which then trains the mlp only)",
            )
        return ["mlp"]
    images, audio = media_columns(config)
    if (images or audio) and kind not in ("tabular", "text"):
        if kind in ("gbm", "linear"):
            raise UsageError(
                f"model.kind {kind!r} cannot read image or audio columns",
                hint="use model.kind: auto or mlp (the fusion network), or tabular to leave "
                "the media out",
            )
        return ["mlp"]  # auto: only the network reads pixels and waveforms
    if kind == "auto":
        return list(FAMILIES)
    return ["mlp"] if kind in MLP_KINDS else [kind]


def assess_model(
    config: ProjectConfig, model: Any, frame: pl.DataFrame, *, intersections: bool = False
) -> Assessment:
    """``assess`` with the project's choices: primary metric, positive class, confidence, and
    the minimum group size of the gated fairness gap."""
    return assess(
        model,
        frame,
        target=config.data.target,
        sensitive=config.data.sensitive,
        intersections=intersections,
        metric=config.evaluate.metric,
        positive=config.data.positive_class,
        confidence=config.gates.confidence,
        min_group_size=config.gates.min_group_size,
    )


def checkpoint_path(ws: Workspace, config: ProjectConfig, fingerprints: list[str]) -> Path:
    """``<workspace>/checkpoints/<key>/last.pt``; the key hashes the data and the settings.

    Device and precision are left out of the key: a run may resume on other hardware.
    """
    train = config.train.model_dump(exclude={"device", "precision"})
    key = checkpoint_key(fingerprints, config.model.model_dump(), train)
    return ws.root / "checkpoints" / key / "last.pt"


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
    fingerprints: list[str] | None = None,
    resume: bool = False,
    optional_inputs: list[str] | None = None,
) -> Candidate | None:
    """Fit on ``train`` (early stopping on ``val``), score on ``test``, track it as a run.

    ``fingerprints`` (of the train and val datasets) turn on per-epoch checkpoints under the
    workspace when ``train.checkpoint`` is set; ``resume`` continues a matching one.
    ``optional_inputs``: columns that had missing values before cleaning imputed them; with
    the columns missing in ``train`` they may be left out of a served request. Under DDP
    every rank trains, but only rank 0 writes the run and assesses: other ranks get None.
    """
    require(ws, "train")
    dist = dist_info()
    features = model_features(config, train)
    task = resolve_task(config, train)
    families = families_for(config)
    fingerprint = ",".join(fingerprints or [])
    ckpt = (
        checkpoint_path(ws, config, fingerprints)
        if fingerprints and config.train.checkpoint
        else None
    )
    run_params = {
        "model": config.model.model_dump(),
        "train": config.train.model_dump(),
        "features": {
            "numeric": features.numeric,
            "categorical": features.categorical,
            "text": features.text,
            "images": features.images,
            "audio": features.audio,
        },
        "rows": {"train": train.height, "val": val.height, "test": test.height},
        "task": task,
        "families": families,
        "privacy": dict(config.privacy.columns),  # read by `status` without loading the model
        "dataset_fingerprint": fingerprint,
        "world_size": dist.world_size,
        **(params or {}),
    }
    run_id = (
        start_run(ws, kind=kind, params=run_params, dataset_id=dataset_id) if dist.is_main else ""
    )
    tracker = MlflowTracker.start(config.name, kind, run_params) if dist.is_main else None
    try:
        results = {
            family: fit_family(
                family, train, val, features=features, target=config.data.target, task=task,
                model_config=config.model, train_config=config.train, progress=progress,
                clean_config=config.clean,
                **({"checkpoint_path": ckpt, "resume": resume, "fingerprint": fingerprint,
                    "on_epoch": tracker.log_epoch if tracker else None}
                   if family == "mlp" else {}),
            )
            for family in families
        }  # fmt: skip
        if not dist.is_main:
            return None
        selection = (
            choose(results, val, config.data.target, task, metric=config.evaluate.metric,
                   positive=config.data.positive_class)
            if len(results) > 1 else None
        )  # fmt: skip
        result = results[selection.chosen if selection else families[0]]
        _describe(result.model, train, val, config, task, selection)  # on held-out val
        if config.train.refit:
            result = refit(
                result, train, val, features=features, target=config.data.target, task=task,
                model_config=config.model, train_config=config.train,
                clean_config=config.clean,
            )  # fmt: skip
        missing = set(optional_inputs or [])
        result.model.extras["optional_inputs"] = [
            c for c in result.model.input_schema
            if c in missing or (c in train.columns and train[c].null_count())
        ]  # fmt: skip
        _remember_training(result.model, train, config.data.target)
        assessment = assess_model(config, result.model, test)
        latency = latency_p99_ms(result.model, test)
        if result.privacy is not None:  # the epsilon spent travels with the version's metrics
            assessment.metrics["privacy"] = result.privacy
    except BaseException:
        if dist.is_main:
            finish_run(ws, run_id, status="failed", metrics={}, history=[])
            if tracker:
                tracker.end("FAILED", {})
        raise
    metrics = {
        **_headline(assessment.metrics),
        "task": task,
        "family": result.model.family,
        "fairness_gap": assessment.gap,
        "latency_p99_ms": latency,
        "best_epoch": result.best_epoch,
        "seconds": result.seconds,
        "resumed_from_epoch": result.resumed_from,
        **({"dp_epsilon": result.privacy["epsilon"]} if result.privacy else {}),
        **({"media_rejected": result.media_rejected} if result.media_rejected else {}),
    }
    if selection is not None:
        metrics["selection"] = selection.to_dict()
    finish_run(
        ws,
        run_id,
        status="finished",
        metrics=metrics,
        history=result.history,
        extra_env={
            "device": result.device,
            "precision": result.precision,
            "world_size": dist.world_size,
        },
    )
    if tracker:
        tracker.end("FINISHED", metrics)
    return Candidate(result.model, assessment, latency, run_id, result, selection)


def _describe(
    model: TrainedModel,
    train: pl.DataFrame,
    val: pl.DataFrame,
    config: ProjectConfig,
    task: str,
    selection: Selection | None,
) -> None:
    """Facts stored with the model: the task, the candidates, and for a regression the
    training mean (the baseline) and the conformal prediction interval from validation."""
    model.extras["task"] = task
    model.extras["privacy"] = dict(config.privacy.columns)  # the policy it was trained under
    if selection is not None:
        model.extras["selection"] = selection.to_dict()
    if task != "regression":
        return
    target = config.data.target
    model.extras["target_mean"] = float(train.get_column(target).cast(pl.Float64).to_numpy().mean())
    coverage = config.train.interval
    halfwidth = conformal_halfwidth(
        val.get_column(target).cast(pl.Float64).to_list(),
        model.predict_values(val),
        coverage=coverage,
    )
    model.extras["interval"] = {"coverage": coverage, "halfwidth": halfwidth, "rows": val.height}


def register_candidate(
    ws: Workspace,
    candidate: Candidate,
    *,
    dataset_id: str,
    eval_dataset_id: str | None,
    split: dict[str, Any] | None = None,
    notes: str = "",
    first_is_champion: bool = True,
) -> ModelVersion:
    """Record ``candidate`` as a new model version (champion if there is none and
    ``first_is_champion``, else challenger), with its assessment on the held-out rows: all
    metrics, the primary metric against the baseline, the gated fairness gap (or why it is not
    measurable) and the p99 latency the promotion gate reads, how the data was split, the
    fairness report, and its training run."""
    assessment = candidate.assessment
    return register_model(
        ws,
        candidate.model,
        dataset_id=dataset_id,
        eval_dataset_id=eval_dataset_id,
        run_id=candidate.run_id,
        metrics={
            **assessment.metrics,
            "latency_p99_ms": candidate.latency_p99_ms,
            "fairness_gap": assessment.gap,
            "primary": assessment.primary,
            "fairness_gate": assessment.gated.to_dict() if assessment.gated else None,
            "split": split or {},
        },
        fairness=assessment.fairness,
        notes=notes,
        first_is_champion=first_is_champion,
    )


def _remember_training(model: Any, train: pl.DataFrame, target: str) -> None:
    """Keep the training class shares with the model: the honest trivial baseline (the
    majority of *training*, not of the rows being scored)."""
    extras = getattr(model, "extras", None)
    classes = list(getattr(model, "classes", []) or [])
    if extras is None or not classes:
        return
    counts = train[target].cast(pl.String).value_counts()
    by_class = dict(zip(counts[target].to_list(), counts["count"].to_list(), strict=True))
    total = sum(by_class.values())
    extras["class_prior"] = [by_class.get(c, 0) / total for c in classes]


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = ("accuracy", "balanced_accuracy", "f1", "macro_f1", "roc_auc", "log_loss",
            "rmse", "mae", "r2", "baseline", "n", "primary_metric")  # fmt: skip
    return {k: metrics[k] for k in keys if k in metrics}
