"""The web console: ``create_console(config, ws, ...)`` — an app ``datawheel serve`` mounts at
``/console``. Server-rendered pages (Jinja2), a little htmx, charts as inline SVG; every asset is
in the package. One router per concern (signing in, customers, operators, the admin); handlers
check the session, the role and the tenant, then call the library."""

# No `from __future__ import annotations`: FastAPI reads the handler signatures.

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from datawheel.config import ProjectConfig
from datawheel.console import admin, customer, operator, signin
from datawheel.console.charts import bar_chart, day_chart, line_chart, spark_chart
from datawheel.console.lang import LanguageMiddleware, html_lang_of, template_gettext
from datawheel.console.web import PREFIX, Console, Stop
from datawheel.i18n.catalog import language, translate
from datawheel.store.feedback_counts import ensure_feedback_counts
from datawheel.store.workspace import Workspace

__all__ = ["PREFIX", "create_console"]

_HERE = Path(__file__).parent
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=_HERE / "templates")
    env = templates.env
    env.globals.update(
        base=PREFIX,
        chart=bar_chart,
        day_chart=day_chart,
        line_chart=line_chart,
        spark_chart=spark_chart,
        _=template_gettext,
        page_lang=lambda: html_lang_of(language()),
        lang=language,
    )
    env.filters["when"] = lambda iso: (iso or "")[:16].replace("T", " ")
    env.filters["tr"] = translate_parts
    env.filters["fig"] = figure
    return templates


def translate_parts(text: object) -> str:
    """A message recorded by the library (a reason, an alert) in the reader's language: each
    ``; ``-joined part on its own, as the loop joins its checks' verdicts."""
    return "; ".join(translate(part) for part in str(text or "").split("; "))


def figure(value: object) -> str:
    """A metric as the tables show it: counts (whole numbers from 2 up) with thousands
    separators, others — scores, where 1.0 is a score — to three decimals."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer() and abs(value) >= 2:
        return f"{int(value):,}"
    return f"{value:.3f}"


def create_console(
    config: ProjectConfig,
    ws: Workspace,
    *,
    input_schema: Mapping[str, str],
    drift: Callable[[], list[dict[str, Any]] | None] | None = None,
    alerts: Callable[[], list[str]] | None = None,
    card: Callable[[str, str], str | None] | None = None,
    retrain: Callable[[Workspace], dict[str, Any]] | None = None,
) -> FastAPI:
    """The console for one workspace. ``input_schema`` (field → number|string) builds the
    playground's form. The offline half's parts come in from the app factory (the console
    never imports the loop): ``drift`` gives per-feature drift reports (None while computed);
    ``alerts`` what an operator must act on; ``card`` a version's model card as HTML in a
    language (None while it is drawn); ``retrain`` runs one forced turn of the loop as the
    given workspace (the user's) and returns its summary."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    ensure_feedback_counts(ws.engine)
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    templates = _templates()
    templates.env.globals["project"] = config.name
    console = Console(
        config=config,
        ws=ws,
        templates=templates,
        input_schema=input_schema,
        drift=drift,
        alerts=alerts,
        card=card,
        retrain=retrain,
    )

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

    app.add_middleware(LanguageMiddleware)  # outermost: the whole request in one language

    @app.exception_handler(Stop)
    async def _stop(_request: Request, exc: Stop) -> Response:
        return exc.response

    for module in (signin, customer, operator, admin):
        app.include_router(module.router(console))
    return app
