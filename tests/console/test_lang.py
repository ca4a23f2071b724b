"""The console's language per request: the reader's menu choice, else the browser's
Accept-Language, else the server's DATAWHEEL_LANG; the templates' ``_()`` escapes what it fills
in; the language menu only ever sends the reader back into the console."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from datawheel.console.lang import LANG_COOKIE, request_language, template_gettext
from datawheel.console.signin import _console_path
from datawheel.i18n.catalog import use_language


def _scope(cookie: str | None = None, accept: str | None = None) -> dict:
    headers = []
    if cookie is not None:
        headers.append((b"cookie", f"a=1; {LANG_COOKIE}={cookie}".encode()))
    if accept is not None:
        headers.append((b"accept-language", accept.encode()))
    return {"type": "http", "headers": headers}


@pytest.mark.parametrize(
    ("cookie", "accept", "env", "expected"),
    [
        (None, None, None, "en"),  # nothing said: English
        (None, None, "zh_CN", "zh_CN"),  # the server's DATAWHEEL_LANG
        (None, "zh-CN,zh;q=0.9", None, "zh_CN"),  # the browser's
        (None, "en-US,en;q=0.9", "zh_CN", "en"),  # the browser's beats the server's
        ("en", "zh-CN", "zh_CN", "en"),  # the reader's choice beats both
        ("zh_CN", "en-US", None, "zh_CN"),
        ("klingon", "fr-FR", "zh_CN", "zh_CN"),  # unknown choices fall through
    ],
)
def test_request_language_when_asked_then_choice_then_browser_then_server(
    monkeypatch, cookie, accept, env, expected
):
    for name in ("DATAWHEEL_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    if env:
        monkeypatch.setenv("DATAWHEEL_LANG", env)
    assert request_language(_scope(cookie, accept)) == expected


def test_template_gettext_when_filling_values_then_escaped_unless_markup():
    with use_language("zh_CN"):
        filled = template_gettext("Sign-up link for {email}", email="<b>x</b>@acme.example")
        linked = template_gettext("quota {quota}", quota=Markup("<i>5</i>"))
        assert template_gettext("Models") == "模型"
    assert filled == Markup("&lt;b&gt;x&lt;/b&gt;@acme.example 的注册链接")
    assert linked == Markup("配额 <i>5</i>")


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("/console/models?x=1", True),
        ("/console/signup/abc", True),
        ("https://evil.example/console/", False),  # another site
        ("//evil.example/console/", False),  # scheme-relative
        ("/docs", False),  # outside the console
        ("/console\\..\\x", False),
    ],
)
def test_language_menu_when_sending_back_then_only_into_the_console(path, ok):
    assert _console_path(path) is ok
