"""The operators' pages: models (each version's facts, lineage and card; promote and roll back),
the loop (policy, checks, gate decisions, retrain now), monitoring, feedback, datasets, audit."""

# No `from __future__ import annotations`: FastAPI reads the handler signatures.

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from datawheel.console import queries
from datawheel.console.accounts import as_user
from datawheel.console.jobs import recent_jobs, start_job
from datawheel.console.lineage import version_lineage
from datawheel.console.web import Console, error_line
from datawheel.errors import DatawheelError, NotFoundError
from datawheel.i18n.catalog import _, language
from datawheel.registry.versions import (
    ModelVersion,
    gate_history,
    get_version,
    list_versions,
    promote,
    rollback,
)
from datawheel.store.datasets import list_datasets
from datawheel.store.drift_days import drift_over_time

__all__ = ["CARD_CSP", "router"]

# The model card is a whole page of its own (inline styles, charts as data: images) and never
# runs a script: it gets a policy of its own, and a sandbox.
CARD_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
)


def router(c: Console) -> APIRouter:
    r = APIRouter()
    ws = c.ws

    def versions() -> list[ModelVersion]:
        return sorted(list_versions(ws), key=lambda v: -v.number)

    def version_or_404(request: Request, session: Any, ref: str) -> ModelVersion:
        try:
            return get_version(ws, ref)
        except NotFoundError:
            raise c.error(request, session, _("No such version"), ref, 404) from None

    @r.get("/models", response_class=HTMLResponse)
    def models_page(request: Request) -> Response:
        session = c.need(request, "operate")
        return c.page(
            request,
            "models.html",
            session,
            versions=versions(),
            events=queries.stage_history(ws),
        )

    @r.get("/models/{ref}", response_class=HTMLResponse)
    def version_page(request: Request, ref: str) -> Response:
        session = c.need(request, "operate")
        version = version_or_404(request, session, ref)
        return c.page(
            request,
            "version.html",
            session,
            v=version,
            lineage=version_lineage(ws, version),
            has_card=c.card is not None,
        )

    @r.get("/models/{ref}/card", response_class=HTMLResponse)
    def card_page(request: Request, ref: str) -> Response:
        session = c.need(request, "operate")
        version = version_or_404(request, session, ref)
        html = c.card(version.id, language()) if c.card is not None else None
        if html is None:  # being drawn in the background: this page reloads itself
            return c.page(request, "card_pending.html", session, 202, v=version)
        return HTMLResponse(html, headers={"Content-Security-Policy": CARD_CSP})

    async def stage_change(request: Request, action: str) -> Response:
        session = c.need(request, "operate")
        form = await c.form_of(request, session)
        c.need(request, "promote")
        reason = form.get("reason", "").strip()
        back = form.get("back", "")
        page = f"/models/{back}" if back and back.replace("v", "").isdigit() else "/models"
        if form.get("confirm") != "yes" or not reason:
            return c.redirect(
                page,
                _("Not done: a stage change needs a reason and the confirmation box ticked."),
                ok=False,
            )
        acting = as_user(ws, session.user)
        try:
            if action == "promote":
                done = promote(acting, form.get("version", ""), reason=reason)
            else:
                done = rollback(acting, reason=reason)
        except DatawheelError as exc:
            return c.redirect(page, _(f"Not done: {error_line(exc)}"), ok=False)
        if action == "promote":
            return c.redirect(page, _(f"Promoted {done.id}"))
        return c.redirect(page, _(f"Rolled back to {done.id}"))

    @r.post("/models/promote")
    async def models_promote(request: Request) -> Response:
        return await stage_change(request, "promote")

    @r.post("/models/rollback")
    async def models_rollback(request: Request) -> Response:
        return await stage_change(request, "rollback")

    # -- the loop ----------------------------------------------------------------------------

    def loop_context() -> dict[str, Any]:
        jobs = recent_jobs(ws, "retrain")
        return {
            "policy": c.config.loop.model_dump(),
            "decisions": list(reversed(gate_history(ws)))[:50],
            "checks": queries.loop_checks(ws),
            "jobs": jobs,
            "running": any(j["state"] == "running" for j in jobs),
            "can_retrain": c.retrain is not None,
        }

    @r.get("/loop", response_class=HTMLResponse)
    def loop_page(request: Request) -> Response:
        session = c.need(request, "operate")
        return c.page(request, "loop.html", session, **loop_context())

    @r.get("/loop/jobs", response_class=HTMLResponse)
    def loop_jobs(request: Request) -> Response:
        """The retrain jobs' box alone, which the loop page polls while one runs; once none
        runs, the poll reloads the whole page (its checks and gate decisions are new)."""
        session = c.need(request, "operate")
        context = loop_context()
        response = c.page(request, "loop_jobs.html", session, **context)
        if request.headers.get("HX-Request") and not context["running"]:
            response.headers["HX-Refresh"] = "true"
        return response

    @r.post("/loop/retrain")
    async def loop_retrain(request: Request) -> Response:
        session = c.need(request, "operate")
        form = await c.form_of(request, session)
        c.need(request, "train")
        retrain = c.retrain
        if retrain is None:
            return c.redirect("/loop", _("Not done: this server does not retrain."), ok=False)
        if form.get("confirm") != "yes":
            return c.redirect(
                "/loop", _("Not done: tick the box to confirm the retraining."), ok=False
            )
        acting = as_user(ws, session.user)
        work: Callable[[], dict[str, Any]] = lambda: retrain(acting)  # noqa: E731
        try:
            start_job(acting, "retrain", work, requested_by=session.user.email)
        except DatawheelError as exc:
            return c.redirect("/loop", _(f"Not done: {error_line(exc)}"), ok=False)
        return c.redirect(
            "/loop",
            _("Retraining started in the background; this page shows its progress."),
        )

    # -- what the loop watches ---------------------------------------------------------------

    @r.get("/monitoring", response_class=HTMLResponse)
    def monitoring(request: Request) -> Response:
        session = c.need(request, "operate")
        accuracy = queries.live_accuracy(ws)
        reports = c.drift() if c.drift is not None else []
        served = [v.id for v in list_versions(ws) if v.stage in ("champion", "shadow")]
        return c.page(
            request,
            "monitoring.html",
            session,
            accuracy=accuracy,
            accuracy_points=[(a["day"], a["accuracy"] or 0.0) for a in accuracy],
            reports=reports,
            threshold=c.config.loop.drift_psi_above,
            history={version: drift_over_time(ws.engine, version) for version in served},
            history_days=queries.days_back(30),
        )

    @r.get("/feedback", response_class=HTMLResponse)
    def feedback_page(
        request: Request, issue: str = "", model: str = "", tenant: str = ""
    ) -> Response:
        session = c.need(request, "operate")
        return c.page(
            request,
            "feedback.html",
            session,
            counts=queries.feedback_counts(ws),
            examples=queries.feedback_examples(
                ws, issue=issue or None, model=model or None, tenant=tenant or None
            ),
            filters={"issue": issue, "model": model, "tenant": tenant},
        )

    @r.get("/datasets", response_class=HTMLResponse)
    def datasets_page(request: Request) -> Response:
        session = c.need(request, "operate")
        found = sorted(list_datasets(ws), key=lambda d: d.created_at, reverse=True)
        return c.page(request, "datasets.html", session, datasets=found)

    @r.get("/audit", response_class=HTMLResponse)
    def audit_page(
        request: Request, action: str = "", actor: str = "", verify: str = ""
    ) -> Response:
        session = c.need(request, "operate")
        report = ws.verify_audit() if verify else None
        return c.page(
            request,
            "audit.html",
            session,
            entries=queries.audit_page(ws, action=action or None, actor=actor or None),
            filters={"action": action, "actor": actor},
            report=report,
        )

    return r
