"""What the endpoints do, free of any web framework: authenticate, admit, validate, anonymize,
predict (micro-batched), log (write-behind), meter. The fast lane and FastAPI both call it."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from datawheel.config import PlanConfig, ProjectConfig
from datawheel.errors import Cancelled, PermissionDenied, Unauthenticated
from datawheel.privacy.anonymize import Anonymizer
from datawheel.serve.batching import MicroBatcher
from datawheel.serve.feedback_intake import FeedbackIntake
from datawheel.serve.http_errors import MalformedBody, PayloadTooLarge, Unavailable, status_of
from datawheel.serve.input_pii import InputPiiWatch
from datawheel.serve.limits import Limiter, Ticket
from datawheel.serve.media_body import decode_media, is_multipart, parse_multipart
from datawheel.serve.model_holder import ModelHolder
from datawheel.serve.prometheus import Metrics
from datawheel.serve.request_schema import RowValidator
from datawheel.serve.tenants import AuthCache, Principal, authorize, sign_legacy_keys
from datawheel.serve.writer import WriteBehind
from datawheel.store.db import now_iso, ordered_id
from datawheel.store.workspace import Workspace

__all__ = ["Clocks", "Service"]


@dataclass
class Clocks:
    """Side effects of time, injectable (STYLE.md #6): ``wall`` is shared by all workers (rate
    buckets live in the database), ``monotonic`` is this process's (caches)."""

    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic


@dataclass
class _Batch:
    version: str
    classes: list[str]  # [] for a regression
    proba: np.ndarray  # [rows, n_classes] for one request, or values [rows, 1]
    latency_ms: float  # forward cost per row
    intervals: np.ndarray | None = None  # regression: [rows, 2] prediction intervals


@dataclass
class _ShadowQueue:
    lock: threading.Lock = field(default_factory=threading.Lock)
    # (tenant, anonymized rows, the same as logged (media as digests), the champion's
    # prediction ids for them)
    items: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]], list[str]]] = field(
        default_factory=list
    )


def _watched_fields(model: Any, anonymizer: Anonymizer) -> dict[str, list[str]]:
    """Model input fields of text that no privacy rule transforms → the values seen in
    training (categories), which need no scan."""
    covered = {*anonymizer.operators, *anonymizer.text_columns}
    vocabulary = getattr(model.preprocessor, "vocabulary_", {}) or {}
    return {
        name: [str(v) for v in vocabulary.get(name, []) if v is not None]
        for name, kind in model.input_schema.items()
        if kind == "string" and name not in covered  # not numbers, not images or clips
    }


