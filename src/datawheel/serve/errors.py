"""Library errors → HTTP responses with one JSON shape: {"error": {"code", "message", "field"?}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from datawheel.errors import (
    DatawheelError,
    NotFoundError,
    PermissionDenied,
    Unauthenticated,
    UsageError,
)

__all__ = ["error_body", "install_error_handlers"]


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def _status(exc: DatawheelError) -> tuple[int, str]:
    if isinstance(exc, Unauthenticated):
        return 401, "unauthenticated"
    if isinstance(exc, PermissionDenied):
        return 403, "forbidden"
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, UsageError):
        return 422, "invalid_input"
    return 500, "internal"


def install_error_handlers(app: FastAPI) -> None:
    """Bad input never becomes a 500: each error class has its status and a readable body."""

    @app.exception_handler(DatawheelError)
    async def _library_error(_request: Request, exc: DatawheelError) -> JSONResponse:
        status, code = _status(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        message = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
        return JSONResponse(
            error_body(code, message, exc.where), status_code=status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request", "loc": ()}
        if first.get("type") == "json_invalid":
            return JSONResponse(error_body("malformed_json", "the body is not valid JSON"), 400)
        field = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        return JSONResponse(error_body("invalid_input", str(first.get("msg")), field), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )
