"""The data subject's rights: erasure (GDPR art. 17) and access (art. 15), over the whole workspace.

A subject is named by its raw id (the ``data.id`` column, e.g. ``P000123``); everything stored
refers to it by its keyed token ``subject_token(key, id)``. Erasure removes its rows from every
stored dataset (raw and clean by raw id, the anonymized ones by token), rewriting each affected
dataset under the same id and crypto-shredding the old artifact; deletes its lineage, predictions
and feedback; taints the model versions trained on it (the champion keeps serving, flagged
``needs_retraining``, until a retrain replaces it); remembers the token in ``erased_subjects``
and writes a receipt to the audit log. All database changes commit in one transaction.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Connection, String, cast, delete, insert, or_, select, update

from datawheel.errors import UsageError
from datawheel.io import binary_as_base64
from datawheel.privacy.anonymize import subject_token
from datawheel.privacy.operators import ENCRYPTED_PREFIX, decrypt_value
from datawheel.privacy.rewrite import StoreRewrite
from datawheel.secret import SecretKey
from datawheel.store.datasets import DatasetRecord, list_datasets, load_frame
from datawheel.store.db import (
    drift_references,
    erased_subjects,
    feedback,
    lineage,
    model_versions,
    now_iso,
    predictions,
    purge_deleted,
    reading,
    release_subjects,
    releases,
    stage_events,
)
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace

__all__ = ["ErasureReceipt", "erase_subject", "export_subject", "resolve_subject"]

log = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"\b[A-Z][A-Z_]*_[0-9a-f]{16}\b")  # any pseudonym: TAG_<16 hex>
RAW_KINDS = ("raw", "clean")  # datasets that hold raw ids (and raw PII, encrypted at rest)


@dataclass
class ErasureReceipt:
    """What one erasure removed; written to the audit log (the token, never the raw id)."""

    subject: str  # the token
    rows_removed: dict[str, int] = field(default_factory=dict)  # dataset id → rows
    datasets_rewritten: list[str] = field(default_factory=list)
    deleted: dict[str, int] = field(default_factory=dict)  # table → rows
    versions_tainted: list[str] = field(default_factory=list)
    champion_needs_retraining: str | None = None
    already_erased: bool = False
    # releases handed to partners that held the subject: they cannot be recalled, so the
    # controller must ask each partner to delete the subject's rows (GDPR art. 17(2))
    releases_not_recalled: list[dict[str, str]] = field(default_factory=list)

    @property
    def nothing_left(self) -> bool:
        """True when the subject held nothing any more (e.g. a second run)."""
        return not self.rows_removed and not any(self.deleted.values())

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "nothing_left": self.nothing_left}


def resolve_subject(key: SecretKey, subject: str) -> str:
    """The token of a raw subject id; a token (``SUBJECT_<16 hex>``) is taken as it is."""
    subject = str(subject).strip()
    if not subject:
        raise UsageError("the subject id is empty", hint="pass --subject P000123")
    if re.fullmatch(r"SUBJECT_[0-9a-f]{16}", subject):
        return subject
    token = subject_token(key, subject)
    assert token is not None
    return token


def _matching_rows(frame: pl.DataFrame, id_column: str, token: str, key: SecretKey) -> pl.Series:
    """A boolean mask of the subject's rows: id equal to the token, or hashing to it."""
    ids = frame[id_column].cast(pl.String)
    hits = [v for v in ids.drop_nulls().unique().to_list() if v == token]
    hits += [
        v
        for v in ids.drop_nulls().unique().to_list()
        if v != token and subject_token(key, v) == token
    ]
    return ids.is_in(hits).fill_null(False)


def _subject_rows(
    ws: Workspace, id_column: str | None, token: str, key: SecretKey
) -> list[tuple[DatasetRecord, pl.DataFrame, pl.Series]]:
    """Every stored dataset that may hold the subject, with its table and the subject's rows."""
    with reading(ws.engine) as conn:
        stmt = select(lineage.c.dataset_id).where(lineage.c.subject == token)
        listed_ids = set(conn.execute(stmt).scalars())
    out = []
    for record in list_datasets(ws):
        if record.artifact is None:
            continue
        has_id = bool(id_column) and id_column in record.schema
        if not has_id and record.id not in listed_ids:
            continue
        frame = load_frame(ws, record)
        if not id_column or id_column not in frame.columns:
            continue
        out.append((record, frame, _matching_rows(frame, id_column, token, key)))
    return out


