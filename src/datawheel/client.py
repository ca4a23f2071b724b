"""``datawheel.Client`` / ``AsyncClient``: the HTTP API for third-party developers, in Python.

A loose layer-0 module on purpose: it needs only httpx and ``datawheel.errors``, so a developer's
program that imports it loads none of the server (no torch, no database).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from datawheel.errors import DatawheelError

__all__ = ["ApiError", "AsyncClient", "Client"]

RETRY_STATUSES = (429, 503)


class ApiError(DatawheelError):
    """An error answer of the API: ``status``, the API's ``code`` and, when it names one, the
    request ``field`` at fault (e.g. ``rows.0.age``)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        field: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, where=field, hint=hint)
        self.status, self.code, self.field, self.retry_after = status, code, field, retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    raise ApiError(
        error.get("message") or f"HTTP {response.status_code}",
        status=response.status_code,
        code=error.get("code") or "http_error",
        field=error.get("field"),
        hint=error.get("hint"),
        retry_after=_retry_after(response),
    )


def _feedback_body(prediction_id: str, **fields: Any) -> dict[str, Any]:
    return {"prediction_id": prediction_id, **{k: v for k, v in fields.items() if v is not None}}


class _Base:
    def __init__(
        self, base_url: str, key: str, *, timeout: float = 30.0, retries: int = 3,
        max_wait: float = 60.0,
    ) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.retries, self.max_wait = retries, max_wait
        self._headers = {"Authorization": f"Bearer {key}", "User-Agent": "datawheel-client"}
        self._timeout = timeout

    def _wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None: give up and raise."""
        if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
            return None
        wait = _retry_after(response)
        wait = min(2.0**attempt, 8.0) if wait is None else wait
        return wait if wait <= self.max_wait else None


class Client(_Base):
    """Synchronous client. ``Client(base_url, key)``; each call returns the API's JSON answer.
    429 and 503 are retried up to ``retries`` times, waiting as the server's ``Retry-After``
    says (at most ``max_wait`` seconds); any other error raises `ApiError`."""

    def __init__(self, base_url: str, key: str, **options: Any) -> None:
        super().__init__(base_url, key, **options)
        self._http = httpx.Client(
            base_url=self.base_url, headers=self._headers, timeout=self._timeout
        )

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        attempt = 0
        while True:
            response = self._http.request(method, path, json=json)
            wait = self._wait(response, attempt)
            if wait is None:
                _raise_for(response)
                return response.json()
            time.sleep(wait)
            attempt += 1

    def predict(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """``{"model_version", "predictions": [{"id", "label", "probabilities"}]}``."""
        return self._call("POST", "/v1/predict", {"rows": rows})

    def explain(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """``{"model_version", "explanations": [{"label", "base_value", "values"}]}``."""
        return self._call("POST", "/v1/explain", {"rows": rows})

    def feedback(
        self,
        prediction_id: str,
        *,
        label: str | None = None,
        issue: str | None = None,
        comment: str | None = None,
        rating: int | None = None,
    ) -> str:
        """Send feedback on a prediction; returns the feedback's id."""
        body = _feedback_body(
            prediction_id, label=label, issue=issue, comment=comment, rating=rating
        )
        return self._call("POST", "/v1/feedback", body)["id"]

    def usage(self) -> dict[str, Any]:
        """This month's usage and remaining quota of the key's tenant."""
        return self._call("GET", "/v1/usage")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class AsyncClient(_Base):
    """`Client` for asyncio: the same calls, awaited."""

    def __init__(self, base_url: str, key: str, **options: Any) -> None:
        super().__init__(base_url, key, **options)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers, timeout=self._timeout
        )

    async def _call(self, method: str, path: str, json: Any = None) -> Any:
        attempt = 0
        while True:
            response = await self._http.request(method, path, json=json)
            wait = self._wait(response, attempt)
            if wait is None:
                _raise_for(response)
                return response.json()
            await asyncio.sleep(wait)
            attempt += 1

    async def predict(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return await self._call("POST", "/v1/predict", {"rows": rows})

    async def explain(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return await self._call("POST", "/v1/explain", {"rows": rows})

    async def feedback(
        self,
        prediction_id: str,
        *,
        label: str | None = None,
        issue: str | None = None,
        comment: str | None = None,
        rating: int | None = None,
    ) -> str:
        body = _feedback_body(
            prediction_id, label=label, issue=issue, comment=comment, rating=rating
        )
        return (await self._call("POST", "/v1/feedback", body))["id"]

    async def usage(self) -> dict[str, Any]:
        return await self._call("GET", "/v1/usage")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()
