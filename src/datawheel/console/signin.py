"""Signing in and out, sign-up links, and the language menu."""

# No `from __future__ import annotations`: FastAPI reads the handler signatures.

import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from datawheel.console.accounts import SESSION_SECONDS, Session, end_session, find_session, sign_in
from datawheel.console.invites import complete_signup, invited_user
from datawheel.console.lang import LANG_COOKIE
from datawheel.console.web import PREFIX, SESSION_COOKIE, Console, error_line
from datawheel.errors import DatawheelError, PermissionDenied
from datawheel.i18n.catalog import LANGUAGES, _

__all__ = ["router"]

LOGIN_COOKIE = "dw_login_csrf"  # the sign-in and sign-up forms' double-submit token


def _home(session: Session) -> str:
    return f"{PREFIX}/models" if session.user.is_operator else f"{PREFIX}/"


def _with_session(request: Request, response: Response, session: Session) -> Response:
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=SESSION_SECONDS,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _form_token(request: Request, response: Response, token: str, path: str) -> Response:
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _token_ok(request: Request, presented: object) -> bool:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    return bool(expected) and secrets.compare_digest(expected, str(presented or ""))


def router(c: Console) -> APIRouter:
    r = APIRouter()

    def login_page(request: Request, error: str | None, status: int) -> Response:
        token = secrets.token_urlsafe(24)
        response = c.page(request, "login.html", None, status, csrf=token, error=error)
        return _form_token(request, response, token, f"{PREFIX}/login")

    @r.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        return login_page(request, None, 200)

    @r.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        if not _token_ok(request, form.get("csrf")):
            return login_page(request, _("The form expired. Please sign in again."), 403)
        client = request.client.host if request.client else "unknown"
        old = find_session(c.ws, request.cookies.get(SESSION_COOKIE))
        if old is not None:
            end_session(c.ws, old)  # a fresh session at every sign-in
        try:
            session = sign_in(
                c.ws, str(form.get("email", "")), str(form.get("password", "")), client=client
            )
        except PermissionDenied as exc:
            status = 429 if "too many" in exc.message else 401
            return login_page(request, error_line(exc), status)
        except DatawheelError as exc:
            return login_page(request, error_line(exc), 401)
        response = RedirectResponse(_home(session), status_code=303)
        response.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login")
        return _with_session(request, response, session)

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        session = c.signed_in(request)
        await c.form_of(request, session)
        end_session(c.ws, session)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    # -- sign-up links -----------------------------------------------------------------------

    def signup_page(request: Request, token: str, error: str | None, status: int) -> Response:
        user = invited_user(c.ws, token)
        if user is None:
            return c.page(
                request,
                "error.html",
                None,
                410,
                title=_("This link does not work"),
                message=_(
                    "This sign-up link is unknown, used or expired. Ask your administrator "
                    "for a new one."
                ),
            )
        form_token = secrets.token_urlsafe(24)
        response = c.page(
            request, "signup.html", None, status, invited=user, csrf=form_token, error=error
        )
        return _form_token(request, response, form_token, f"{PREFIX}/signup")

    @r.get("/signup/{token}", response_class=HTMLResponse)
    def signup_form(request: Request, token: str) -> Response:
        return signup_page(request, token, None, 200)

    @r.post("/signup/{token}")
    async def signup(request: Request, token: str) -> Response:
        form = await request.form()
        if not _token_ok(request, form.get("csrf")):
            return signup_page(request, token, _("The form expired. Please try again."), 403)
        password = str(form.get("password", ""))
        if password != str(form.get("confirm", "")):
            return signup_page(request, token, _("The two passwords differ."), 422)
        try:
            user = complete_signup(c.ws, token, password)
        except DatawheelError as exc:
            return signup_page(request, token, error_line(exc), 422)
        client = request.client.host if request.client else "unknown"
        session = sign_in(c.ws, user.email, password, client=client)
        response = c.redirect(
            _home(session)[len(PREFIX) :],
            _(f"Welcome, {user.email}. Your password is set."),
        )
        response.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/signup")
        return _with_session(request, response, session)

    # -- the language menu -------------------------------------------------------------------

    @r.get("/language")
    def choose_language(request: Request, to: str = "", back: str = "") -> Response:
        """Remember the reader's language (a preference, not a change of any data) and go
        back to the page they were on (a path of the console only: never elsewhere)."""
        target = back if _console_path(back) else f"{PREFIX}/"
        response = RedirectResponse(target, status_code=303)
        if to in LANGUAGES:
            response.set_cookie(LANG_COOKIE, to, max_age=365 * 86400, path=PREFIX, samesite="lax")
        return response

    return r


def _console_path(path: str) -> bool:
    parts = urlsplit(path)
    return (
        not parts.scheme
        and not parts.netloc
        and path.startswith(f"{PREFIX}/")
        and not path.startswith("//")
        and "\\" not in path
    )
