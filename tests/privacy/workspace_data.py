"""A small populated workspace for erasure and rotation tests: raw → clean → anonymized → train /
val sets of three subjects, model versions, predictions and feedback; and whole-store snapshots."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa

from datawheel.config import PrivacyConfig
from datawheel.privacy.anonymize import Anonymizer, subject_token
from datawheel.store.datasets import DatasetRecord, list_datasets, load_frame, save_dataset
from datawheel.store.db import feedback, metadata, model_versions, now_iso, predictions
from datawheel.store.workspace import Workspace

RAW = pl.DataFrame(
    {
        "pid": ["P100001", "P100002", "P100003"],
        "name": ["Ada Lovelace", "Alan Turing", "Grace Hopper"],
        "email": ["ada@example.com", "alan@example.org", "grace@example.net"],
        "ssn": ["123-45-6789", "987-65-4321", "555-12-3456"],
        "note": ["write to ada@example.com", "call 555-867-5309", None],
        "age": [36, 41, 85],
        "label": ["a", "b", "a"],
    }
)
PRIVACY = PrivacyConfig(
    columns={"name": "pseudonymize", "email": "pseudonymize", "ssn": "encrypt"},
    text={"operator": "pseudonymize"},
)
TEXT = ["note"]


@dataclass
class Populated:
    sets: dict[str, DatasetRecord]
    anonymized: pl.DataFrame


def anonymizer(ws: Workspace) -> Anonymizer:
    return Anonymizer(PRIVACY, ws.secret_key(), id_column="pid", text_columns=TEXT)


def _version(conn: Any, number: int, stage: str, dataset_id: str) -> None:
    at = now_iso()
    conn.execute(
        sa.insert(model_versions).values(
            id=f"v{number}", number=number, stage=stage, artifact="0" * 64, dataset_id=dataset_id,
            metrics={}, fairness={}, input_schema={}, needs_retraining=False, notes="",
            created_at=at, stage_changed_at=at,
        )
    )  # fmt: skip


def populate(ws: Workspace) -> Populated:
    """P1 and P2 train v1 (champion) and v2 (challenger); P3 alone is in the set v3 learned."""
    key = ws.secret_key()
    tokens = [subject_token(key, p) for p in RAW["pid"]]
    sets = {}
    for kind in ("raw", "clean"):
        sets[kind] = save_dataset(ws, RAW, name=kind, kind=kind, encrypted=True, subjects=tokens)
    anon, _ = anonymizer(ws).frame(RAW)
    sets["anonymized"] = save_dataset(
        ws, anon, name="anonymized", kind="anonymized", encrypted=True, subjects=tokens
    )
    val = anon.filter(pl.col("pid") == tokens[2])
    sets["val"] = save_dataset(ws, val, name="val", kind="val", encrypted=True, subjects=tokens[2:])
    train = anon.filter(pl.col("pid").is_in(tokens[:2]))
    sets["train"] = save_dataset(
        ws, train, name="train", kind="train", encrypted=True, subjects=tokens[:2],
        stats={"val": sets["val"].id},
    )  # fmt: skip
    sets["other"] = save_dataset(
        ws, val, name="other", kind="train", encrypted=True, subjects=tokens[2:]
    )
    with ws.engine.begin() as conn:
        _version(conn, 1, "champion", sets["train"].id)
        _version(conn, 2, "challenger", sets["train"].id)
        _version(conn, 3, "archived", sets["other"].id)
        for i, row in enumerate(RAW.to_dicts()):
            served = anonymizer(ws).row({k: v for k, v in row.items() if k != "label"})
            conn.execute(
                sa.insert(predictions).values(
                    id=f"pred{i}", tenant_id="t", model_version="v1", subject=served["pid"],
                    features=served, label="a", probabilities={"a": 1.0}, latency_ms=1.0,
                    shadow=False, created_at=now_iso(),
                )
            )  # fmt: skip
            conn.execute(
                sa.insert(feedback).values(
                    id=f"fb{i}", prediction_id=f"pred{i}", tenant_id="t", subject=served["pid"],
                    label="b", comment="wrong", created_at=now_iso(),
                )
            )  # fmt: skip
        # logged without a subject id, but carrying P1's e-mail token: erasure finds it too
        no_id = anonymizer(ws).row({"email": "ada@example.com", "age": 36})
        conn.execute(
            sa.insert(predictions).values(
                id="pred-anon", tenant_id="t", model_version="v1", subject=None, features=no_id,
                label="a", probabilities={"a": 1.0}, latency_ms=1.0, shadow=False,
                created_at=now_iso(),
            )
        )  # fmt: skip
    return Populated(sets, anon)


def table_text(ws: Workspace, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every row of every table as text, by table."""
    out = {}
    with ws.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name not in skip:
                rows = conn.execute(sa.select(table)).all()
                out[table.name] = "\n".join(repr(tuple(r)) for r in rows)
    return out


def datasets_text(ws: Workspace) -> str:
    """Every stored dataset, decrypted, as CSV text."""
    return "\n".join(
        load_frame(ws, r).write_csv() for r in list_datasets(ws) if r.artifact is not None
    )


def snapshot(ws: Workspace, *extra_files: Any) -> dict[str, Any]:
    """The whole store: table contents, artifact files and the given files (hashes)."""
    files = sorted(p for p in (ws.root / "artifacts").rglob("*") if p.is_file())
    hashed = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    for path in extra_files:
        hashed[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""
    return {"tables": table_text(ws), "files": hashed}
