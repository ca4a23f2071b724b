"""The HTTP API: ``create_app(config, workspace)`` — predictions, explanations, feedback, usage,
models, health and metrics. Handlers only translate HTTP to ``Service`` calls."""

# No `from __future__ import annotations` here: FastAPI must see the closure-local model types
# in the handler signatures.

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, create_model
from sqlalchemy import text

from datawheel import __version__
from datawheel.config import ProjectConfig
from datawheel.registry.versions import list_versions
from datawheel.serve.docs import install_offline_docs
from datawheel.serve.fastlane import LanedApp
from datawheel.serve.feedback_intake import FeedbackRequest
from datawheel.serve.http_errors import Unavailable, install_error_handlers
from datawheel.serve.limits import current_month
from datawheel.serve.metering import month_usage
from datawheel.serve.request_schema import rows_model
from datawheel.serve.service import Clocks, Service
from datawheel.serve.tenants import Principal
from datawheel.store.db import reading
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace

__all__ = ["ERRORS", "ErrorBody", "create_app"]


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
    rest: float  # the column's value less the words shown (other words, absent n-grams)
    # how the words were valued: shapley (linear, trees), integrated_gradients (hashed
    # n-grams) or occlusion (MiniLM); absent on answers of older versions
    method: str | None = None


class AudioSegment(BaseModel):
    start: float  # seconds from the clip's start
    end: float
    value: float  # how much silencing this segment lowers the explained output


class Explanation(BaseModel):
    label: str | None  # None for a regression (the value is explained)
    base_value: float
    values: dict[str, float]  # per feature; per modality (tabular, text, image, audio) for media
    scale: str | None = None  # probability | log_odds | class_score | value
    tokens: dict[str, TextTokens] | None = None  # per text column: the words' values
    heatmaps: dict[str, str] | None = Field(
        default=None,
        description="Per image column: a PNG (base64) of the image with its occlusion heatmap "
        "laid over it: red where a region supported the label, blue where it argued against.",
        json_schema_extra={"additionalProperties": {"type": "string", "format": "byte",
                                                    "contentEncoding": "base64",
                                                    "contentMediaType": "image/png"}},
    )  # fmt: skip
    segments: dict[str, list[AudioSegment]] | None = None  # per audio column: time occlusion


class ExplainResponse(BaseModel):
    model_version: str
    explanations: list[Explanation]


class FeedbackResponse(BaseModel):
    id: str


class ErrorDetail(BaseModel):
    code: str = Field(description="e.g. unauthenticated, forbidden, rate_limited, quota_exceeded")
    message: str
    field: str | None = Field(default=None, description="The request field at fault, if one.")


class ErrorBody(BaseModel):
    """Every error answer: {"error": {"code", "message", "field"?}}."""

    error: ErrorDetail


_RETRY = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
# The answers every authenticated JSON endpoint may give besides its success.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not valid JSON"},
    401: {"model": ErrorBody, "description": "Missing, malformed, revoked or expired API key"},
    403: {"model": ErrorBody, "description": "The key's role may not call this endpoint"},
    413: {"model": ErrorBody, "description": "The body is over the size limit"},
    415: {"model": ErrorBody, "description": "The body is not application/json"},
    422: {"model": ErrorBody, "description": "A field is missing or invalid (`field` names it)"},
    429: {"model": ErrorBody, "description": "Rate limit or quota reached", "headers": _RETRY},
}
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    k: v for k, v in ERRORS.items() if k in (401, 403, 429)
}


def _feedback_model(classes: list[str]) -> type[FeedbackRequest]:
    """FeedbackRequest whose schema lists the served model's classes as ``label``'s values
    (the check itself is against the prediction's own model version); a regression's label is
    its true value, a number."""
    if not classes:
        return FeedbackRequest
    field = FeedbackRequest.model_fields["label"]
    labelled = Field(
        default=None,
        description=field.description,
        union_mode="left_to_right",
        json_schema_extra={"enum": [*classes, None]},
    )
    return create_model(
        "FeedbackRequest",
        __base__=FeedbackRequest,
        label=(str | float | None, labelled),
    )


def _multipart_openapi(schema: dict[str, str]) -> dict[str, Any]:
    """The ``multipart/form-data`` form of the rows body, beside the JSON one in OpenAPI."""
    kinds = {
        "number": {"type": "number"},
        "string": {"type": "string"},
        "image": {"type": "string", "format": "binary", "contentMediaType": "image/*"},
        "audio": {"type": "string", "format": "binary", "contentMediaType": "audio/*"},
    }
    properties: dict[str, Any] = {
        "rows": {"type": "string", "contentMediaType": "application/json",
                 "description": "Optional: the rows as JSON; other parts fill in row 0, or row "
                 "i when named rows.i.FIELD (e.g. a file part rows.1.photo)."},
        **{column: kinds.get(kind, {"type": "string"}) for column, kind in schema.items()},
    }  # fmt: skip
    form = {"schema": {"type": "object", "properties": properties}}
    return {"requestBody": {"content": {"multipart/form-data": form}}}


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
    uploads = _multipart_openapi(service.validator.schema)

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
        responses=ERRORS,
        openapi_extra=uploads,
    )
    async def predict(
        body: request_model,  # type: ignore[valid-type]
        _who: Annotated[Principal, Depends(caller("predict"))],
        request: Request,
    ) -> Any:
        # Served by FastLane before reaching here; kept for OpenAPI and in-process clients.
        headers = request.headers
        return await service.predict(
            headers.get("authorization"), await request.body(), headers.get("content-type")
        )

    @app.post(
        "/v1/explain",
        response_model=ExplainResponse,
        summary="Per-feature attributions: base value + sum of values = the label's probability",
        responses={
            **ERRORS,
            503: {"model": ErrorBody, "description": "Timed out (stopped), or no model"},
        },
        openapi_extra=uploads,
    )
    async def explain(
        body: request_model,  # type: ignore[valid-type]
        _who: Annotated[Principal, Depends(caller("explain"))],
        request: Request,
    ) -> Any:
        headers = request.headers
        return await service.explain(
            headers.get("authorization"), await request.body(), headers.get("content-type")
        )

    feedback_model = _feedback_model(service.holder.current()[1].classes)

    @app.post(
        "/v1/feedback",
        status_code=201,
        response_model=FeedbackResponse,
        summary="Feedback on one of your predictions; free text is scrubbed of PII",
        responses={**ERRORS, 404: {"model": ErrorBody, "description": "No such prediction"}},
    )
    async def give_feedback(
        body: feedback_model,  # type: ignore[valid-type]
        who: Annotated[Principal, Depends(caller("feedback"))],
    ) -> Any:
        return await service.feedback.submit(who, body)

    @app.get(
        "/v1/models",
        summary="Model versions, their stages, and what this server serves",
        responses=READ_ERRORS,
    )
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

    @app.get(
        "/v1/usage",
        summary="The caller's tenant: this month's usage and remaining quota",
        responses=READ_ERRORS,
    )
    def tenant_usage(who: Annotated[Principal, Depends(caller("usage"))]) -> Any:
        service.writer.flush()
        month = current_month(service.clocks.wall())
        metered = month_usage(ws, tenant_id=who.tenant_id, month=month)
        plan = who.limits or config.serve.plans.get(who.plan)
        quota = plan.monthly_quota if plan else 0
        # one answer on every worker: the quota less the rows served (metered), whoever holds
        # the rest in a lease
        remaining = max(0, quota - int(metered["quota_rows_used"]))  # type: ignore[call-overload]
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
