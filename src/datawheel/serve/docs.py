"""``/docs`` that works offline: Swagger UI from the copy vendored in the package (FastAPI's
default page loads it from a CDN and is blank without internet)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["install_offline_docs"]

_SWAGGER = Path(__file__).parent / "static" / "swagger"  # swagger-ui-dist, see its VERSION


def install_offline_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` with its script and stylesheet under ``/docs/static``."""
    app.mount("/docs/static", StaticFiles(directory=_SWAGGER), name="swagger-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API reference",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )
