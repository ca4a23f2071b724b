"""``datawheel serve --bundle DIR``: a licensed export bundle served alone, with no workspace.

The license is checked in full at start (signature, files, revocation) and its terms on every
request (expiry, feature, row allowance), so a server left running stops answering the day
after the license ends. Rows are the model's inputs as the bundle documents them: a bundle
holds no secret key, so it cannot pseudonymize PII the way the project's own server does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

from datawheel import __version__
from datawheel.errors import DataError, PermissionDenied, Unauthenticated, UsageError
from datawheel.registry import license_check
from datawheel.serve.http_errors import install_error_handlers
from datawheel.train.bundle import TrainedModel

__all__ = ["BUNDLE_KEY_ENV", "create_bundle_app", "load_licensed_bundle"]

BUNDLE_KEY_ENV = "DATAWHEEL_BUNDLE_KEY"
MAX_ROWS_PER_REQUEST = 1000


class LicenseRefused(PermissionDenied):
    """The license does not allow this use (HTTP 403, code ``license``)."""

    api_code = "license"


def load_licensed_bundle(
    bundle: Path, *, revocations: Path | None = None, today: dt.date | None = None
) -> tuple[TrainedModel, dict[str, Any]]:
    """The model and its license terms; UsageError with the one-line reason when refused."""
    if not (bundle / license_check.LICENSE_FILE).is_file():
        raise UsageError(
            "this bundle has no license.json",
            where=str(bundle),
            hint="issue one with `datawheel license issue --bundle DIR ...`",
        )
    try:
        terms = license_check.check(bundle, feature="predict", today=today, revocations=revocations)
    except license_check.LicenseError as exc:
        raise UsageError(f"license refused: {exc}", where=str(bundle)) from None
    model_file = bundle / "model.pt"
    if "model.pt" not in terms["files"]:
        raise DataError("the license does not cover model.pt", where=str(bundle))
    return TrainedModel.from_bytes(model_file.read_bytes()), terms


def create_bundle_app(
    bundle: Path,
    *,
    revocations: Path | None = None,
    api_key: str | None = None,
    clock: Callable[[], dt.date] | None = None,
) -> FastAPI:
    """An app that serves ``/v1/predict`` (and ``/v1/explain`` if licensed) for one bundle."""
    today = clock or (lambda: dt.datetime.now(dt.UTC).date())
    model, terms = load_licensed_bundle(bundle, revocations=revocations, today=today())
    lock = threading.Lock()
    app = FastAPI(
        title=f"datawheel bundle — licensed to {terms['licensee']}",
        version=__version__,
        description=f"License {terms['id']}, valid to {terms['expires']}; grants "
        f"{', '.join(terms['features'])}.",
    )
    install_error_handlers(app)

    def admit(request: Request, feature: str, rows: int) -> None:
        if api_key is not None:
            sent = request.headers.get("authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {api_key}".encode()):
                raise Unauthenticated("missing or wrong API key", hint="Authorization: Bearer …")
        day = today()
        if day > dt.date.fromisoformat(terms["expires"]):
            raise LicenseRefused(f"license {terms['id']} expired on {terms['expires']}")
        if feature not in terms["features"]:
            raise LicenseRefused(f"license {terms['id']} does not grant {feature!r}")
        with lock:
            try:
                license_check.charge_rows(bundle, terms, rows)
            except license_check.LicenseError as exc:
                raise LicenseRefused(str(exc)) from None

    async def rows_of(request: Request) -> list[dict[str, Any]]:
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise DataError("the body is not valid JSON") from None
        rows = body.get("rows") if isinstance(body, dict) else None
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise DataError('send {"rows": [{...}, ...]}', where="rows")
        if len(rows) > MAX_ROWS_PER_REQUEST:
            raise DataError(f"at most {MAX_ROWS_PER_REQUEST} rows per request", where="rows")
        return rows

    @app.post("/v1/predict")
    async def predict(request: Request) -> dict[str, Any]:
        rows = await rows_of(request)
        admit(request, "predict", len(rows))
        proba = await asyncio.to_thread(model.predict_output, rows)
        classes = list(model.classes)
        predictions: list[dict[str, Any]] = []
        if model.is_regression:  # the value and its prediction interval
            values = proba[:, 0]
            bounds = model.intervals(values)
            for i, value in enumerate(values.tolist()):
                interval = None if bounds is None else bounds[i].tolist()
                predictions.append({"value": value, "interval": interval})
            return {"license": terms["id"], "predictions": predictions}
        for p in proba.tolist():
            predictions.append(
                {
                    "label": classes[p.index(max(p))],
                    "probabilities": dict(zip(classes, p, strict=True)),
                }
            )
        return {"license": terms["id"], "predictions": predictions}

    @app.post("/v1/explain")
    async def explain(request: Request) -> dict[str, Any]:
        rows = await rows_of(request)
        admit(request, "explain", len(rows))
        explanations = await asyncio.to_thread(model.explain, rows)
        return {"license": terms["id"], "explanations": explanations}

    @app.get("/v1/license")
    async def license_terms() -> dict[str, Any]:
        return {k: terms[k] for k in ("id", "licensee", "expires", "features", "max_rows")}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
