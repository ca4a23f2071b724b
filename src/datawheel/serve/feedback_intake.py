"""``POST /v1/feedback``: a customer's verdict on one of its predictions, stored with every
free-text field scrubbed of PII.

Under abuse: feedback has its own rate bucket per tenant (``feedback_per_minute``) and its own
size limit per text field (``feedback_max_chars``), checked before anything is scanned, so
neither a flood nor a huge comment can buy another tenant's latency. A prediction of another
tenant and an unknown id are looked up by the same queries and answered alike (404).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select

from datawheel.errors import NotFoundError, UsageError
from datawheel.store.db import feedback, now_iso, predictions, reading
from datawheel.store.feedback_counts import count_feedback

if TYPE_CHECKING:
    from datawheel.serve.service import Service
    from datawheel.serve.tenants import Principal

__all__ = ["FeedbackIntake", "FeedbackRequest", "feedback_label", "scrub_text"]

MAX_ISSUE_CHARS = 80


class FeedbackRequest(BaseModel):
    """The body of ``POST /v1/feedback``."""

    model_config = ConfigDict(extra="forbid")
    prediction_id: str = Field(max_length=64, description="The `id` of a prediction of yours.")
    label: str | float | None = Field(
        default=None,
        union_mode="left_to_right",
        description="The true class (one of the model's classes), or a regression's true value.",
    )
    issue: str | None = Field(
        default=None,
        max_length=MAX_ISSUE_CHARS,
        description="A category such as wrong_prediction (scrubbed of PII when free text).",
    )
    comment: str | None = Field(
        default=None,
        description="Free text, scrubbed of PII before storage; at most the plan's "
        "feedback_max_chars characters.",
    )
    rating: int | None = Field(default=None, ge=1, le=5)


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


def scrub_text(text: str) -> str:
    """``text`` with every PII span found by ``scan_pii`` replaced by ``[TYPE]``."""
    from datawheel.privacy.scan import scan_pii

    for span in sorted(scan_pii([text])[0], key=lambda s: s.start, reverse=True):
        text = text[: span.start] + f"[{span.type}]" + text[span.end :]
    return text


class FeedbackIntake:
    """One per worker; the feedback path of `Service`."""

    def __init__(self, service: Service) -> None:
        self._service = service
        self._issues = set(service.config.serve.feedback_issues)
        self._retry_s = 3 * service.config.serve.log_flush_ms / 1000

    async def submit(self, who: Principal, body: FeedbackRequest) -> dict[str, str]:
        try:
            return await self._submit(who, body)
        except Exception as exc:
            self._service.count_error(who, "feedback", exc)
            raise

    async def _submit(self, who: Principal, body: FeedbackRequest) -> dict[str, str]:
        service = self._service
        plan = service.plan(who)
        await service.limiter.admit_request(
            f"{who.tenant_id}/feedback", per_minute=plan.feedback_per_minute, what="feedback posts"
        )
        self._check_sizes(body, plan.feedback_max_chars)
        found = await self._find_prediction(body.prediction_id, who)
        label = feedback_label(body.label, found.probabilities)
        feedback_id = await asyncio.to_thread(self._store, body, label, who, found)
        service.writer.meter(who.tenant_id, "feedback", 1)
        return {"id": feedback_id}

    def _check_sizes(self, body: FeedbackRequest, max_chars: int) -> None:
        """Refuse before any scanning: the scanner's cost grows with the text."""
        if body.comment is not None and len(body.comment) > max_chars:
            raise UsageError(
                f"the comment is {len(body.comment)} characters; the plan allows {max_chars}",
                where="comment",
                hint="shorten it",
            )
        if self._issues and body.issue is not None and body.issue not in self._issues:
            raise UsageError(
                f"unknown issue {body.issue!r}",
                where="issue",
                hint=f"one of {', '.join(sorted(self._issues))}",
            )

    async def _find_prediction(self, prediction_id: str, who: Principal) -> Any:
        """The caller's own served prediction, or 404 — by the same queries whether the id is
        unknown or another tenant's, so the answer and its timing tell the two apart no more
        than the message does."""
        service = self._service
        stmt = select(
            predictions.c.subject,
            predictions.c.probabilities,
            predictions.c.model_version,
            predictions.c.label,
        ).where(
            predictions.c.id == prediction_id,
            predictions.c.tenant_id == who.tenant_id,
            predictions.c.shadow.is_(False),
        )

        def lookup() -> Any:
            with reading(service.ws.engine) as conn:
                return conn.execute(stmt).first()

        await asyncio.to_thread(service.writer.flush)  # this worker's recent predictions
        row = await asyncio.to_thread(lookup)
        if row is None:  # another worker may still hold it in its write-behind queue
            await asyncio.sleep(self._retry_s)
            row = await asyncio.to_thread(lookup)
        if row is None:
            raise NotFoundError(f"no prediction {prediction_id!r}", where="prediction_id")
        return row

    def _store(self, body: FeedbackRequest, label: str | None, who: Principal, found: Any) -> str:
        """On a worker thread: scrub the free text, then insert."""
        issue = body.issue
        if issue is not None and not self._issues:
            issue = scrub_text(issue)[:MAX_ISSUE_CHARS]
        comment = scrub_text(body.comment) if body.comment else body.comment
        feedback_id, created_at = uuid.uuid4().hex, now_iso()
        with self._service.ws.engine.begin() as conn:
            conn.execute(
                insert(feedback).values(
                    id=feedback_id,
                    prediction_id=body.prediction_id,
                    tenant_id=who.tenant_id,
                    subject=found.subject,
                    label=label,
                    issue=issue,
                    comment=comment,
                    rating=body.rating,
                    created_at=created_at,
                )
            )
            count_feedback(  # the console's per-day counters, in the same transaction
                conn,
                created_at=created_at,
                issue=issue,
                model_version=found.model_version,
                tenant_id=who.tenant_id,
                label=body.label,
                predicted=found.label,
            )
        return feedback_id
