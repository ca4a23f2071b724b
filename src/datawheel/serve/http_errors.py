"""Library errors → HTTP responses with one JSON shape: {"error": {"code", "message", "field"?}}.

::

    DatawheelError (datawheel.errors)
    ├── Unauthenticated → 401      PermissionDenied → 403      NotFoundError → 404
    ├── UsageError → 422 (DataError, ConfigError too)
    ├── PayloadTooLarge → 413      the body is over ``serve.max_body_bytes``
    ├── MalformedBody → 400        the body is not JSON
    ├── UnsupportedMediaType → 415 a Content-Type other than JSON
    ├── TooManyRequests → 429      rate limit or monthly quota; carries ``retry_after``
    └── Unavailable → 503          no model yet, or the request timed out; ``retry_after``
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from datawheel.errors import (
    DatawheelError,
    NotFoundError,
    PermissionDenied,
    Unauthenticated,
    UsageError,
)
from datawheel.i18n.catalog import from_accept_language, translate, use_language

__all__ = [
    "MalformedBody",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unavailable",
    "UnsupportedMediaType",
    "error_body",
    "error_response",
    "install_error_handlers",
    "status_of",
]


class PayloadTooLarge(DatawheelError):
    """The request body is larger than ``serve.max_body_bytes``."""


class MalformedBody(DatawheelError):
    """The request body is not valid JSON."""


class UnsupportedMediaType(DatawheelError):
    """The request declares a body type other than JSON."""


class TooManyRequests(DatawheelError):
    """Over the plan's rate limit or monthly quota; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int, code: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.retry_after = max(1, int(retry_after))
        self.code = code


class Unavailable(DatawheelError):
    """The server cannot answer now (no model served yet, or a timeout)."""

    def __init__(self, message: str, *, retry_after: int = 1, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def _status(exc: DatawheelError) -> tuple[int, str]:
    if isinstance(exc, Unauthenticated):
        return 401, "unauthenticated"
    if isinstance(exc, PermissionDenied):
        return 403, getattr(exc, "api_code", "forbidden")
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, UsageError):
        return 422, "invalid_input"
    if isinstance(exc, PayloadTooLarge):
        return 413, "payload_too_large"
    if isinstance(exc, MalformedBody):
        return 400, "malformed_json"
    if isinstance(exc, UnsupportedMediaType):
        return 415, "unsupported_media_type"
    if isinstance(exc, TooManyRequests):
        return 429, exc.code
    if isinstance(exc, Unavailable):
        return 503, "unavailable"
    return 500, "internal"


def status_of(exc: BaseException) -> int:
    """The HTTP status an exception is answered with (500 for anything but a library error)."""
    return _status(exc)[0] if isinstance(exc, DatawheelError) else 500


def error_response(
    exc: DatawheelError, accept_language: str | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """(status, JSON body, extra headers) for a library error; shared by both request paths.

    The message (and its hint) is in the language ``Accept-Language`` prefers, when the
    catalog has it; the code stays English."""
    status, code = _status(exc)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    with use_language(from_accept_language(accept_language)):
        message = translate(exc.message)
        if exc.hint:
            message += translate(" (hint: {hint})").replace("{hint}", translate(exc.hint))
    return status, orjson.dumps(error_body(code, message, exc.where)), headers


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


def install_error_handlers(app: FastAPI) -> None:
    """Bad input never becomes a 500: each error class has its status and a readable body."""

    @app.exception_handler(DatawheelError)
    async def _library_error(request: Request, exc: DatawheelError) -> Response:
        status, body, headers = error_response(exc, request.headers.get("accept-language"))
        return Response(body, status, headers=headers, media_type="application/json")

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request", "loc": ()}
        if first.get("type") == "json_invalid":
            return _json(error_body("malformed_json", "the body is not valid JSON"), 400)
        field = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        return _json(error_body("invalid_input", str(first.get("msg")), field), 422)

    @app.exception_handler(Exception)
    async def _internal_error(_request: Request, _exc: Exception) -> Response:
        # Starlette's error middleware answers with this, then re-raises for the logs: the
        # fast lane (outside it) logs and records the 500 but must not answer a second time.
        return _json(error_body("internal", "internal server error"), 500)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _json(
            error_body(code, str(exc.detail)),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )
