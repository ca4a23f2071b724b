"""Drift of the model's outputs: served predictions vs the model's predictions on its held-out
set — predicted values (regression, PSI over deciles) or predicted classes (PSI over labels).

A shift in what the model answers can show before labels come back and even when no single
input drifted much. The reference is computed from the held-out set once per check (no raw
rows are stored); too few recent requests means not judged, as for feature drift.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from datawheel.config import LoopConfig
from datawheel.loop.drift import compare
from datawheel.loop.window import since
from datawheel.registry.versions import ModelVersion, load_version_model
from datawheel.store.datasets import load_frame
from datawheel.store.db import predictions, reading
from datawheel.store.workspace import Workspace

__all__ = ["PREDICTION_FEATURE", "PredictionDrift", "prediction_drift"]

PREDICTION_FEATURE = "(prediction)"  # the name drift alerts and the policy show


@dataclass(frozen=True)
class PredictionDrift:
    psi: float
    kind: str  # numeric (values) or categorical (classes)
    n_reference: int
    n_recent: int


def _recent_labels(
    ws: Workspace, version: str, policy: LoopConfig, now: datetime | None
) -> list[str]:
    stmt = (
        select(predictions.c.label)
        .where(predictions.c.model_version == version, predictions.c.shadow.is_(False))
        .order_by(predictions.c.created_at.desc())
        .limit(policy.drift_recent_requests)
    )
    cutoff = since(policy.drift_window, now)
    if cutoff:
        stmt = stmt.where(predictions.c.created_at >= cutoff)
    with reading(ws.engine) as conn:
        return list(conn.execute(stmt).scalars())


def prediction_drift(
    ws: Workspace, version: ModelVersion, policy: LoopConfig, *, now: datetime | None = None
) -> PredictionDrift | None:
    """PSI of the served outputs against the held-out ones; None when not judged."""
    recent = _recent_labels(ws, version.id, policy, now)
    if len(recent) < policy.drift_min_requests or not version.eval_dataset_id:
        return None
    model = load_version_model(ws, version)
    held_out = load_frame(ws, version.eval_dataset_id)
    served: list[Any]
    if model.is_regression:
        reference_values: list[Any] = model.predict_values(held_out).tolist()
        kind, served = "numeric", [float(v) for v in recent]
    else:
        proba = model.predict_proba(held_out)
        reference_values = [model.classes[i] for i in np.argmax(proba, axis=1)]
        kind, served = "categorical", list(recent)
    from datawheel.loop.drift import build_reference

    reference = build_reference({PREDICTION_FEATURE: reference_values}, {PREDICTION_FEATURE: kind})
    result = compare(reference, {PREDICTION_FEATURE: served})[0]
    n_reference = (
        len(reference_values) if kind == "numeric" else sum(Counter(reference_values).values())
    )
    return PredictionDrift(result.psi, kind, n_reference, len(served))