class Service:
    """One per worker process; all state shared with other workers lives in the database."""

    def __init__(
        self,
        config: ProjectConfig,
        ws: Workspace,
        *,
        refresh_seconds: float = 0.5,
        clocks: Clocks | None = None,
    ) -> None:
        serve = config.serve
        self.config = config
        self.ws = ws
        self.clocks = clocks or Clocks()
        self.metrics = Metrics()
        self.holder = ModelHolder(
            ws, refresh_seconds=refresh_seconds, on_error=self.metrics.internal_error
        )
        _version, model = self.holder.current()
        self.holder.start()
        self.id_column = config.data.id
        optional = [*config.privacy.columns, *([self.id_column] if self.id_column else [])]
        self.optional_fields = optional
        self._validators: dict[str, RowValidator] = {}
        self.validator = self._validator_for(_version, model)  # OpenAPI's: the first champion
        self.anonymizer = Anonymizer(
            config.privacy,
            ws.secret_key(),
            id_column=self.id_column,
            text_columns=config.data.text,
            image_columns=config.data.images,  # privacy.images.faces: blur, as in training
        )
        sign_legacy_keys(ws)  # keys minted before key MACs: signed once, then checked
        self.auth = AuthCache(
            ws, ttl=serve.auth_cache_seconds, clock=self.clocks.monotonic, wall=self.clocks.wall
        )
        write_gate = threading.Lock()  # one database writer at a time in this process
        self.limiter = Limiter(
            ws.engine,
            quota_lease=serve.quota_lease_rows,
            rate_lease=serve.rate_lease_requests,
            clock=self.clocks.wall,
            write_gate=write_gate,
            lease_seconds=serve.quota_lease_seconds,
        )
        self._shadow = _ShadowQueue()
        self.writer = WriteBehind(
            ws.engine,
            interval_s=serve.log_flush_ms / 1000,
            before_flush=self._shadow_pass,
            write_gate=write_gate,
            on_error=self.metrics.internal_error,
            on_write=self.limiter.write_spent,  # served rows leave the lease with their meter
        )
        self.auth.on_use = self.writer.key_used  # "last used": once per key per cache period
        self.input_pii = InputPiiWatch(
            ws.engine,
            _watched_fields(model, self.anonymizer),
            submit=self.writer.submit,
            version=lambda: self.holder.current()[0],
        )
        self.feedback = FeedbackIntake(self)
        self.batcher: MicroBatcher[_Batch] = MicroBatcher(
            self._forward,
            max_rows=serve.batch_max_rows,
            max_wait_s=serve.batch_max_wait_ms / 1000,
            on_batch=self.metrics.batch,
        )
        self.timeout = serve.request_timeout_seconds
        self._closed = False

    # -- auth ---------------------------------------------------------------------------------

    def authenticated(self, authorization: str | None) -> Principal:
        """The caller of a valid key (401 otherwise); not yet checked for any action."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthenticated("missing API key", hint="send Authorization: Bearer <key>")
        return self.auth.authenticate(authorization[7:].strip())

    def principal(self, authorization: str | None, action: str) -> Principal:
        who = self.authenticated(authorization)
        try:
            authorize(who, action)
        except PermissionDenied:
            self.writer.meter_error(who.tenant_id, action, server=False)
            raise
        return who

    def count_error(self, who: Principal, endpoint: str, exc: BaseException) -> None:
        """Count a request of ``who``'s tenant that ended in ``exc`` (4xx or 5xx): the
        console's errors per day. Requests refused before the key is known belong to no tenant
        (``/metrics`` counts them)."""
        self.writer.meter_error(who.tenant_id, endpoint, server=status_of(exc) >= 500)

    def plan(self, who: Principal) -> PlanConfig:
        plan = who.limits or self.config.serve.plans.get(who.plan)
        if plan is None:
            raise PermissionDenied(
                f"tenant {who.tenant!r} is on plan {who.plan!r}, which serve.plans lacks",
                hint="add the plan to the project file or move the tenant",
            )
        return plan

    async def _admit(self, who: Principal, rows: int) -> Ticket:
        plan = self.plan(who)
        return await self.limiter.admit(
            who.tenant_id,
            per_minute=plan.requests_per_minute,
            quota=plan.monthly_quota,
            rows=rows,
        )

    def _validator_for(self, version: str, model: Any) -> RowValidator:
        """The request rules of one model version: its fields, and which of them may be left
        out (they had gaps in its training data). Built once per version, so a hot swap to a
        champion with other inputs validates requests by the new rules at once."""
        validator = self._validators.get(version)
        if validator is None:
            validator = RowValidator(
                model.input_schema,
                self.optional_fields,
                max_rows=self.config.serve.max_rows_per_request,
                nullable=model.extras.get("optional_inputs", ()),
            )
            if len(self._validators) >= 8:  # old versions: dropped, rebuilt if served again
                self._validators.clear()
            self._validators[version] = validator
        return validator

    def parse(self, body: bytes, content_type: str | None = None) -> list[dict[str, Any]]:
        """A JSON body, or a ``multipart/form-data`` one (rows and file uploads), validated by
        the served version's rules."""
        validator = self._validator_for(*self.holder.current())
        if is_multipart(content_type):
            assert content_type is not None
            return validator(parse_multipart(body, content_type, validator.schema))
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise MalformedBody("the body is not valid JSON") from None
        return validator(parsed)

    def _anonymized(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each row anonymized as training data was; an image that face blurring cannot read
        is the same 413 / 422 naming ``rows.i.column`` as the model's own decoding gives."""
        from datawheel.data.media.decode import MediaError, media_bytes

        out, limit = [], self.config.serve.max_media_bytes
        for i, row in enumerate(rows):
            try:
                for column in self.anonymizer.face_columns:  # sized before faces are looked for
                    if isinstance(row.get(column), str | bytes):
                        media_bytes(row[column], None, max_bytes=limit)
                out.append(self.anonymizer.row(row))
            except MediaError as exc:
                column = exc.where or next(
                    (c for c in self.anonymizer.face_columns if c in row), ""
                )
                where = f"rows.{i}.{column}" if column else f"rows.{i}"
                if exc.reason == "too_large":
                    raise PayloadTooLarge(exc.detail, hint=exc.hint, where=where) from None
                raise MediaError(exc.reason, exc.detail, where=where) from None
        return out

    async def _media(
        self, model: Any, rows: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(rows for the model, rows for the log): images and clips decoded on a worker thread
        and logged as digests; rows pass through unchanged for a model without media."""
        spec = getattr(model.preprocessor, "media", None)
        if not spec:
            return rows, rows
        limit = self.config.serve.max_media_bytes
        return await asyncio.to_thread(decode_media, rows, spec, max_bytes=limit)

    # -- predict ------------------------------------------------------------------------------

    async def predict(
        self, authorization: str | None, body: bytes, content_type: str | None = None
    ) -> dict[str, Any]:
        who = self.authenticated(authorization)
        try:
            authorize(who, "predict")
            return await self._predict(who, body, content_type)
        except Exception as exc:
            self.count_error(who, "predict", exc)
            raise

    async def _predict(
        self, who: Principal, body: bytes, content_type: str | None
    ) -> dict[str, Any]:
        rows = self.parse(body, content_type)
        ticket = await self._admit(who, len(rows))
        try:
            self.input_pii.observe(rows)
            anonymized, logged = await self._media(self.holder.current()[1], self._anonymized(rows))
            batch = await self.batcher.submit(anonymized)
        except BaseException:  # nothing served: the rows go back to the lease
            self.limiter.refund(ticket)
            raise
        created = now_iso()
        tenant_id, id_column, classes = who.tenant_id, self.id_column, batch.classes
        records, out = [], []
        if not classes:  # a regression: the value and its prediction interval
            return self._values(who, anonymized, logged, batch, created, len(rows))
        for row, p in zip(logged, batch.proba.tolist(), strict=True):
            probabilities = dict(zip(classes, p, strict=True))
            label = classes[p.index(max(p))]
            prediction_id = ordered_id()
            out.append({"id": prediction_id, "label": label, "probabilities": probabilities})
            subject = row.get(id_column) if id_column else None
            records.append(
                (prediction_id, tenant_id, batch.version, subject, row, label, probabilities,
                 batch.latency_ms, False, created, prediction_id)
            )  # fmt: skip
        self.writer.log(records)
        self.writer.meter(tenant_id, "predict", len(rows))
        self.metrics.rows("predict", len(rows))
        if self.holder.shadow() is not None:
            with self._shadow.lock:
                self._shadow.items.append((tenant_id, anonymized, logged, [o["id"] for o in out]))
        return {"model_version": batch.version, "predictions": out}

    def _values(
        self,
        who: Principal,
        anonymized: list[dict[str, Any]],
        log_rows: list[dict[str, Any]],
        batch: _Batch,
        created: str,
        n_rows: int,
    ) -> dict[str, Any]:
        """The regression answer: ``{"id", "value", "interval": [lo, hi]}`` per row."""
        values = batch.proba[:, 0].tolist()
        bounds = batch.intervals.tolist() if batch.intervals is not None else [None] * len(values)
        records, out = [], []
        for row, value, interval in zip(log_rows, values, bounds, strict=True):
            prediction_id = ordered_id()
            out.append({"id": prediction_id, "value": value, "interval": interval})
            logged = {"value": value}
            if interval is not None:
                logged.update(low=interval[0], high=interval[1])
            subject = row.get(self.id_column) if self.id_column else None
            records.append(
                (prediction_id, who.tenant_id, batch.version, subject, row, repr(value), logged,
                 batch.latency_ms, False, created, prediction_id)
            )  # fmt: skip
        self.writer.log(records)
        self.writer.meter(who.tenant_id, "predict", n_rows)
        self.metrics.rows("predict", n_rows)
        if self.holder.shadow() is not None:
            with self._shadow.lock:
                self._shadow.items.append(
                    (who.tenant_id, anonymized, log_rows, [o["id"] for o in out])
                )
        return {"model_version": batch.version, "predictions": out}

    def _forward(self, rows: list[dict[str, Any]], sizes: list[int]) -> list[_Batch]:
        """One pass over the rows of several requests; one slice per request."""
        version, model = self.holder.current()
        started = time.perf_counter()
        proba = model.predict_output(rows)  # [n, n_classes] or values [n, 1]
        intervals = model.intervals(proba[:, 0]) if model.is_regression else None
        per_row = (time.perf_counter() - started) * 1000 / len(rows)
        out, start = [], 0
        for size in sizes:
            stop = start + size
            part = intervals[start:stop] if intervals is not None else None
            out.append(_Batch(version, model.classes, proba[start:stop], per_row, part))
            start = stop
        return out

    def _shadow_pass(self) -> None:
        """On the writer thread: the shadow model over every row served since the last flush,
        in one pass, logged with ``shadow=True``; never returned to a caller."""
        with self._shadow.lock:
            items, self._shadow.items = self._shadow.items, []
        shadow = self.holder.shadow()
        if not items or shadow is None:
            return
        version, model = shadow
        rows = [row for _, batch, _, _ in items for row in batch]
        started = time.perf_counter()
        proba = model.predict_output(rows).tolist()
        per_row = (time.perf_counter() - started) * 1000 / len(rows)
        created, classes, records, i = now_iso(), model.classes, [], 0
        for tenant_id, _, batch, request_ids in items:  # logged as the champion's rows were
            for row, request_id in zip(batch, request_ids, strict=True):
                p = proba[i]
                i += 1
                subject = row.get(self.id_column) if self.id_column else None
                if classes:
                    label, scores = classes[p.index(max(p))], dict(zip(classes, p, strict=True))
                else:
                    label, scores = repr(p[0]), {"value": p[0]}
                records.append(
                    (ordered_id(), tenant_id, version, subject, row, label, scores, per_row, True,
                     created, request_id)
                )  # fmt: skip
        self.writer.log(records)

    # -- explain ------------------------------------------------------------------------------

    async def explain(
        self, authorization: str | None, body: bytes, content_type: str | None = None
    ) -> dict[str, Any]:
        who = self.authenticated(authorization)
        try:
            authorize(who, "explain")
            return await self._explain_request(who, body, content_type)
        except Exception as exc:
            self.count_error(who, "explain", exc)
            raise

    async def _explain_request(
        self, who: Principal, body: bytes, content_type: str | None
    ) -> dict[str, Any]:
        rows = self.parse(body, content_type)
        ticket = await self._admit(who, len(rows))
        cancel = threading.Event()
        try:
            self.input_pii.observe(rows)
            version, model = self.holder.current()
            anonymized, _ = await self._media(model, self._anonymized(rows))
            explanations = await self._explain_in_time(model, anonymized, cancel)
        except BaseException as exc:
            cancel.set()  # the thread stops at its next forward pass, not when it is done
            self.limiter.refund(ticket)  # nothing was served: the rows go back to the lease
            if isinstance(exc, ImportError):
                raise Unavailable(
                    "explanations are not available in this build", retry_after=60
                ) from None
            if isinstance(exc, TimeoutError):
                raise Unavailable(
                    f"the explanation took longer than {self.timeout:g} s; it was stopped",
                    hint="send fewer rows per request",
                ) from None
            raise
        self.writer.meter(who.tenant_id, "explain", len(rows))
        self.metrics.rows("explain", len(rows))
        return {"model_version": version, "explanations": explanations}

    async def _explain_in_time(
        self, model: Any, rows: list[dict[str, Any]], cancel: threading.Event
    ) -> list[dict[str, Any]]:
        """The explanation on the default executor; `TimeoutError` after ``self.timeout``.
        The executor's future is shielded from the timeout: a work item cancelled while it
        still waits for a free thread would never run, so it would neither stop cleanly nor
        count as cancelled. Left to run, a late start sees ``cancel`` at once and stops (the
        shield reads the outcome nobody awaits, so asyncio logs nothing)."""
        work = asyncio.get_running_loop().run_in_executor(
            None,
            functools.partial(contextvars.copy_context().run, self._explain, model, rows, cancel),
        )
        return await asyncio.wait_for(asyncio.shield(work), self.timeout)

    def _explain(
        self, model: Any, rows: list[dict[str, Any]], cancel: threading.Event
    ) -> list[dict[str, Any]]:
        """On a worker thread; raises `Cancelled` at the first forward pass after ``cancel`` —
        or at the end, when the timeout fired during the last pass (the answer is dropped either
        way, so both count as cancelled)."""
        try:
            if cancel.is_set():  # it started after its request timed out
                raise Cancelled("the explanation started after its request timed out")
            explanations = model.explain(rows, should_stop=cancel.is_set)
            if cancel.is_set():
                raise Cancelled("the explanation finished after its request timed out")
            return explanations
        except Cancelled:
            self.metrics.explanation_cancelled()
            raise

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Flush the write-behind and hand unspent quota leases back (a worker stopping)."""
        if self._closed:
            return
        self._closed = True
        self.holder.stop()
        self.writer.close()
        self.limiter.release()
        self.metrics.close()
