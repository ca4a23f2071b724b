"""The HTTP API: ``create_app(config, workspace)`` — predictions, feedback, health."""

# No `from __future__ import annotations` here: FastAPI must see the closure-local dependency
# types in the handler signatures.

import time
import uuid
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select

from datawheel import __version__
from datawheel.config import ProjectConfig
from datawheel.errors import NotFoundError, Unauthenticated, UsageError
from datawheel.privacy.anonymize import Anonymizer
from datawheel.serve.errors import install_error_handlers
from datawheel.serve.metering import record_usage
from datawheel.serve.models import ModelHolder
from datawheel.serve.tenants import Principal, authenticate
from datawheel.store.db import feedback, now_iso, predictions
from datawheel.store.workspace import Workspace

__all__ = ["create_app"]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: list[dict[str, Any]] = Field(min_length=1, description="input rows, one object each")


class Prediction(BaseModel):
    id: str
    label: str
    probabilities: dict[str, float]


class PredictResponse(BaseModel):
    model_version: str
    predictions: list[Prediction]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prediction_id: str
    label: str | None = None
    issue: str | None = Field(default=None, max_length=80)
    comment: str | None = Field(default=None, max_length=5000)
    rating: int | None = Field(default=None, ge=1, le=5)


class FeedbackResponse(BaseModel):
    id: str


def create_app(config: ProjectConfig, ws: Workspace, *, refresh_seconds: float = 0.5) -> FastAPI:
    """The app for one project and workspace; every handler calls library code."""
    app = FastAPI(title=f"datawheel — {config.name}", version=__version__)
    install_error_handlers(app)
    holder = ModelHolder(ws, refresh_seconds=refresh_seconds)
    anonymizer = Anonymizer(config.privacy, ws.secret_key(), id_column=config.data.id)
    id_column = config.data.id
    max_rows = config.serve.max_rows_per_request

    def principal(authorization: Annotated[str | None, Header()] = None) -> Principal:
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthenticated("missing API key", hint="send Authorization: Bearer <key>")
        return authenticate(ws, authorization.removeprefix("Bearer ").strip())

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/predict", response_model=PredictResponse)
    def predict(body: PredictRequest, who: Annotated[Principal, Depends(principal)]) -> Any:
        if len(body.rows) > max_rows:
            raise UsageError(
                f"at most {max_rows} rows per request, got {len(body.rows)}", where="rows"
            )
        version, model = holder.current()
        rows = [anonymizer.row(r) for r in body.rows]
        started = time.perf_counter()
        proba = model.predict_proba(rows)
        latency_ms = (time.perf_counter() - started) * 1000 / len(rows)
        classes = list(model.classes)
        labels = [classes[i] for i in proba.argmax(axis=1)]
        created = now_iso()
        records = [
            {
                "id": uuid.uuid4().hex,
                "tenant_id": who.tenant_id,
                "model_version": version,
                "subject": row.get(id_column) if id_column else None,
                "features": row,
                "label": label,
                "probabilities": dict(zip(classes, p.tolist(), strict=True)),
                "latency_ms": latency_ms,
                "shadow": False,
                "created_at": created,
            }
            for row, label, p in zip(rows, labels, proba, strict=True)
        ]
        with ws.engine.begin() as conn:
            conn.execute(insert(predictions), records)
            record_usage(conn, tenant_id=who.tenant_id, endpoint="predict", rows=len(rows))
        return {
            "model_version": version,
            "predictions": [
                {"id": r["id"], "label": r["label"], "probabilities": r["probabilities"]}
                for r in records
            ],
        }

    @app.post("/v1/feedback", status_code=201, response_model=FeedbackResponse)
    def give_feedback(body: FeedbackRequest, who: Annotated[Principal, Depends(principal)]) -> Any:
        with ws.engine.begin() as conn:
            row = conn.execute(
                select(
                    predictions.c.tenant_id, predictions.c.subject, predictions.c.probabilities
                ).where(predictions.c.id == body.prediction_id)
            ).first()
            if row is None or row.tenant_id != who.tenant_id:  # another tenant's: not found
                raise NotFoundError(f"no prediction {body.prediction_id!r}", where="prediction_id")
            if body.label is not None and body.label not in row.probabilities:
                raise UsageError(
                    f"unknown label {body.label!r}",
                    where="label",
                    hint=f"one of {', '.join(row.probabilities)}",
                )
            feedback_id = uuid.uuid4().hex
            conn.execute(
                insert(feedback).values(
                    id=feedback_id,
                    prediction_id=body.prediction_id,
                    tenant_id=who.tenant_id,
                    subject=row.subject,
                    label=body.label,
                    issue=body.issue,
                    comment=body.comment,
                    rating=body.rating,
                    created_at=now_iso(),
                )
            )
            record_usage(conn, tenant_id=who.tenant_id, endpoint="feedback", rows=1)
        return {"id": feedback_id}

    return app
