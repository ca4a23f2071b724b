"""The HTTP API: ``create_app(config, workspace)`` — predictions, explanations, feedback, usage,
models, health and metrics. Handlers only translate HTTP to ``Service`` calls."""

# No `from __future__ import annotations` here: FastAPI must see the closure-local model types
# in the handler signatures.

import math
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select, text

from datawheel import __version__
from datawheel.config import ProjectConfig
from datawheel.errors import NotFoundError, UsageError
from datawheel.registry.versions import list_versions
from datawheel.serve.docs import install_offline_docs
from datawheel.serve.errors import Unavailable, install_error_handlers
from datawheel.serve.fastlane import LanedApp
from datawheel.serve.limits import current_month
from datawheel.serve.metering import month_usage
from datawheel.serve.schema import rows_model
from datawheel.serve.service import Clocks, Service
from datawheel.serve.tenants import Principal
from datawheel.store.db import feedback, now_iso, predictions, reading
from datawheel.store.feedback_counts import count_feedback
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace

__all__ = ["create_app", "scrub_comment"]


class Prediction(BaseModel):
    id: str
    label: str
    probabilities: dict[str, float]


class ValuePrediction(BaseModel):
    """A regression's answer: the value and a prediction interval (conformal, from the
    validation residuals; its coverage is on the model card)."""

    id: str
    value: float
    interval: list[float] | None = None


class PredictResponse(BaseModel):
    model_version: str
    predictions: list[Prediction | ValuePrediction]


class TextTokens(BaseModel):
    values: list[tuple[str, float]]  # (word, value), largest |value| first
    rest: float  # what the text's other words and absent n-grams add


class Explanation(BaseModel):
    label: str | None  # None for a regression (the value is explained)
    base_value: float
    values: dict[str, float]
    scale: str | None = None  # probability | log_odds | class_score | value
    tokens: dict[str, TextTokens] | None = None  # per text column: the words' values


class ExplainResponse(BaseModel):
    model_version: str
    explanations: list[Explanation]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prediction_id: str = Field(max_length=64)
    # the true class, or the true value of a regression (a number)
    label: str | float | None = Field(default=None, union_mode="left_to_right")
    issue: str | None = Field(default=None, max_length=80)
    comment: str | None = Field(default=None, max_length=5000)
    rating: int | None = Field(default=None, ge=1, le=5)


class FeedbackResponse(BaseModel):
    id: str


def scrub_comment(comment: str) -> str:
    """The comment with every PII span found by ``scan_pii`` replaced by ``[TYPE]``."""
    from datawheel.privacy.scan import scan_pii

    spans = scan_pii([comment])[0]
    for span in sorted(spans, key=lambda s: s.start, reverse=True):
        comment = comment[: span.start] + f"[{span.type}]" + comment[span.end :]
    return comment


def feedback_label(label: str | float | None, served: dict[str, Any]) -> str | None:
    """The label as stored: one of the classes, or a regression's true value as a number
    (``served`` is what the prediction logged: class probabilities, or ``{"value", …}``)."""
    if label is None:
        return None
    if "value" in served and set(served) <= {"value", "low", "high"}:
        try:
            number = float(label)
        except (TypeError, ValueError):
            raise UsageError(
                f"label {label!r} is not a number", where="label",
                hint="this model predicts a value: send the true value as a number",
            ) from None  # fmt: skip
        if not math.isfinite(number):
            raise UsageError("label must be a finite number", where="label")
        return repr(number)
    text = label if isinstance(label, str) else _category_text(label)
    if text not in served:
        raise UsageError(
            f"unknown label {label!r}", where="label", hint=f"one of {', '.join(served)}"
        )
    return text


