"""Traffic and feedback written through the store, as the server writes them (no HTTP)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import polars as pl
from sqlalchemy import insert

from datawheel.config import ProjectConfig
from datawheel.io import read_table
from datawheel.privacy.anonymize import Anonymizer
from datawheel.registry.versions import get_version, load_version_model
from datawheel.store.db import feedback, predictions, tenants
from datawheel.store.workspace import Workspace

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def income_rows(start: int, stop: int) -> pl.DataFrame:
    """Rows of the bundled income data the session's trained project never saw (it kept 2,000)."""
    path = resources.files("datawheel.examples") / "income" / "data" / "adult.csv.gz"
    with resources.as_file(path) as local:
        return read_table(local).slice(start, stop - start)


def add_tenant(ws: Workspace, name: str) -> str:
    tenant_id = f"t_{name}"
    with ws.engine.begin() as conn:
        conn.execute(
            insert(tenants).values(id=tenant_id, name=name, plan="pro", created_at=iso(NOW))
        )
    return tenant_id


def serve_and_label(
    ws: Workspace,
    config: ProjectConfig,
    frame: pl.DataFrame,
    *,
    tenant_id: str | None = None,
    version: str = "champion",
    labels: str = "true",  # "true" | "random" | "none"
    at: datetime | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Predict ``frame`` with ``version`` as the server would, log it, then send feedback."""
    rng = random.Random(seed)
    target = config.data.target
    served = get_version(ws, version)
    model = load_version_model(ws, served)
    anonymizer = Anonymizer(config.privacy, ws.secret_key(), id_column=config.data.id)
    rows = [anonymizer.row({k: v for k, v in r.items() if k != target}) for r in frame.to_dicts()]
    proba = model.predict_proba(rows)
    classes = list(model.classes)
    created = iso(at or datetime.now(UTC))
    records = [
        {
            "id": uuid.uuid4().hex,
            "tenant_id": tenant_id,
            "model_version": served.id,
            "subject": row.get(config.data.id),
            "features": row,
            "label": classes[int(p.argmax())],
            "probabilities": dict(zip(classes, p.tolist(), strict=True)),
            "latency_ms": 1.0,
            "shadow": False,
            "created_at": created,
            "request_id": uuid.uuid4().hex,
        }
        for row, p in zip(rows, proba, strict=True)
    ]
    truths = frame[target].to_list()
    notes = []
    for rec, truth in zip(records, truths, strict=True):
        label = {"true": truth, "random": rng.choice(classes), "none": None}[labels]
        notes.append(
            {
                "id": uuid.uuid4().hex,
                "prediction_id": rec["id"],
                "tenant_id": tenant_id,
                "subject": rec["subject"],
                "label": label,
                "issue": None if label == rec["label"] else "wrong_prediction",
                "rating": 5 if label == rec["label"] else 1,
                "created_at": created,
            }
        )
    with ws.engine.begin() as conn:
        conn.execute(insert(predictions), records)
        if labels != "none":
            conn.execute(insert(feedback), notes)
    return records


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)