def _linked_tokens(rows: Iterable[pl.DataFrame]) -> set[str]:
    """Pseudonyms in the subject's anonymized rows (its EMAIL_…, PERSON_… tokens)."""
    found: set[str] = set()
    for frame in rows:
        for column, dtype in frame.schema.items():
            if dtype == pl.String:
                for value in frame[column].drop_nulls().to_list():
                    found.update(TOKEN_RE.findall(value))
    return found


def _text_has(column: Any, tokens: set[str]) -> Any:
    return or_(*(cast(column, String).like(f"%{t}%") for t in sorted(tokens)))


def _delete_activity(conn: Connection, token: str, linked: set[str]) -> dict[str, int]:
    """Predictions and feedback of the subject: by subject token, or — when logged without a
    subject — by one of its linked pseudonyms in the features or the comment."""
    pred_filter = predictions.c.subject == token
    if linked:
        pred_filter = or_(
            pred_filter,
            (predictions.c.subject.is_(None)) & _text_has(predictions.c.features, linked),
        )
    pred_ids = [r[0] for r in conn.execute(select(predictions.c.id).where(pred_filter))]
    fb_filter = feedback.c.subject == token
    if pred_ids:
        fb_filter = or_(fb_filter, feedback.c.prediction_id.in_(pred_ids))
    if linked:
        fb_filter = or_(
            fb_filter, feedback.c.subject.is_(None) & _text_has(feedback.c.comment, linked)
        )
    deleted = {"feedback": conn.execute(delete(feedback).where(fb_filter)).rowcount}
    deleted["predictions"] = 0
    for start in range(0, len(pred_ids), 500):
        chunk = pred_ids[start : start + 500]
        deleted["predictions"] += conn.execute(
            delete(predictions).where(predictions.c.id.in_(chunk))
        ).rowcount
    deleted["lineage"] = conn.execute(delete(lineage).where(lineage.c.subject == token)).rowcount
    return deleted


def _taint(
    conn: Connection,
    ws: Workspace,
    affected: set[str],
    sets: dict[str, DatasetRecord],
    receipt: ErasureReceipt,
) -> None:
    """Versions trained on an affected set (the training set or its validation set) become
    ``tainted``; the champion keeps serving, marked ``needs_retraining``, until replaced."""
    reason = "trained on an erased subject"
    at = now_iso()
    for v in conn.execute(select(model_versions)).all():
        train = sets.get(v.dataset_id)
        used = {v.dataset_id, train.stats.get("val") if train else None}
        if not used & affected:
            continue
        conn.execute(delete(drift_references).where(drift_references.c.version == v.id))
        if v.stage == "champion":
            conn.execute(
                update(model_versions)
                .where(model_versions.c.id == v.id)
                .values(needs_retraining=True)
            )
            receipt.champion_needs_retraining = v.id
            ws.record(conn, "model.needs_retraining", v.id, {"reason": reason})
        elif v.stage != "tainted":
            conn.execute(
                update(model_versions)
                .where(model_versions.c.id == v.id)
                .values(stage="tainted", stage_changed_at=at)
            )
            conn.execute(
                insert(stage_events).values(
                    version=v.id, from_stage=v.stage, to_stage="tainted", reason=reason, at=at
                )
            )
            ws.record(
                conn, "model.stage", v.id, {"from": v.stage, "to": "tainted", "reason": reason}
            )
            receipt.versions_tainted.append(v.id)


