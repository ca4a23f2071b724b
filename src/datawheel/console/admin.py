"""The admin's pages: tenants (create, move to a plan, deactivate, activate), plans (create,
change limits) and users (create with a sign-up link, new link, disable). Every action is the
library's own, run as the signed-in user: checked by its role and audited under its name."""

# No `from __future__ import annotations`: FastAPI reads the handler signatures.

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from datawheel.console import queries
from datawheel.console.accounts import (
    CUSTOMER_ROLES,
    OPERATOR_ROLES,
    OPERATORS,
    Invite,
    Session,
    as_user,
    create_user,
)
from datawheel.console.invites import disable_user, issue_link, list_users
from datawheel.console.web import Console, error_line
from datawheel.errors import DatawheelError
from datawheel.i18n.catalog import _
from datawheel.serve.limits import current_month
from datawheel.serve.plans import PLAN_FIELDS, plan_book, plan_names, save_plan
from datawheel.serve.tenants import (
    activate_tenant,
    create_tenant,
    deactivate_tenant,
    list_tenants,
    set_plan,
)

__all__ = ["router"]


def router(c: Console) -> APIRouter:
    r = APIRouter()
    ws = c.ws

    # -- tenants and plans -------------------------------------------------------------------

    @r.get("/tenants", response_class=HTMLResponse)
    def tenants_page(request: Request) -> Response:
        session = c.need(request, "operate")
        month = current_month(datetime.now(UTC).timestamp())
        return c.page(
            request,
            "tenants.html",
            session,
            tenants=queries.tenants_usage(ws, month),
            plans=plan_book(ws, c.config),
            plan_fields=PLAN_FIELDS,
            month=month,
        )

    async def admin_form(request: Request, action: str) -> tuple[Session, dict[str, str]]:
        session = c.need(request, "operate")
        form = await c.form_of(request, session)
        c.need(request, action)
        return session, form

    @r.post("/tenants")
    async def tenants_create(request: Request) -> Response:
        session, form = await admin_form(request, "tenants")
        name, plan = form.get("name", "").strip(), form.get("plan", "")
        try:
            create_tenant(
                as_user(ws, session.user), name, plan=plan, plans=plan_names(ws, c.config)
            )
        except DatawheelError as exc:
            return c.redirect("/tenants", _(f"Not done: {error_line(exc)}"), ok=False)
        return c.redirect("/tenants", _(f"Created tenant {name} on plan {plan}."))

    @r.post("/tenants/{name}/plan")
    async def tenants_set_plan(request: Request, name: str) -> Response:
        session, form = await admin_form(request, "tenants")
        plan = form.get("plan", "")
        try:
            old = set_plan(as_user(ws, session.user), name, plan, plans=plan_names(ws, c.config))
        except DatawheelError as exc:
            return c.redirect("/tenants", _(f"Not done: {error_line(exc)}"), ok=False)
        return c.redirect("/tenants", _(f"Tenant {name}: plan {old} → {plan}."))

    @r.post("/tenants/{name}/deactivate")
    async def tenants_deactivate(request: Request, name: str) -> Response:
        session, form = await admin_form(request, "tenants")
        if form.get("confirm") != "yes":
            return c.redirect("/tenants", _("Not done: tick the box to confirm."), ok=False)
        try:
            deactivate_tenant(as_user(ws, session.user), name)
        except DatawheelError as exc:
            return c.redirect("/tenants", _(f"Not done: {error_line(exc)}"), ok=False)
        return c.redirect(
            "/tenants", _(f"Deactivated {name}: its keys and its people are refused.")
        )

    @r.post("/tenants/{name}/activate")
    async def tenants_activate(request: Request, name: str) -> Response:
        session, _form = await admin_form(request, "tenants")
        try:
            activate_tenant(as_user(ws, session.user), name)
        except DatawheelError as exc:
            return c.redirect("/tenants", _(f"Not done: {error_line(exc)}"), ok=False)
        return c.redirect("/tenants", _(f"Activated {name}."))

    @r.post("/plans")
    async def plans_save(request: Request) -> Response:
        session, form = await admin_form(request, "tenants")
        name = form.get("name", "").strip()
        values: dict[str, Any] = {k: form[k].strip() for k in PLAN_FIELDS if form.get(k, "")}
        try:
            entry = save_plan(as_user(ws, session.user), c.config, name, values)
        except DatawheelError as exc:
            return c.redirect("/tenants", _(f"Not done: {error_line(exc)}"), ok=False)
        return c.redirect("/tenants", _(f"Saved plan {entry.name}."))

    # -- users -------------------------------------------------------------------------------

    def users_page(
        request: Request, session: Session, invite: Invite | None = None, status: int = 200
    ) -> Response:
        base_url = str(request.base_url).rstrip("/")
        return c.page(
            request,
            "users.html",
            session,
            status,
            users=list_users(as_user(ws, session.user)),
            tenants=[str(t["name"]) for t in list_tenants(ws) if t["active"]],
            operators=OPERATORS,
            operator_roles=OPERATOR_ROLES,
            customer_roles=CUSTOMER_ROLES,
            invite=invite,
            invite_url=invite.url(base_url) if invite else None,
            invite_expires=(
                datetime.fromtimestamp(invite.expires_at, UTC).strftime("%Y-%m-%d %H:%M")
                if invite
                else None
            ),
        )

    @r.get("/users", response_class=HTMLResponse)
    def users_list(request: Request) -> Response:
        session = c.need(request, "users")
        return users_page(request, session)

    @r.post("/users", response_class=HTMLResponse)
    async def users_create(request: Request) -> Response:
        session, form = await admin_form(request, "users")
        email = form.get("email", "")
        try:
            _id, invite = create_user(
                as_user(ws, session.user),
                email,
                tenant=form.get("tenant", ""),
                role=form.get("role", ""),
            )
        except DatawheelError as exc:
            return c.redirect("/users", _(f"Not done: {error_line(exc)}"), ok=False)
        return users_page(request, session, invite, 201)

    @r.post("/users/link", response_class=HTMLResponse)
    async def users_link(request: Request) -> Response:
        session, form = await admin_form(request, "users")
        try:
            invite = issue_link(as_user(ws, session.user), form.get("email", ""))
        except DatawheelError as exc:
            return c.redirect("/users", _(f"Not done: {error_line(exc)}"), ok=False)
        return users_page(request, session, invite, 201)

    @r.post("/users/disable")
    async def users_disable(request: Request) -> Response:
        session, form = await admin_form(request, "users")
        email = form.get("email", "")
        if form.get("confirm") != "yes":
            return c.redirect("/users", _("Not done: tick the box to confirm."), ok=False)
        try:
            disable_user(as_user(ws, session.user), email)
        except DatawheelError as exc:
            return c.redirect("/users", _(f"Not done: {error_line(exc)}"), ok=False)
        return c.redirect("/users", _(f"Disabled {email}: signed out everywhere."))

    return r
