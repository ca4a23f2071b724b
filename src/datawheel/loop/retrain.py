"""Retraining data: the base training set plus trusted feedback-labeled rows, a stable holdout."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from datawheel.config import ProjectConfig
from datawheel.errors import UsageError
from datawheel.loop.feedback import labeled_feedback
from datawheel.loop.trust import erased, suspicious_tenants, tenant_agreement
from datawheel.registry.versions import ModelVersion
from datawheel.store.datasets import DatasetRecord, get_dataset, load_frame, save_dataset
from datawheel.store.workspace import Workspace

__all__ = ["RetrainData", "base_dataset", "feedback_frame", "prepare_retrain_data"]


@dataclass
class RetrainData:
    train: pl.DataFrame
    val: pl.DataFrame
    eval: pl.DataFrame  # the champion's held-out test set + held-out feedback
    feedback_holdout: pl.DataFrame
    train_record: DatasetRecord
    eval_record: DatasetRecord
    feedback_rows: int
    excluded: dict[str, Any] = field(default_factory=dict)  # what was left out, and why
    split: dict[str, Any] = field(default_factory=dict)  # how the base data was split


def _in_holdout(prediction_id: str, fraction: float) -> bool:
    """Stable assignment: the same feedback row is held out in every loop run."""
    bucket = int.from_bytes(hashlib.sha256(prediction_id.encode()).digest()[:4], "big")
    return bucket / 2**32 < fraction


def feedback_frame(rows: list[dict[str, Any]], like: pl.DataFrame, *, target: str) -> pl.DataFrame:
    """Feedback rows as a table with ``like``'s columns and types (absent fields become null)."""
    records = [{**r["features"], target: r["label"]} for r in rows]
    if not records:
        return like.clear()
    columns = []
    for name, dtype in like.schema.items():
        values = [rec.get(name) for rec in records]
        if dtype == pl.String:
            values = [None if v is None else str(v) for v in values]
            columns.append(pl.Series(name, values, dtype=pl.String))
        else:
            columns.append(pl.Series(name, values, strict=False).cast(dtype, strict=False))
    return pl.DataFrame(columns)


def base_dataset(ws: Workspace, champion: ModelVersion) -> DatasetRecord:
    """The set retraining starts from: the champion's original (never feedback-augmented)
    training set. A champion is never tainted; a tainted version is never consulted."""
    if champion.stage == "tainted":
        raise UsageError(f"{champion.id} is tainted and cannot seed a retrain")
    champion_train = get_dataset(ws, champion.dataset_id)
    base = get_dataset(ws, champion_train.stats.get("base_train", champion_train.id))
    if "val" not in base.stats or "test" not in base.stats:
        raise UsageError(f"dataset {base.id} does not record its validation and test sets")
    return base


def _without_subjects(frame: pl.DataFrame, id_col: str | None, gone: set[str]) -> pl.DataFrame:
    if not gone or not id_col or id_col not in frame.columns:
        return frame
    return frame.filter(~pl.col(id_col).cast(pl.String).is_in(sorted(gone)).fill_null(False))