def erase_subject(ws: Workspace, subject: str, *, id_column: str | None) -> ErasureReceipt:
    """Remove one data subject from the whole workspace (see the module docstring).

    ``subject`` is the raw id (or its token); ``id_column`` is the project's ``data.id``.
    Running it twice is harmless: the second receipt says nothing was left. A wrong secret key
    fails before anything is written.
    """
    require(ws, "erase")
    key = ws.secret_key()
    token = resolve_subject(key, subject)
    found = _subject_rows(ws, id_column, token, key)
    sets = {r.id: r for r in list_datasets(ws)}
    receipt = ErasureReceipt(subject=token)
    removed = [(rec, frame, mask) for rec, frame, mask in found if bool(mask.any())]
    linked = _linked_tokens(
        frame.filter(mask) for rec, frame, mask in removed if rec.kind not in RAW_KINDS
    )
    linked.discard(token)
    rewrite = StoreRewrite(ws, key)
    try:
        with ws.engine.begin() as conn:
            for record, frame, mask in removed:
                rewrite.replace(conn, record, frame.filter(~mask))
                receipt.rows_removed[record.id] = int(mask.sum())
                receipt.datasets_rewritten.append(record.id)
            listed = {
                r[0]
                for r in conn.execute(
                    select(lineage.c.dataset_id).where(lineage.c.subject == token)
                )
            }
            receipt.deleted = _delete_activity(conn, token, linked)
            receipt.releases_not_recalled = [
                {"release": r.id, "partner": r.partner, "created_at": r.created_at}
                for r in conn.execute(
                    select(releases.c.id, releases.c.partner, releases.c.created_at)
                    .join(release_subjects, release_subjects.c.release_id == releases.c.id)
                    .where(release_subjects.c.subject == token)
                    .order_by(releases.c.created_at)
                )
            ]
            _taint(conn, ws, set(receipt.datasets_rewritten) | listed, sets, receipt)
            known = conn.execute(
                select(erased_subjects.c.subject).where(erased_subjects.c.subject == token)
            ).first()
            receipt.already_erased = known is not None
            if known is None:
                conn.execute(insert(erased_subjects).values(subject=token, erased_at=now_iso()))
            ws.record(conn, "subject.erase", token, receipt.to_dict())
    except BaseException:
        rewrite.discard()
        raise
    rewrite.finish()
    if not purge_deleted(ws.engine) and ws.engine.dialect.name == "sqlite":
        log.warning("the WAL checkpoint after erasing %s was blocked by a reader", token)
    return receipt


def _jsonable(frame: pl.DataFrame, key: SecretKey, role: str | None) -> list[dict[str, Any]]:
    rows = binary_as_base64(frame).to_dicts()  # stored images and clips as base64 text
    for row in rows:
        for column, value in row.items():
            if isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX):
                row[column] = decrypt_value(key, value, column=column, role=role)
    return rows


def export_subject(ws: Workspace, subject: str, *, id_column: str | None) -> dict[str, Any]:
    """Everything held about one subject (GDPR art. 15), as JSON-ready data — admin only.

    Rows of every dataset (raw and clean with their plain values; ``encrypt``-operator fields
    decrypted), predictions, feedback, lineage, and the model versions trained on those sets.
    The export is recorded in the audit log (token and counts only).
    """
    require(ws, "subject_export")
    key = ws.secret_key()
    token = resolve_subject(key, subject)
    out: dict[str, Any] = {"subject": str(subject), "token": token, "datasets": []}
    held: set[str] = set()
    for record, frame, mask in _subject_rows(ws, id_column, token, key):
        if not bool(mask.any()):
            continue
        held.add(record.id)
        out["datasets"].append(
            {
                "id": record.id,
                "name": record.name,
                "kind": record.kind,
                "created_at": record.created_at,
                "rows": _jsonable(frame.filter(mask), key, ws.role),
            }
        )
    sets = {r.id: r for r in list_datasets(ws)}
    with reading(ws.engine) as conn:
        out["lineage"] = [
            r[0]
            for r in conn.execute(select(lineage.c.dataset_id).where(lineage.c.subject == token))
        ]
        out["predictions"] = [
            dict(r._mapping)
            for r in conn.execute(select(predictions).where(predictions.c.subject == token))
        ]
        out["feedback"] = [
            dict(r._mapping)
            for r in conn.execute(select(feedback).where(feedback.c.subject == token))
        ]
        out["erased"] = (
            conn.execute(select(erased_subjects).where(erased_subjects.c.subject == token)).first()
            is not None
        )
        versions = conn.execute(select(model_versions)).all()
    held |= set(out["lineage"])
    out["model_versions"] = [
        {"id": v.id, "stage": v.stage, "dataset_id": v.dataset_id, "created_at": v.created_at}
        for v in versions
        if {v.dataset_id, sets[v.dataset_id].stats.get("val") if v.dataset_id in sets else None}
        & held
    ]
    counts = {
        "datasets": len(out["datasets"]),
        "rows": sum(len(d["rows"]) for d in out["datasets"]),
        "predictions": len(out["predictions"]),
        "feedback": len(out["feedback"]),
    }
    with ws.engine.begin() as conn:
        ws.record(conn, "subject.export", token, counts)
    return out
