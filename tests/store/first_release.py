"""A workspace database of the first release (datawheel 0.1.0): its frozen DDL from
``releases/``, and rows like the ones its code wrote — its audit log included, an unkeyed
SHA-256 chain written here the way 0.1.0 wrote it — for the upgrade tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from datawheel.secret import SecretKey

__all__ = ["FIRST_RELEASE_AUDIT", "FIRST_RELEASE_ROWS", "build_first_release"]

RELEASES = Path(__file__).parent / "releases"
TS = "2026-11-29T10:00:00.000000+00:00"


def build_first_release(engine: sa.Engine, key: SecretKey | None = None) -> None:
    """The first release's tables (its frozen DDL), filled with rows its code wrote; ``key``:
    the secret key it was used with (its fingerprint is stored, as 0.1.0 did on first use)."""
    lines = (RELEASES / f"0.1.0.{engine.dialect.name}.sql").read_text().splitlines()
    ddl = "\n".join(line for line in lines if not line.startswith("--"))
    statements = [s for s in ddl.split(";\n") if s.strip()]
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        old = sa.MetaData()
        old.reflect(conn)
        for table, rows in FIRST_RELEASE_ROWS.items():
            conn.execute(sa.insert(old.tables[table]), rows)
        fingerprint = key.fingerprint if key else "0123456789abcdef"
        conn.execute(sa.insert(old.tables["meta"]).values(key="key_fingerprint", value=fingerprint))
        prev = "0" * 64
        for seq, (actor, action, target, details) in enumerate(FIRST_RELEASE_AUDIT, start=1):
            body = json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            link = "\x1f".join([prev, str(seq), TS, actor, action, target, body])
            digest = hashlib.sha256(link.encode("utf-8")).hexdigest()  # 0.1.0's unkeyed chain
            conn.execute(
                sa.insert(old.tables["audit"]).values(
                    seq=seq, ts=TS, actor=actor, action=action, target=target, details=body,
                    prev_hash=prev, hash=digest,
                )
            )  # fmt: skip
            prev = digest
        head = f"{len(FIRST_RELEASE_AUDIT)}:{prev}"
        meta = old.tables["meta"]
        conn.execute(sa.update(meta).where(meta.c.key == "audit_head").values(value=head))


# (actor, action, target, details) of the audit entries, oldest first
FIRST_RELEASE_AUDIT = [
    ("cli", "tenant.create", "t1", {"name": "acme", "plan": "pro"}),
    ("cli", "key.create", "k1", {"tenant": "acme", "role": "service"}),
]


FIRST_RELEASE_ROWS: dict[str, list[dict[str, Any]]] = {
    "meta": [{"key": "audit_head", "value": "0:" + "0" * 64}],
    "datasets": [
        {
            "id": "d1",
            "name": "adult",
            "kind": "train",
            "parent_id": None,
            "artifact": "ab" * 32,
            "encrypted": True,
            "rows": 3,
            "schema": {"age": {"dtype": "Int64", "role": "numeric"}},
            "stats": {"rows_in": 4, "dropped": {"duplicate": 1}},
            "fingerprint": "cd" * 32,
            "run_id": "r1",
            "created_at": TS,
        }
    ],
    "lineage": [{"dataset_id": "d1", "subject": "tok_a"}, {"dataset_id": "d1", "subject": "tok_b"}],
    "runs": [
        {
            "id": "r1",
            "kind": "train",
            "status": "finished",
            "params": {"epochs": 3},
            "metrics": {"accuracy": 0.82},
            "history": [{"epoch": 1, "loss": 0.5}],
            "environment": {"torch": "2.13.0"},
            "dataset_id": "d1",
            "started_at": TS,
            "finished_at": TS,
        }
    ],
    "model_versions": [
        {
            "id": "v1",
            "number": 1,
            "stage": "champion",
            "artifact": "ef" * 32,
            "run_id": "r1",
            "dataset_id": "d1",
            "eval_dataset_id": None,
            "metrics": {"accuracy": 0.82},
            "fairness": {"sex": {"gap": 0.1}},
            "input_schema": {"age": "numeric"},
            "needs_retraining": False,
            "notes": "",
            "created_at": TS,
            "stage_changed_at": TS,
        }
    ],
    "stage_events": [
        {"version": "v1", "from_stage": None, "to_stage": "champion", "reason": "first", "at": TS}
    ],
    "gate_decisions": [
        {
            "challenger": "v1",
            "champion": None,
            "decision": "promote",
            "reasons": ["no champion"],
            "comparison": {},
            "created_at": TS,
        }
    ],
    "tenants": [{"id": "t1", "name": "acme", "plan": "pro", "created_at": TS, "active": True}],
    "api_keys": [
        {
            "id": "k1",
            "tenant_id": "t1",
            "key_hash": "12" * 32,
            "role": "service",
            "created_at": TS,
            "revoked_at": None,
        }
    ],
    "usage": [
        {"tenant_id": "t1", "endpoint": "predict", "day": "2026-11-29", "requests": 7, "rows": 9}
    ],
    "quota_counters": [{"tenant_id": "t1", "month": "2026-11", "reserved": 9}],
    "rate_buckets": [{"tenant_id": "t1", "tokens": 55.5, "updated_at": 1764410400.25}],
    "predictions": [
        {
            "id": f"p{i}",
            "tenant_id": "t1",
            "model_version": "v1",
            "subject": subject,
            "features": {"age": 30 + i, "sex": "F"},
            "label": ">50K" if i % 2 else "<=50K",
            "probabilities": {"<=50K": 0.3, ">50K": 0.7},
            "latency_ms": 1.5,
            "shadow": False,
            "created_at": TS,
            "request_id": f"q{i}" if i else None,
        }
        for i, subject in enumerate(["tok_a", None, "tok_b"])
    ],
    "feedback": [
        {
            "id": "f1",
            "prediction_id": "p0",
            "tenant_id": "t1",
            "subject": "tok_a",
            "label": "<=50K",
            "issue": "wrong_label",
            "comment": "was [PERSON]",
            "rating": 2,
            "created_at": TS,
        }
    ],
    "erased_subjects": [{"subject": "tok_z", "erased_at": TS}],
    "drift_references": [
        {"version": "v1", "dataset_id": "d1", "reference": {"age": [1, 2]}, "created_at": TS}
    ],
    "artifact_keys": [
        {"digest": "ab" * 32, "wrapped_key": "d3JhcHBlZA==", "key_fingerprint": "f1"}
    ],
}