def _trusted_feedback(
    ws: Workspace, config: ProjectConfig, gone: set[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = labeled_feedback(ws)
    kept = [r for r in rows if not (r["subject"] and r["subject"] in gone)]
    excluded: dict[str, Any] = {"erased_feedback_rows": len(rows) - len(kept)}
    if config.loop.poison_filter:
        agreements = tenant_agreement(kept)
        dropped = suspicious_tenants(agreements, config.loop)
        if dropped:
            excluded["tenants"] = {str(t): why for t, why in dropped.items()}
            excluded["tenant_feedback_rows"] = sum(r["tenant_id"] in dropped for r in kept)
            kept = [r for r in kept if r["tenant_id"] not in dropped]
        excluded["tenant_agreement"] = {str(a.tenant_id): round(a.agreement, 4) for a in agreements}
    return kept, excluded


def _subjects(frame: pl.DataFrame, id_col: str | None, rows: list[dict[str, Any]]) -> list[str]:
    subjects = [r["subject"] for r in rows if r["subject"]]
    if id_col and id_col in frame.columns:
        subjects += frame[id_col].drop_nulls().cast(pl.String).to_list()
    return subjects


def _keep_out_of_training(
    part: pl.DataFrame,
    protected: list[pl.DataFrame],
    columns: list[str],
    id_col: str | None,
    excluded: dict[str, Any],
) -> pl.DataFrame:
    """Feedback rows bound for training minus any that are the same input as a test,
    validation or held-out row, or that come from a subject of the test or validation split:
    a model must never train on what it is judged on."""
    if part.is_empty():
        return part
    columns = [c for c in columns if c in part.columns]
    reference = pl.concat([f.select(columns) for f in protected], how="vertical_relaxed")
    before = part.height
    if columns and reference.height:
        part = part.join(
            reference.unique().cast(part.select(columns).schema),
            on=columns,
            how="anti",
            nulls_equal=True,
        )
    excluded["feedback_rows_matching_evaluation_rows"] = before - part.height
    subjects: set[str] = set()
    if id_col:
        for frame in protected:
            if id_col in frame.columns:
                subjects |= set(frame[id_col].drop_nulls().cast(pl.String).to_list())
    before = part.height
    if subjects and id_col in part.columns:
        part = part.filter(~pl.col(id_col).cast(pl.String).is_in(sorted(subjects)).fill_null(False))
    excluded["feedback_rows_of_evaluation_subjects"] = before - part.height
    return part


def prepare_retrain_data(
    ws: Workspace, config: ProjectConfig, champion: ModelVersion
) -> RetrainData:
    """Base training set + trusted labeled feedback but a holdout; erased subjects left out."""
    base = base_dataset(ws, champion)
    links = base.stats
    id_col, target = config.data.id, config.data.target
    gone = erased(ws)
    base_frame = load_frame(ws, base)
    cleaned_base = _without_subjects(base_frame, id_col, gone)
    rows, excluded = _trusted_feedback(ws, config, gone)
    excluded["erased_base_rows"] = base_frame.height - cleaned_base.height
    fraction = config.loop.holdout_fraction
    held = [r for r in rows if _in_holdout(r["prediction_id"], fraction)]
    used = [r for r in rows if not _in_holdout(r["prediction_id"], fraction)]
    train_part = feedback_frame(used, base_frame, target=target).unique(maintain_order=True)
    holdout = feedback_frame(held, base_frame, target=target).unique(maintain_order=True)
    test = _without_subjects(load_frame(ws, links["test"]), id_col, gone)
    val = _without_subjects(load_frame(ws, links["val"]), id_col, gone)
    train_part = _keep_out_of_training(
        train_part, [test, val, holdout], list(champion.input_schema), id_col, excluded
    )
    train = pl.concat([cleaned_base, train_part], how="vertical")
    eval_frame = pl.concat([test, holdout], how="vertical")
    train_record = save_dataset(
        ws,
        train,
        name="train+feedback",
        kind="train",
        encrypted=True,
        parent_id=base.id,
        stats={
            **links,
            "base_train": base.id,
            "feedback_rows": train_part.height,
            "excluded": excluded,
        },
        subjects=_subjects(cleaned_base, id_col, used),
    )
    eval_record = save_dataset(
        ws,
        eval_frame,
        name="test+feedback-holdout",
        kind="test",
        encrypted=True,
        parent_id=links["test"],
        stats={"feedback_holdout_rows": holdout.height},
        subjects=_subjects(test, id_col, held),
    )
    return RetrainData(
        train=train,
        val=val,
        eval=eval_frame,
        feedback_holdout=holdout,
        train_record=train_record,
        eval_record=eval_record,
        feedback_rows=train_part.height,
        excluded=excluded,
        split=links.get("split", {}),
    )