def _category_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def create_app(
    config: ProjectConfig,
    ws: Workspace,
    *,
    refresh_seconds: float = 0.5,
    clocks: Clocks | None = None,
    extra_metrics: Callable[[], Iterable[str]] | None = None,
) -> FastAPI:
    """The app for one project and workspace; ``app.state.service`` holds its worker state.

    ``extra_metrics`` adds Prometheus lines computed elsewhere (e.g. drift, by the offline
    half), so serve never imports loop.
    """
    require(ws, "serve")
    service = Service(config, ws, refresh_seconds=refresh_seconds, clocks=clocks)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = LanedApp(
        title=f"datawheel — {config.name}",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Predictions, explanations and feedback for the served champion. "
        "Authenticate with `Authorization: Bearer dw_<id>_<secret>`.",
    )
    app.state.service = service
    install_error_handlers(app)
    install_offline_docs(app)
    app.attach(service)
    bearer = HTTPBearer(auto_error=False)
    version = service.holder.current()[0]
    request_model = rows_model(
        "Predict",
        service.validator.schema,
        service.optional_fields,
        max_rows=config.serve.max_rows_per_request,
        nullable=service.validator.nullable,
    )

    def caller(action: str) -> Callable[[HTTPAuthorizationCredentials | None], Principal]:
        def dependency(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> Principal:
            header = f"Bearer {credentials.credentials}" if credentials else None
            return service.principal(header, action)

        return dependency

    @app.post(
        "/v1/predict",
        response_model=PredictResponse,
        summary=f"Predict with the champion (served at start: {version})",
        responses={413: {}, 422: {}, 429: {}},
    )
    async def predict(
        body: request_model,  # type: ignore[valid-type]
        _who: Annotated[Principal, Depends(caller("predict"))],
        request: Request,
    ) -> Any:
        # Served by FastLane before reaching here; kept for OpenAPI and in-process clients.
        return await service.predict(request.headers.get("authorization"), await request.body())

    @app.post(
        "/v1/explain",
        response_model=ExplainResponse,
        summary="Per-feature attributions: base value + sum of values = the label's probability",
        responses={413: {}, 422: {}, 429: {}, 503: {}},
    )
    async def explain(
        body: request_model,  # type: ignore[valid-type]
        _who: Annotated[Principal, Depends(caller("explain"))],
        request: Request,
    ) -> Any:
        return await service.explain(request.headers.get("authorization"), await request.body())

    @app.post(
        "/v1/feedback",
        status_code=201,
        response_model=FeedbackResponse,
        responses={404: {}, 422: {}},
    )
    def give_feedback(
        body: FeedbackRequest, who: Annotated[Principal, Depends(caller("feedback"))]
    ) -> Any:
        found = _find_prediction(body.prediction_id, who)
        label = feedback_label(body.label, found.probabilities)
        comment = scrub_comment(body.comment) if body.comment else body.comment
        feedback_id, created_at = uuid.uuid4().hex, now_iso()
        with ws.engine.begin() as conn:
            conn.execute(
                insert(feedback).values(
                    id=feedback_id,
                    prediction_id=body.prediction_id,
                    tenant_id=who.tenant_id,
                    subject=found.subject,
                    label=label,
                    issue=body.issue,
                    comment=comment,
                    rating=body.rating,
                    created_at=created_at,
                )
            )
            count_feedback(
                conn,
                created_at=created_at,
                issue=body.issue,
                model_version=found.model_version,
                tenant_id=who.tenant_id,
                label=body.label,
                predicted=found.label,
            )
        service.writer.meter(who.tenant_id, "feedback", 1)
        return {"id": feedback_id}

    def _find_prediction(prediction_id: str, who: Principal) -> Any:
        service.writer.flush()  # this worker's recent predictions are in the database
        for attempt in range(2):
            with reading(ws.engine) as conn:
                row = conn.execute(
                    select(
                        predictions.c.tenant_id,
                        predictions.c.subject,
                        predictions.c.probabilities,
                        predictions.c.shadow,
                        predictions.c.model_version,
                        predictions.c.label,
                    ).where(predictions.c.id == prediction_id)
                ).first()
            if row is not None:
                break
            if attempt == 0:  # another worker may still hold it in its write-behind queue
                time.sleep(3 * config.serve.log_flush_ms / 1000)
        if row is None or row.tenant_id != who.tenant_id or row.shadow:
            raise NotFoundError(f"no prediction {prediction_id!r}", where="prediction_id")
        return row

    @app.get("/v1/models", summary="Model versions, their stages, and what this server serves")
    def models(_who: Annotated[Principal, Depends(caller("models"))]) -> Any:
        served = service.holder.current()[0]
        shadow = service.holder.shadow()
        return {
            "serving": {"champion": served, "shadow": shadow[0] if shadow else None},
            "versions": [
                {
                    "id": v.id,
                    "stage": v.stage,
                    "created_at": v.created_at,
                    "stage_changed_at": v.stage_changed_at,
                    "metrics": v.metrics,
                    "input_schema": v.input_schema,
                }
                for v in list_versions(ws)
            ],
        }

    @app.get("/v1/usage", summary="The caller's tenant: this month's usage and remaining quota")
    def tenant_usage(who: Annotated[Principal, Depends(caller("usage"))]) -> Any:
        service.writer.flush()
        month = current_month(service.clocks.wall())
        metered = month_usage(ws, tenant_id=who.tenant_id, month=month)
        plan = config.serve.plans.get(who.plan)
        quota = plan.monthly_quota if plan else 0
        leased = service.limiter.leased_quota(who.tenant_id, month)
        remaining = max(0, quota - int(metered["quota_rows_reserved"]) + leased)  # type: ignore[call-overload]
        return {
            "tenant": who.tenant,
            "plan": who.plan,
            "month": month,
            "requests_per_minute": plan.requests_per_minute if plan else 0,
            "quota": {"rows": quota, "used": metered["quota_rows_used"], "remaining": remaining},
            "endpoints": metered["totals"],
            "days": metered["days"],
        }

    @app.get("/healthz", summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="A model is loaded and the database answers")
    def readyz() -> Any:
        try:
            with reading(ws.engine) as conn:
                conn.execute(text("SELECT 1"))
            served = service.holder.current()[0]
        except Exception as exc:  # not ready, whatever the cause: the body says which
            raise Unavailable(f"not ready: {type(exc).__name__}") from None
        return {"status": "ready", "model_version": served}

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    def metrics() -> Response:
        served = service.holder.current()[0]
        service.metrics.models = {"champion": served}
        shadow = service.holder.shadow()
        if shadow:
            service.metrics.models["shadow"] = shadow[0]
        body = service.metrics.render()
        if extra_metrics is not None:
            lines = "\n".join(extra_metrics())
            body = body.rstrip("\n") + ("\n" + lines if lines else "") + "\n"
        return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return app
