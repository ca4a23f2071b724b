"""What every console handler shares: the session and role checks, the CSRF check, rendering a
page in the reader's language, and flash messages carried across a redirect."""

# No `from __future__ import annotations`: FastAPI reads the handler signatures of the routers.

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from datawheel.config import ProjectConfig
from datawheel.console.accounts import Session, can, csrf_ok, find_session
from datawheel.errors import DatawheelError
from datawheel.i18n.catalog import N_, _, translate_error
from datawheel.store.workspace import Workspace

__all__ = ["PREFIX", "SESSION_COOKIE", "Console", "Stop", "error_line"]

# words the pages show from the data (stages, decisions, states): in the catalog, translated
# where a template shows them with _()
VOCABULARY = (
    N_("champion"), N_("challenger"), N_("shadow"), N_("archived"), N_("tainted"),
    N_("promote"), N_("reject"), N_("running"), N_("finished"), N_("failed"),
    N_("interrupted"), N_("active"), N_("link pending"), N_("disabled"),
)  # fmt: skip

PREFIX = "/console"
SESSION_COOKIE = "dw_session"
FLASH_COOKIE = "dw_flash"


class Stop(Exception):
    """Leave a handler with this response (a redirect to sign in, a 403 page)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def error_line(exc: DatawheelError) -> str:
    """A library error as one line in the reader's language: where, what, the fix."""
    return translate_error(exc).splitlines()[0]


@dataclass
class Console:
    """The console of one workspace: its settings, and what the app factory feeds it from the
    offline half (the console never imports the loop): drift reports, alerts, model cards and
    the retrain action. Each feed may be None (not offered by this server)."""

    config: ProjectConfig
    ws: Workspace
    templates: Jinja2Templates
    input_schema: Mapping[str, str]
    drift: Callable[[], list[dict[str, Any]] | None] | None = None
    alerts: Callable[[], list[str]] | None = None
    card: Callable[[str, str], str | None] | None = None  # (version, language) → HTML or None
    retrain: Callable[[Workspace], dict[str, Any]] | None = None

    # -- rendering ---------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        name: str,
        session: Session | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """Render template ``name``; a flash message left by the previous redirect is shown
        once (and its cookie cleared)."""
        flash = _read_flash(request)
        user = session.user if session else None
        alerts: list[str] = []
        if user is not None and user.is_operator and self.alerts is not None:
            alerts = self.alerts()
        response = self.templates.TemplateResponse(
            request,
            name,
            {
                "session": session,
                "user": user,
                "can": can,
                "flash": flash,
                "alerts": alerts,
                **context,
            },
            status_code=status,
        )
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path=PREFIX)
        return response

    def error(
        self, request: Request, session: Session | None, title: str, message: str, status: int
    ) -> Stop:
        """A Stop carrying an error page (403 refused, 404 not found …)."""
        return Stop(self.page(request, "error.html", session, status, title=title, message=message))

    def redirect(self, path: str, message: str | None = None, *, ok: bool = True) -> Response:
        """A 303 to ``PREFIX + path``, with an optional flash message (already translated)
        for the next page. The message travels in an HttpOnly cookie, never in the URL, so
        nobody can craft a link that makes the console say something."""
        response = RedirectResponse(f"{PREFIX}{path}", status_code=303)
        if message:
            value = quote(json.dumps({"ok": ok, "text": message[:500]}, ensure_ascii=False))
            response.set_cookie(
                FLASH_COOKIE, value, max_age=60, path=PREFIX, httponly=True, samesite="strict"
            )
        return response

    # -- who is asking -----------------------------------------------------------------------

    def signed_in(self, request: Request) -> Session:
        session = find_session(self.ws, request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise Stop(RedirectResponse(f"{PREFIX}/login", status_code=303))
        return session

    def need(self, request: Request, action: str) -> Session:
        """The signed-in session, if its user may take console ``action`` (else a 403 page)."""
        session = self.signed_in(request)
        if not can(session.user, action):
            role = session.user.role
            raise self.error(
                request,
                session,
                _("Not allowed"),
                _(f"Your role ({role}) may not open this page or take this action."),
                403,
            )
        return session

    async def form_of(self, request: Request, session: Session) -> dict[str, str]:
        """The posted form, if it carries the session's CSRF token (else a 403 page)."""
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not csrf_ok(session, form.get("csrf")):
            raise self.error(
                request,
                session,
                _("Form expired"),
                _(
                    "This form was not sent by the console (its CSRF token is missing or "
                    "stale). Reload the page and try again."
                ),
                403,
            )
        return form


def _read_flash(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        value = json.loads(unquote(raw))
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None
    return {"ok": bool(value.get("ok")), "text": value["text"]}
