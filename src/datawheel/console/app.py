"""The web console: ``create_console(config, ws, ...)`` — an app ``datawheel serve`` mounts at
``/console``. Server-rendered pages (Jinja2), a little htmx, charts as inline SVG; every asset is
in the package. Handlers check the session, the role and the tenant, then call the library."""

# No `from __future__ import annotations`: FastAPI reads the handler signatures.

import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from datawheel.config import ProjectConfig
from datawheel.console import queries
from datawheel.console.accounts import (
    SESSION_SECONDS,
    Session,
    as_user,
    can,
    csrf_ok,
    end_session,
    find_session,
    sign_in,
)
from datawheel.console.charts import bar_chart
from datawheel.errors import DatawheelError, PermissionDenied
from datawheel.registry.versions import gate_history, list_versions, promote, rollback
from datawheel.serve.limits import current_month
from datawheel.serve.metering import month_usage, usage_csv
from datawheel.serve.tenants import create_key, revoke_key
from datawheel.store.datasets import list_datasets
from datawheel.store.db import api_keys, reading, tenants
from datawheel.store.feedback_counts import ensure_feedback_counts
from datawheel.store.workspace import Workspace

__all__ = ["PREFIX", "create_console"]

PREFIX = "/console"
SESSION_COOKIE = "dw_session"
LOGIN_COOKIE = "dw_login_csrf"
KEY_ROLES = ("service", "analyst", "engineer")
AGGREGATE_SECONDS = (
    30.0  # how stale feedback counts and live accuracy may be  # what a customer's key may be
)
_HERE = Path(__file__).parent
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class _Stop(Exception):
    """Leave a handler with this response (a redirect to sign in, a 403 page)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def create_console(
    config: ProjectConfig,
    ws: Workspace,
    *,
    input_schema: Mapping[str, str],
    drift: Callable[[], list[dict[str, Any]] | None] | None = None,
) -> FastAPI:
    """The console for one workspace. ``input_schema`` (field → number|string) builds the
    playground's form; ``drift`` gives per-feature drift reports, or None while they are being
    computed (by the offline half, passed in by the app factory: the console never imports
    the loop)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    ensure_feedback_counts(ws.engine)
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    templates = Jinja2Templates(directory=_HERE / "templates")
    templates.env.globals.update(base=PREFIX, project=config.name, chart=bar_chart)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.url.path.startswith(f"{PREFIX}/static"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(_Stop)
    async def _stop(_request: Request, exc: _Stop) -> Response:
        return exc.response

    def page(
        request: Request, name: str, session: Session | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            name,
            {"session": session, "user": session.user if session else None, "can": can, **context},
            status_code=status,
        )

    def signed_in(request: Request) -> Session:
        session = find_session(ws, request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise _Stop(RedirectResponse(f"{PREFIX}/login", status_code=303))
        return session

    def need(request: Request, action: str) -> Session:
        session = signed_in(request)
        if not can(session.user, action):
            raise _Stop(
                page(
                    request,
                    "error.html",
                    session,
                    403,
                    title="Not allowed",
                    message=f"Your role ({session.user.role}) may not open this page.",
                )
            )
        return session

    async def form_of(request: Request, session: Session) -> dict[str, str]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not csrf_ok(session, form.get("csrf")):
            raise _Stop(
                page(
                    request,
                    "error.html",
                    session,
                    403,
                    title="Form expired",
                    message="This form was not sent by the console (its CSRF token is missing "
                    "or stale). Reload the page and try again.",
                )
            )
        return form

    # -- signing in and out --------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        return _login_page(request, None, 200)

    def _login_page(request: Request, error: str | None, status: int) -> Response:
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", None, status, csrf=token, error=error)
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            max_age=3600,
            path=f"{PREFIX}/login",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, str(form.get("csrf", ""))):
            return _login_page(request, "The form expired. Please sign in again.", 403)
        client = request.client.host if request.client else "unknown"
        old = find_session(ws, request.cookies.get(SESSION_COOKIE))
        if old is not None:
            end_session(ws, old)  # a fresh session at every sign-in
        try:
            session = sign_in(
                ws, str(form.get("email", "")), str(form.get("password", "")), client=client
            )
        except PermissionDenied as exc:
            status = 429 if "too many" in str(exc) else 401
            return _login_page(request, str(exc).split("\n")[0], status)
        home = "/models" if session.user.is_operator else "/"
        response = RedirectResponse(f"{PREFIX}{home}", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session.token,
            max_age=SESSION_SECONDS,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        response.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session = signed_in(request)
        await form_of(request, session)
        end_session(ws, session)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    # -- customer pages ------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        session = signed_in(request)
        if session.user.is_operator:
            return RedirectResponse(f"{PREFIX}/models", status_code=303)
        session = need(request, "customer")
        tenant_id = session.user.tenant_id or ""
        month = current_month(datetime.now(UTC).timestamp())
        metered = month_usage(ws, tenant_id=tenant_id, month=month)
        plan_name = _plan_of(tenant_id)
        plan = config.serve.plans.get(plan_name)
        quota = plan.monthly_quota if plan else 0
        used = int(metered["quota_rows_used"])  # type: ignore[call-overload]
        return page(
            request,
            "overview.html",
            session,
            overview=queries.tenant_overview(ws, tenant_id),
            month=month,
            plan=plan_name,
            rpm=plan.requests_per_minute if plan else 0,
            quota=quota,
            used=used,
            share=min(1.0, used / quota) if quota else 0.0,
        )

    def _plan_of(tenant_id: str) -> str:
        with reading(ws.engine) as conn:
            found = conn.execute(select(tenants.c.plan).where(tenants.c.id == tenant_id)).scalar()
        return found or ""

    @app.get("/keys", response_class=HTMLResponse)
    def keys_page(request: Request) -> Response:
        session = need(request, "customer")
        return _keys(request, session, None, None)

    def _keys(
        request: Request, session: Session, new_key: Any, error: str | None, status: int = 200
    ) -> Response:
        return page(
            request,
            "keys.html",
            session,
            status,
            keys=queries.tenant_keys(ws, session.user.tenant_id or ""),
            new_key=new_key,
            error=error,
            key_roles=KEY_ROLES,
        )

    @app.post("/keys", response_class=HTMLResponse)
    async def keys_create(request: Request) -> Response:
        session = need(request, "keys")
        form = await form_of(request, session)
        role = form.get("role", "service")
        if role not in KEY_ROLES:
            return _keys(request, session, None, f"a key's role is one of {KEY_ROLES}", 422)
        try:
            key = create_key(
                as_user(ws, session.user),
                tenant=session.user.tenant,
                role=role,
                name=form.get("name", "").strip()[:200] or "unnamed",
                expires=form.get("expires") or None,
            )
        except DatawheelError as exc:
            return _keys(request, session, None, str(exc).split("\n")[0], 422)
        return _keys(request, session, key, None, 201)

    @app.post("/keys/{key_id}/revoke")
    async def keys_revoke(request: Request, key_id: str) -> Response:
        session = need(request, "keys")
        await form_of(request, session)
        with reading(ws.engine) as conn:
            owner = conn.execute(
                select(api_keys.c.tenant_id).where(api_keys.c.id == key_id)
            ).scalar()
        if owner is None or owner != session.user.tenant_id:
            raise _Stop(
                page(request, "error.html", session, 404, title="No such key", message=key_id)
            )
        try:
            revoke_key(as_user(ws, session.user), key_id)
        except DatawheelError as exc:
            return _keys(request, session, None, str(exc).split("\n")[0], 409)
        return RedirectResponse(f"{PREFIX}/keys", status_code=303)

    @app.get("/usage", response_class=HTMLResponse)
    def usage_page(request: Request) -> Response:
        session = need(request, "customer")
        rows = queries.usage_by_day(ws, session.user.tenant_id or "", days=90)
        months = sorted({r["day"][:7] for r in rows}, reverse=True) or [
            current_month(datetime.now(UTC).timestamp())
        ]
        return page(request, "usage.html", session, rows=rows, months=months)

    @app.get("/usage.csv")
    def usage_download(request: Request, month: str = "") -> Response:
        session = need(request, "customer")
        month = month or current_month(datetime.now(UTC).timestamp())
        try:
            text, _lines = usage_csv(ws, month=month, tenant_id=session.user.tenant_id)
        except DatawheelError as exc:
            return page(request, "error.html", session, 422, title="Bad month", message=str(exc))
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="usage-{session.user.tenant}-'
                f'{month}.csv"'
            },
        )

    @app.get("/playground", response_class=HTMLResponse)
    def playground(request: Request) -> Response:
        session = need(request, "customer")
        return page(request, "playground.html", session, fields=list(input_schema.items()))

    @app.get("/quickstart", response_class=HTMLResponse)
    def quickstart(request: Request) -> Response:
        session = need(request, "customer")
        base_url = str(request.base_url).rstrip("/")
        example = {name: (0 if kind == "number" else "") for name, kind in input_schema.items()}
        return page(request, "quickstart.html", session, base_url=base_url, example=example)

    # -- operator pages ------------------------------------------------------------------------

    @app.get("/models", response_class=HTMLResponse)
    def models_page(request: Request, message: str = "") -> Response:
        session = need(request, "operate")
        return page(
            request,
            "models.html",
            session,
            versions=sorted(list_versions(ws), key=lambda v: -v.number),
            events=queries.stage_history(ws),
            message=message,
        )

    async def _stage_change(request: Request, action: str) -> Response:
        session = need(request, "operate")
        form = await form_of(request, session)
        if not can(session.user, "promote"):
            raise _Stop(
                page(
                    request,
                    "error.html",
                    session,
                    403,
                    title="Not allowed",
                    message=f"Your role ({session.user.role}) may not {action} models.",
                )
            )
        reason = form.get("reason", "").strip()
        if form.get("confirm") != "yes" or not reason:
            return page(
                request,
                "models.html",
                session,
                422,
                versions=sorted(list_versions(ws), key=lambda v: -v.number),
                events=queries.stage_history(ws),
                message=f"Not done: {action} needs a reason and the confirmation box ticked.",
            )
        acting = as_user(ws, session.user)
        try:
            if action == "promote":
                done = promote(acting, form.get("version", ""), reason=reason)
            else:
                done = rollback(acting, reason=reason)
        except DatawheelError as exc:
            message = f"Not done: {str(exc).splitlines()[0]}"
            return RedirectResponse(f"{PREFIX}/models?message={quote(message)}", status_code=303)
        message = f"{'Promoted' if action == 'promote' else 'Rolled back to'} {done.id}"
        return RedirectResponse(f"{PREFIX}/models?message={quote(message)}", status_code=303)

    @app.post("/models/promote")
    async def models_promote(request: Request) -> Response:
        return await _stage_change(request, "promote")

    @app.post("/models/rollback")
    async def models_rollback(request: Request) -> Response:
        return await _stage_change(request, "rollback")

    @app.get("/loop", response_class=HTMLResponse)
    def loop_page(request: Request) -> Response:
        session = need(request, "operate")
        decisions = list(reversed(gate_history(ws)))[:50]
        return page(
            request,
            "loop.html",
            session,
            policy=config.loop.model_dump(),
            decisions=decisions,
            events=queries.stage_history(ws, limit=10),
        )

    @app.get("/monitoring", response_class=HTMLResponse)
    def monitoring(request: Request) -> Response:
        session = need(request, "operate")
        accuracy = queries.live_accuracy(ws)
        reports = drift() if drift is not None else []
        return page(
            request,
            "monitoring.html",
            session,
            accuracy=accuracy,
            accuracy_points=[(a["day"], a["accuracy"] or 0.0) for a in accuracy],
            reports=reports,
            threshold=config.loop.drift_psi_above,
        )

    @app.get("/feedback", response_class=HTMLResponse)
    def feedback_page(
        request: Request, issue: str = "", model: str = "", tenant: str = ""
    ) -> Response:
        session = need(request, "operate")
        return page(
            request,
            "feedback.html",
            session,
            counts=queries.feedback_counts(ws),
            examples=queries.feedback_examples(
                ws, issue=issue or None, model=model or None, tenant=tenant or None
            ),
            filters={"issue": issue, "model": model, "tenant": tenant},
        )

    @app.get("/datasets", response_class=HTMLResponse)
    def datasets_page(request: Request) -> Response:
        session = need(request, "operate")
        found = sorted(list_datasets(ws), key=lambda d: d.created_at, reverse=True)
        return page(request, "datasets.html", session, datasets=found)

    @app.get("/tenants", response_class=HTMLResponse)
    def tenants_page(request: Request) -> Response:
        session = need(request, "operate")
        month = current_month(datetime.now(UTC).timestamp())
        return page(
            request,
            "tenants.html",
            session,
            tenants=queries.tenants_usage(ws, month),
            plans=config.serve.plans,
            month=month,
        )

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(
        request: Request, action: str = "", actor: str = "", verify: str = ""
    ) -> Response:
        session = need(request, "operate")
        report = ws.verify_audit() if verify else None
        return page(
            request,
            "audit.html",
            session,
            entries=queries.audit_page(ws, action=action or None, actor=actor or None),
            filters={"action": action, "actor": actor},
            report=report,
        )

    return app
