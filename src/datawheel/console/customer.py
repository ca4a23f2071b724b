"""A customer's pages: overview, API keys, usage and billing, playground, quickstart. The
tenant always comes from the session, never from the URL."""

# No `from __future__ import annotations`: FastAPI reads the handler signatures.

import calendar
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from datawheel.console import queries
from datawheel.console.accounts import Session, as_user
from datawheel.console.web import PREFIX, Console, error_line
from datawheel.errors import DatawheelError
from datawheel.i18n.catalog import _
from datawheel.serve.limits import current_month
from datawheel.serve.metering import month_usage, usage_csv
from datawheel.serve.plans import plan_limits
from datawheel.serve.tenants import create_key, revoke_key
from datawheel.store.db import api_keys, reading, tenants

__all__ = ["KEY_ROLES", "router"]

KEY_ROLES = ("service", "analyst", "engineer")  # what a customer's key may be


def _month() -> str:
    return current_month(datetime.now(UTC).timestamp())


def _days_of(month: str) -> list[str]:
    year, number = (int(part) for part in month.split("-"))
    return [f"{month}-{day:02d}" for day in range(1, calendar.monthrange(year, number)[1] + 1)]


def router(c: Console) -> APIRouter:
    r = APIRouter()
    ws = c.ws

    def plan_of(tenant_id: str) -> str:
        with reading(ws.engine) as conn:
            found = conn.execute(select(tenants.c.plan).where(tenants.c.id == tenant_id)).scalar()
        return found or ""

    @r.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        session = c.signed_in(request)
        if session.user.is_operator:
            return RedirectResponse(f"{PREFIX}/models", status_code=303)
        session = c.need(request, "customer")
        tenant_id = session.user.tenant_id or ""
        month = _month()
        metered = month_usage(ws, tenant_id=tenant_id, month=month)
        plan_name = plan_of(tenant_id)
        plan = plan_limits(ws, c.config, plan_name)
        quota = plan.monthly_quota if plan else 0
        used = int(metered["quota_rows_used"])  # type: ignore[call-overload]
        return c.page(
            request,
            "overview.html",
            session,
            overview=queries.tenant_overview(ws, tenant_id, month=month),
            month=month,
            plan=plan_name,
            rpm=plan.requests_per_minute if plan else 0,
            quota=quota,
            used=used,
            share=min(1.0, used / quota) if quota else 0.0,
            month_days=_days_of(month),
        )

    def keys(
        request: Request,
        session: Session,
        new_key: Any = None,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        return c.page(
            request,
            "keys.html",
            session,
            status,
            keys=queries.tenant_keys(ws, session.user.tenant_id or ""),
            new_key=new_key,
            error=error,
            key_roles=KEY_ROLES,
            today=datetime.now(UTC).strftime("%Y-%m-%d"),
            now_iso=datetime.now(UTC).isoformat(timespec="microseconds"),
        )

    @r.get("/keys", response_class=HTMLResponse)
    def keys_page(request: Request) -> Response:
        return keys(request, c.need(request, "customer"))

    @r.post("/keys", response_class=HTMLResponse)
    async def keys_create(request: Request) -> Response:
        session = c.need(request, "keys")
        form = await c.form_of(request, session)
        role = form.get("role", "service")
        if role not in KEY_ROLES:
            error = _(f"a key's role is one of {', '.join(KEY_ROLES)}")
            return keys(request, session, error=error, status=422)
        try:
            key = create_key(
                as_user(ws, session.user),
                tenant=session.user.tenant,
                role=role,
                name=form.get("name", "").strip()[:200] or "unnamed",
                expires=form.get("expires") or None,
            )
        except DatawheelError as exc:
            return keys(request, session, error=error_line(exc), status=422)
        return keys(request, session, new_key=key, status=201)

    @r.post("/keys/{key_id}/revoke")
    async def keys_revoke(request: Request, key_id: str) -> Response:
        session = c.need(request, "keys")
        await c.form_of(request, session)
        with reading(ws.engine) as conn:
            owner = conn.execute(
                select(api_keys.c.tenant_id).where(api_keys.c.id == key_id)
            ).scalar()
        if owner is None or owner != session.user.tenant_id:
            raise c.error(request, session, _("No such key"), key_id, 404)
        try:
            revoke_key(as_user(ws, session.user), key_id)
        except DatawheelError as exc:
            return keys(request, session, error=error_line(exc), status=409)
        return c.redirect("/keys", _(f"Key dw_{key_id}_… revoked: calls with it now fail."))

    @r.get("/usage", response_class=HTMLResponse)
    def usage_page(request: Request) -> Response:
        session = c.need(request, "customer")
        rows = queries.usage_by_day(ws, session.user.tenant_id or "", days=90)
        months = sorted({r["day"][:7] for r in rows}, reverse=True) or [_month()]
        return c.page(request, "usage.html", session, rows=rows, months=months)

    @r.get("/usage.csv")
    def usage_download(request: Request, month: str = "") -> Response:
        session = c.need(request, "customer")
        month = month or _month()
        try:
            text, _lines = usage_csv(ws, month=month, tenant_id=session.user.tenant_id)
        except DatawheelError as exc:
            raise c.error(request, session, _("Bad month"), error_line(exc), 422) from None
        filename = f"usage-{session.user.tenant}-{month}.csv"
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @r.get("/playground", response_class=HTMLResponse)
    def playground(request: Request) -> Response:
        session = c.need(request, "customer")
        return c.page(request, "playground.html", session, fields=list(c.input_schema.items()))

    @r.get("/quickstart", response_class=HTMLResponse)
    def quickstart(request: Request) -> Response:
        session = c.need(request, "customer")
        base_url = str(request.base_url).rstrip("/")
        example = {name: (0 if kind == "number" else "") for name, kind in c.input_schema.items()}
        return c.page(request, "quickstart.html", session, base_url=base_url, example=example)

    return r
