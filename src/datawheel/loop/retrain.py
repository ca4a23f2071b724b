"""Retraining data: the base training set plus feedback-labeled rows, and a shared holdout."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import polars as pl

from datawheel.config import ProjectConfig
from datawheel.errors import UsageError
from datawheel.loop.feedback import labeled_feedback
from datawheel.registry import ModelVersion
from datawheel.store.datasets import DatasetRecord, get_dataset, load_frame, save_dataset
from datawheel.store.workspace import Workspace

__all__ = ["RetrainData", "feedback_frame", "prepare_retrain_data"]


@dataclass
class RetrainData:
    train: pl.DataFrame
    val: pl.DataFrame
    eval: pl.DataFrame  # the champion's held-out test set + held-out feedback
    feedback_holdout: pl.DataFrame
    train_record: DatasetRecord
    eval_record: DatasetRecord
    feedback_rows: int


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


def prepare_retrain_data(
    ws: Workspace, config: ProjectConfig, champion: ModelVersion
) -> RetrainData:
    """Base training set (never itself feedback-augmented) + all labeled feedback but a holdout."""
    champion_train = get_dataset(ws, champion.dataset_id)
    base = get_dataset(ws, champion_train.stats.get("base_train", champion_train.id))
    links = base.stats
    if "val" not in links or "test" not in links:
        raise UsageError(f"dataset {base.id} does not record its validation and test sets")
    base_frame = load_frame(ws, base)
    target = config.data.target
    rows = labeled_feedback(ws)
    fraction = config.loop.holdout_fraction
    held = [r for r in rows if _in_holdout(r["prediction_id"], fraction)]
    used = [r for r in rows if not _in_holdout(r["prediction_id"], fraction)]
    train_part = feedback_frame(used, base_frame, target=target).unique(maintain_order=True)
    holdout = feedback_frame(held, base_frame, target=target)
    train = pl.concat([base_frame, train_part], how="vertical")
    test = load_frame(ws, links["test"])
    eval_frame = pl.concat([test, holdout], how="vertical")
    subjects = [r["subject"] for r in used if r["subject"]]
    id_col = config.data.id
    if id_col and id_col in base_frame.columns:
        subjects += base_frame[id_col].drop_nulls().cast(pl.String).to_list()
    train_record = save_dataset(
        ws,
        train,
        name="train+feedback",
        kind="train",
        encrypted=True,
        parent_id=base.id,
        stats={**links, "base_train": base.id, "feedback_rows": train_part.height},
        subjects=subjects,
    )
    eval_subjects = [r["subject"] for r in held if r["subject"]]
    if id_col and id_col in test.columns:
        eval_subjects += test[id_col].drop_nulls().cast(pl.String).to_list()
    eval_record = save_dataset(
        ws,
        eval_frame,
        name="test+feedback-holdout",
        kind="test",
        encrypted=True,
        parent_id=links["test"],
        stats={"feedback_holdout_rows": holdout.height},
        subjects=eval_subjects,
    )
    return RetrainData(
        train=train,
        val=load_frame(ws, links["val"]),
        eval=eval_frame,
        feedback_holdout=holdout,
        train_record=train_record,
        eval_record=eval_record,
        feedback_rows=train_part.height,
    )
