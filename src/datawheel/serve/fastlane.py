"""The outermost ASGI layer: body-size limit for every request, metrics for every request, and
the hot endpoints (``POST /v1/predict``, ``/v1/explain``) served without the framework's
per-request machinery. FastAPI still declares those routes, so OpenAPI documents them.

``LanedApp`` puts the lane *outside* FastAPI's own middleware stack (error, telemetry and
body-limit layers, about 40 µs a request under uvloop): as a plain ``add_middleware`` it would
sit inside them. Middleware added to the app with ``add_middleware`` therefore sees every route
but the two hot ones; wrap the app itself (it is plain ASGI) to see those too."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from datawheel.errors import DatawheelError
from datawheel.serve.http_errors import (
    PayloadTooLarge,
    UnsupportedMediaType,
    error_body,
    error_response,
)
from datawheel.serve.service import Service

__all__ = ["FastLane", "LanedApp"]

log = logging.getLogger(__name__)

_ENDPOINTS = {
    "/v1/predict": "predict",
    "/v1/explain": "explain",
    "/v1/feedback": "feedback",
    "/v1/models": "models",
    "/v1/usage": "usage",
    "/healthz": "healthz",
    "/readyz": "readyz",
    "/metrics": "metrics",
}
_JSON = (b"content-type", b"application/json")
FEEDBACK_MAX_BODY = 65_536  # a feedback body: a few short fields and one comment


class LanedApp(FastAPI):
    """FastAPI whose every request enters through ``lane`` (set by ``attach``) first."""

    lane: FastLane | None = None

    def attach(self, service: Service) -> None:
        self.lane = FastLane(self.framework, service)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lane is None:
            await super().__call__(scope, receive, send)
        else:
            await self.lane(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI itself: every route the lane does not serve."""
        await super().__call__(scope, receive, send)


class FastLane:
    def __init__(self, app: Any, service: Service) -> None:
        self.app = app
        self.service = service
        self.max_body = service.config.serve.max_body_bytes
        self.handlers = {"/v1/predict": service.predict, "/v1/explain": service.explain}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        endpoint = _ENDPOINTS.get(path, "other")
        status = 500
        try:
            if scope["method"] in ("POST", "PUT", "PATCH"):
                body = await self._read_body(scope, receive)
                handler = self.handlers.get(path) if scope["method"] == "POST" else None
                if handler is not None:
                    content_type = _header(scope, b"content-type")
                    payload = await handler(_authorization(scope), body, content_type)
                    status = 200
                    await _send(send, 200, orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY))
                    return
                receive = _replay(body, receive)
            status = await self._inner(scope, receive, send)
        except DatawheelError as exc:
            status, body_json, headers = error_response(exc, _header(scope, b"accept-language"))
            self.service.metrics.error(endpoint, orjson.loads(body_json)["error"]["code"])
            await _send(send, status, body_json, headers)
        except Exception:  # the edge: logged, counted, answered as a JSON 500
            log.exception("unhandled error on %s", path)
            status = 500
            self.service.metrics.error(endpoint, "internal")
            await _send(send, 500, orjson.dumps(error_body("internal", "internal server error")))
        finally:
            self.service.metrics.request(endpoint, status, time.perf_counter() - started)

    async def _inner(self, scope: Scope, receive: Receive, send: Send) -> int:
        seen = {"status": 0}

        async def tap(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tap)
        except Exception:  # logged and counted below, or re-raised to the handler above
            if not seen["status"]:
                raise  # nothing answered yet: __call__ sends the JSON 500
            # FastAPI already answered (its error handler) and re-raised for the logs
            log.exception("unhandled error on %s", scope["path"])
            self.service.metrics.error(_ENDPOINTS.get(scope["path"], "other"), "internal")
            return seen["status"]
        if seen["status"] >= 400:
            self.service.metrics.error(_ENDPOINTS.get(scope["path"], "other"), str(seen["status"]))
        return seen["status"] or 500

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, refused with 415 when an API (``/v1``) body says it is not JSON, and
        with 413 as soon as it is known to be too large: from Content-Length before reading,
        or while reading a chunked body."""
        limit = FEEDBACK_MAX_BODY if scope["path"] == "/v1/feedback" else self.max_body
        limit = min(limit, self.max_body)
        json_api = scope["path"].startswith("/v1/")  # the console's forms are not JSON
        uploads = scope["path"] in self.handlers  # predict and explain take multipart too
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    raise PayloadTooLarge(
                        f"the body is {declared} bytes; the limit is {limit}",
                        hint="send fewer rows per request",
                    )
            elif name == b"content-type" and json_api and not _is_json(value):
                if uploads and _is_multipart(value):
                    continue
                raise UnsupportedMediaType(
                    f"the body is declared as {value.decode('latin-1')!r}",
                    hint="send JSON with Content-Type: application/json, or multipart/form-data "
                    "with files"
                    if uploads
                    else "send JSON with Content-Type: application/json",
                )
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"the body is over the limit of {limit} bytes",
                    hint="send fewer rows per request",
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _is_json(content_type: bytes) -> bool:
    """application/json or any +json type, whatever the parameters (charset=utf-8)."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def _is_multipart(content_type: bytes) -> bool:
    return content_type.split(b";", 1)[0].strip().lower() == b"multipart/form-data"


def _authorization(scope: Scope) -> str | None:
    return _header(scope, b"authorization")


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return value.decode("latin-1")
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send(
    send: Send, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    raw = [_JSON, (b"content-length", str(len(body)).encode())]
    if headers:
        raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
