"""Secret-key rotation: a new key, every artifact key re-wrapped, encrypted fields re-encrypted,
and pseudonyms re-tokenized — all in one database transaction, the key file swapped last.

Order of operations, so that a failure at any point leaves the old key working:

1. write the new key to ``datawheel.key.new`` (0600);
2. read every dataset with the old key; build old → new token pairs from the raw values held
   in the raw and clean datasets (pseudonyms cannot be inverted, so the raw data is the only way
   to re-tokenize) and rewrite the anonymized datasets with new tokens and re-encrypted fields;
3. in one transaction: re-wrap every artifact data key, update lineage, predictions and feedback,
   re-sign API keys and re-chain the audit log under the new key (each verified under the old
   one first: a tampered log stops the rotation), flag every live model version
   ``needs_retraining`` (its inputs were tokenized with the old key), drop drift references,
   store the new key fingerprint, append an audit record;
4. after the commit: rename ``datawheel.key.new`` over ``datawheel.key``, unlink retired files.

A crash between 3 and 4 leaves ``datawheel.key.new`` matching the stored fingerprint: the next
``rotate_key`` finishes the rename instead of starting over.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import delete, select, update

from datawheel.atomic import commit_rename
from datawheel.config import PrivacyConfig
from datawheel.errors import SecretKeyError, UsageError
from datawheel.privacy.anonymize import SUBJECT_TAG, pii_tag
from datawheel.privacy.erasure import RAW_KINDS, TOKEN_RE
from datawheel.privacy.operators import ENCRYPTED_PREFIX, decrypt_value, encrypt_value, pseudonym
from datawheel.privacy.rewrite import StoreRewrite
from datawheel.privacy.scan import scan_pii
from datawheel.secret import KEY_ENV, KEY_FILE, SecretKey, generate_key_file
from datawheel.store import audit, credentials
from datawheel.store.artifacts import rewrap_keys
from datawheel.store.datasets import list_datasets, load_frame
from datawheel.store.db import (
    drift_references,
    feedback,
    lineage,
    meta,
    model_versions,
    predictions,
    reading,
)
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace

__all__ = ["RotationReport", "rotate_key"]

ENC_RE = re.compile(re.escape(ENCRYPTED_PREFIX) + r"[A-Za-z0-9_\-=]+")
LIVE_STAGES = ("champion", "challenger", "shadow")


@dataclass
class RotationReport:
    """What a rotation changed (fingerprints are public ids of keys, never the keys)."""

    old_fingerprint: str
    new_fingerprint: str
    key_file: str
    artifact_keys_rewrapped: int = 0
    datasets_rewritten: list[str] = field(default_factory=list)
    tokens_mapped: int = 0  # distinct old → new pseudonym pairs built from raw data
    tokens_unmapped: int = 0  # old tokens with no raw value left (kept as they are)
    fields_reencrypted: int = 0
    api_keys_resigned: int = 0  # key MACs moved to the new key
    audit_entries_rechained: int = 0  # the audit chain, verified, then re-linked
    rows_updated: dict[str, int] = field(default_factory=dict)  # table → rows
    versions_needing_retraining: list[str] = field(default_factory=list)
    resumed: bool = False  # an interrupted rotation was completed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Translator:
    """Maps old tokens to new ones and re-encrypts ``enc:v1:`` fields, counting what it did."""

    def __init__(self, old: SecretKey, new: SecretKey, tokens: dict[str, str], role: str | None):
        self.old, self.new, self.tokens, self.role = old, new, tokens, role
        self.unmapped: set[str] = set()
        self.reencrypted = 0

    def _token(self, match: re.Match[str]) -> str:
        found = match.group(0)
        if found in self.tokens:
            return self.tokens[found]
        self.unmapped.add(found)
        return found

    def text(self, value: str, column: str) -> str:
        if ENCRYPTED_PREFIX in value:

            def again(m: re.Match[str]) -> str:
                plain = decrypt_value(self.old, m.group(0), column=column, role=self.role)
                self.reencrypted += 1
                return encrypt_value(self.new, plain, column=column) or ""

            value = ENC_RE.sub(again, value)
        return TOKEN_RE.sub(self._token, value)

    def json(self, value: Any, column: str = "") -> Any:
        """Translate the strings inside a JSON value (a prediction's features: key = column)."""
        if isinstance(value, str):
            return self.text(value, column)
        if isinstance(value, dict):
            return {k: self.json(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v, column) for v in value]
        return value

    def frame(self, frame: pl.DataFrame) -> pl.DataFrame | None:
        """The table with tokens and encrypted fields translated; None when nothing changed."""
        changed = []
        for column, dtype in frame.schema.items():
            if dtype != pl.String:
                continue
            series = frame[column]
            if not bool(series.str.contains(TOKEN_RE.pattern).any()) and not bool(
                series.str.contains(ENCRYPTED_PREFIX, literal=True).any()
            ):
                continue
            distinct = series.drop_nulls().unique().to_list()
            mapping = {v: self.text(v, column) for v in distinct}
            if any(k != v for k, v in mapping.items()):
                changed.append(series.replace_strict(mapping, default=None, return_dtype=pl.String))
        return frame.with_columns(changed) if changed else None


def _token_pairs(
    raw_frames: list[pl.DataFrame],
    privacy: PrivacyConfig,
    id_column: str | None,
    text_columns: list[str],
    old: SecretKey,
    new: SecretKey,
) -> dict[str, str]:
    """Old → new pseudonym of every raw value a pseudonymizing rule or the id column touched."""
    tagged = {c: pii_tag(c) for c, rule in privacy.columns.items() if rule == "pseudonymize"}
    if id_column:
        tagged[id_column] = SUBJECT_TAG
    pairs: dict[str, str] = {}

    def add(value: Any, tag: str) -> None:
        before = pseudonym(old, value, tag=tag)
        if before is not None:
            pairs[before] = pseudonym(new, value, tag=tag) or ""

    for frame in raw_frames:
        for column, tag in tagged.items():
            if column in frame.columns:
                for value in frame[column].drop_nulls().unique().to_list():
                    add(value, tag)
        if privacy.text.operator != "pseudonymize" or privacy.text.entities == []:
            continue
        wanted = None if privacy.text.entities == "all" else privacy.text.entities
        for column in (c for c in text_columns if c in frame.columns):
            texts = frame[column].cast(pl.String).drop_nulls().unique().to_list()
            for text, spans in zip(texts, scan_pii(texts, entities=wanted), strict=True):
                for span in spans:
                    add(text[span.start : span.end], span.type)
    return pairs


def _check_env_and_file(ws: Workspace, key_file: Path) -> None:
    if os.environ.get(KEY_ENV):
        raise UsageError(
            f"the secret key comes from {KEY_ENV}; rotation writes a new key file",
            where=KEY_ENV,
            hint=f"put the current key in {KEY_FILE} (mode 600), unset {KEY_ENV}, run "
            f"`datawheel secret rotate`, then set {KEY_ENV} to the new {KEY_FILE} contents",
        )
    with reading(ws.engine) as conn:
        stored = conn.execute(select(meta.c.value).where(meta.c.key == "key_fingerprint")).scalar()
    pending = key_file.with_name(key_file.name + ".new")
    if pending.is_file():
        candidate = SecretKey.from_text(pending.read_text(encoding="ascii"), origin=str(pending))
        if candidate.fingerprint == stored:  # committed, not yet renamed: finish the swap
            raise _Resume(pending, candidate)
        pending.unlink()  # a failed attempt: its key never reached the database


class _Resume(Exception):
    def __init__(self, pending: Path, key: SecretKey):
        self.pending, self.key = pending, key


def rotate_key(
    ws: Workspace,
    *,
    privacy: PrivacyConfig,
    id_column: str | None,
    text_columns: list[str] | None = None,
    key_file: Path | None = None,
    new_key: SecretKey | None = None,
) -> RotationReport:
    """Replace the workspace's secret key (see the module docstring); admin only.

    ``key_file`` defaults to ``datawheel.key`` in the workspace's key folder. Refuses when the
    key comes from ``DATAWHEEL_KEY``. Models trained on old tokens are flagged for retraining;
    restart servers afterwards (they hold the old key).
    """
    require(ws, "rotate")
    key_file = key_file or (ws.key_dir or Path.cwd()) / KEY_FILE
    try:
        _check_env_and_file(ws, key_file)
    except _Resume as resume:
        commit_rename(resume.pending, key_file)
        return RotationReport("", resume.key.fingerprint, str(key_file), resumed=True)
    old = ws.secret_key()  # a wrong key fails here, before anything is written
    if key_file.is_file():
        on_disk = SecretKey.from_text(key_file.read_text(encoding="ascii"), origin=str(key_file))
        if on_disk.fingerprint != old.fingerprint:
            raise SecretKeyError(
                "the key file holds another key than the one this workspace was opened with",
                where=str(key_file),
                hint="open the workspace with the key in that file",
            )
    new = new_key or SecretKey.generate()
    pending = key_file.with_name(key_file.name + ".new")
    report = RotationReport(old.fingerprint, new.fingerprint, str(key_file))
    records = [r for r in list_datasets(ws) if r.artifact is not None]
    frames = {r.id: load_frame(ws, r) for r in records}
    pairs = _token_pairs(
        [frames[r.id] for r in records if r.kind in RAW_KINDS],
        privacy,
        id_column,
        list(text_columns or []),
        old,
        new,
    )
    report.tokens_mapped = len(pairs)
    tr = _Translator(old, new, pairs, ws.role)
    rewritten = {
        r.id: (r, out)
        for r in records
        if r.kind not in RAW_KINDS and (out := tr.frame(frames[r.id])) is not None
    }
    generate_key_file(pending, new)
    rewrite = StoreRewrite(ws, new)
    try:
        with ws.engine.begin() as conn:
            retired = {r.artifact for r, _ in rewritten.values()}
            for record, frame in rewritten.values():
                rewrite.replace(conn, record, frame)
                report.datasets_rewritten.append(record.id)
            report.artifact_keys_rewrapped = rewrap_keys(
                conn, old, new, skip=retired | _new(rewrite)
            )
            report.rows_updated = _update_tables(conn, tr)
            # what is MAC'ed under keys derived from the old key moves to the new one: API keys
            # (signing any legacy ones first) and the audit chain, each verified before
            credentials.sign_legacy(conn, old.credential_key, ws.record)
            report.api_keys_resigned = credentials.remac(
                conn, old.credential_key, new.credential_key
            )
            report.audit_entries_rechained = audit.rechain(conn, old.audit_key, new.audit_key)
            ws._key = new  # the entries below chain under the new key
            report.versions_needing_retraining = _flag_models(conn, ws)
            conn.execute(delete(drift_references))
            conn.execute(
                update(meta).where(meta.c.key == "key_fingerprint").values(value=new.fingerprint)
            )
            report.tokens_unmapped = len(tr.unmapped)
            report.fields_reencrypted = tr.reencrypted
            ws.record(conn, "secret.rotate", "workspace", report.to_dict())
    except BaseException:
        ws._key = old
        rewrite.discard()
        pending.unlink(missing_ok=True)
        raise
    commit_rename(pending, key_file)
    ws._key, ws._key_checked = new, True  # this handle goes on with the new key
    rewrite.finish()
    return report


def _new(rewrite: StoreRewrite) -> set[str]:
    return set(rewrite.created)


def _update_rows(conn: Any, table: Any, key: Any, columns: dict[str, Callable[[Any], Any]]) -> int:
    changed = 0
    for row in conn.execute(select(key, *(table.c[c] for c in columns))).all():
        values = {c: fn(row._mapping[c]) for c, fn in columns.items()}
        values = {c: v for c, v in values.items() if v != row._mapping[c]}
        if values:
            conn.execute(update(table).where(key == row[0]).values(**values))
            changed += 1
    return changed


def _update_tables(conn: Any, tr: _Translator) -> dict[str, int]:
    def text(v: Any) -> Any:
        return tr.text(v, "") if isinstance(v, str) else v

    def features(v: Any) -> Any:
        return tr.json(json.loads(v) if isinstance(v, str) else v)

    updated = {
        "predictions": _update_rows(
            conn, predictions, predictions.c.id, {"subject": text, "features": features}
        ),
        "feedback": _update_rows(conn, feedback, feedback.c.id, {"subject": text, "comment": text}),
    }
    old_links = conn.execute(select(lineage.c.dataset_id, lineage.c.subject)).all()
    moved = [(d, s, tr.tokens[s]) for d, s in old_links if s in tr.tokens]
    for dataset_id, subject, new in moved:
        conn.execute(
            update(lineage)
            .where(lineage.c.dataset_id == dataset_id, lineage.c.subject == subject)
            .values(subject=new)
        )
    updated["lineage"] = len(moved)
    return updated


def _flag_models(conn: Any, ws: Workspace) -> list[str]:
    live = conn.execute(
        select(model_versions.c.id).where(model_versions.c.stage.in_(LIVE_STAGES))
    ).scalars()
    ids = sorted(live)
    if ids:
        conn.execute(
            update(model_versions).where(model_versions.c.id.in_(ids)).values(needs_retraining=True)
        )
        for version in ids:
            ws.record(conn, "model.needs_retraining", version, {"reason": "secret key rotated"})
    return ids
