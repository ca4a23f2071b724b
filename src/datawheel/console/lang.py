"""The console's language: chosen per request (the reader's own choice in a cookie, else the
browser's ``Accept-Language``, else ``DATAWHEEL_LANG`` / ``LANG`` on the server), and the
``_()`` the templates call. The templates' messages live in the same gettext catalog as the
CLI's and the API's (``python -m datawheel.cli.messages`` extracts them with Babel's Jinja2
extractor)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from starlette.types import ASGIApp, Receive, Scope, Send

from datawheel.i18n.catalog import (
    from_accept_language,
    language,
    normalize,
    translate,
    use_language,
)

__all__ = [
    "LANG_COOKIE",
    "LanguageMiddleware",
    "html_lang_of",
    "request_language",
    "template_gettext",
]

LANG_COOKIE = "dw_lang"  # the reader's choice from the language menu ("en" or "zh_CN")


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _sep, v = part.strip().partition("=")
                if k == name:
                    return v
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def request_language(scope: Scope) -> str:
    """The language of one request: cookie, then Accept-Language, then the server's."""
    return (
        normalize(_cookie(scope, LANG_COOKIE))
        or from_accept_language(_header(scope, b"accept-language"))
        or language()
    )


def html_lang_of(lang: str) -> str:
    """The page's ``<html lang>`` for an interface language."""
    return "zh-CN" if lang == "zh_CN" else "en"


class LanguageMiddleware:
    """Every request of the console runs in its reader's language (a context variable, which
    handler threads inherit), so ``_()`` in Python and in the templates translates alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with use_language(request_language(scope)):
            await self.app(scope, receive, send)


def template_gettext(message: str, **values: Any) -> str | Markup:
    """``_("…{name}…", name=value)`` in a template: the message in the reader's language,
    then its ``{placeholders}`` filled with the values, each HTML-escaped unless it is markup
    already (so a translated sentence may hold a link or a ``<code>``)."""
    text = translate(message)
    if not values:
        return text
    return Markup(escape(text)).format(**values)
