"""Erasure (art. 17) and access (art. 15) on SQLite and PostgreSQL: nothing of an erased subject
remains in any table or artifact; models trained on it are tainted; a second run is harmless."""

from __future__ import annotations

import polars as pl
import pytest

from datawheel.errors import SecretKeyError
from datawheel.privacy.anonymize import subject_token
from datawheel.privacy.erasure import erase_subject, export_subject
from datawheel.privacy.operators import pseudonym
from datawheel.registry.versions import get_version
from datawheel.secret import SecretKey
from datawheel.store.audit import entries
from datawheel.store.datasets import get_dataset
from datawheel.store.workspace import Workspace

from .workspace_data import RAW, datasets_text, populate, snapshot, table_text

P1 = RAW.row(0, named=True)


def _traces(ws: Workspace) -> list[str]:
    """What must never remain of P1: raw values, and every pseudonym of them."""
    key = ws.secret_key()
    return [
        P1["pid"], P1["name"], P1["email"], P1["ssn"],
        subject_token(key, P1["pid"]),
        pseudonym(key, P1["name"], tag="PERSON"),
        pseudonym(key, P1["email"], tag="EMAIL"),
    ]  # fmt: skip


def test_erase_when_subject_everywhere_then_nothing_remains_and_models_tainted(workspace):
    populated = populate(workspace)
    before = {k: r.artifact for k, r in populated.sets.items()}
    receipt = erase_subject(workspace, "P100001", id_column="pid")
    token = receipt.subject
    assert token == subject_token(workspace.secret_key(), "P100001")
    # rows left raw, clean, anonymized and train (one each); val and other never held P1
    assert sorted(receipt.rows_removed.values()) == [1, 1, 1, 1]
    assert {populated.sets[k].id for k in ("raw", "clean", "anonymized", "train")} == set(
        receipt.datasets_rewritten
    )
    # its own prediction and the one carrying its e-mail token; the feedback on the first
    assert receipt.deleted == {"feedback": 1, "predictions": 2, "lineage": 4}
    assert receipt.versions_tainted == ["v2"] and receipt.champion_needs_retraining == "v1"
    champion = get_version(workspace, "v1")
    assert champion.stage == "champion" and champion.needs_retraining  # keeps serving
    assert get_version(workspace, "v3").stage == "archived"  # never saw P1

    # nothing of P1 in any table (the erasure list and the receipt keep the token, by design)
    tables = table_text(workspace, skip=("erased_subjects",))
    receipts = [e for e in entries(workspace.engine) if e.action == "subject.erase"]
    tables["audit"] = tables["audit"].replace(token, "")  # only in the receipt's target/details
    assert len(receipts) == 1 and receipts[0].target == token
    stored = datasets_text(workspace)
    for trace in _traces(workspace):
        for name, text in tables.items():
            assert trace not in text, (trace, name)
        assert trace not in stored, trace
    # the other subjects are untouched; the old artifacts are shredded and unlinked
    assert get_dataset(workspace, populated.sets["raw"].id).rows == 2
    assert "Alan Turing" in stored and "Grace Hopper" in stored
    for kind in ("raw", "clean", "anonymized", "train"):
        assert not workspace.artifacts.path(before[kind]).exists()
        assert not workspace.artifacts.is_encrypted(before[kind])
    assert workspace.verify_audit().ok

    again = erase_subject(workspace, "P100001", id_column="pid")
    assert again.nothing_left and again.already_erased and not again.versions_tainted


def test_export_when_admin_then_everything_about_the_subject(workspace):
    populate(workspace)
    data = export_subject(workspace, "P100001", id_column="pid")
    kinds = sorted(d["kind"] for d in data["datasets"])
    assert kinds == ["anonymized", "clean", "raw", "train"]
    anonymized = next(d for d in data["datasets"] if d["kind"] == "anonymized")
    assert anonymized["rows"][0]["ssn"] == P1["ssn"]  # encrypted field decrypted for the admin
    raw = next(d for d in data["datasets"] if d["kind"] == "raw")
    assert raw["rows"][0]["email"] == P1["email"]
    assert len(data["predictions"]) == 1 and len(data["feedback"]) == 1
    assert {v["id"] for v in data["model_versions"]} == {"v1", "v2"}
    assert len(data["lineage"]) == 4 and data["erased"] is False
    assert entries(workspace.engine)[-1].action == "subject.export"


@pytest.mark.parametrize("subject", ["P100001", "P404"])  # a subject held, and one never seen
def test_erase_when_other_key_then_fails_before_writing_anything(workspace, subject):
    populate(workspace)
    url = workspace.engine.url.render_as_string(hide_password=False)
    other = Workspace.open(workspace.root, db_url=url, key=SecretKey.generate(), role="admin")
    try:
        before = snapshot(workspace)
        with pytest.raises(SecretKeyError, match="another secret key"):
            erase_subject(other, subject, id_column="pid")
        assert snapshot(workspace) == before
    finally:
        other.close()


def test_erase_when_subject_absent_then_nothing_left_and_recorded(workspace):
    populate(workspace)
    receipt = erase_subject(workspace, "P404", id_column="pid")
    assert receipt.nothing_left and not receipt.datasets_rewritten
    assert get_version(workspace, "v1").needs_retraining is False
    assert pl.DataFrame(entries(workspace.engine)).height > 0


def test_erase_when_sqlite_then_no_trace_left_in_the_database_files(sqlite_workspace):
    """Deleted rows leave their bytes in free pages and old WAL frames unless the database
    zeroes them (secure_delete) and the WAL is checkpointed and truncated after erasure."""
    ws = sqlite_workspace
    populate(ws)
    key = ws.secret_key()
    gone = [pseudonym(key, P1["name"], tag="PERSON"), pseudonym(key, P1["email"], tag="EMAIL")]
    files = [ws.root / "datawheel.db", ws.root / "datawheel.db-wal"]

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in files if p.exists())

    assert all(t.encode() in on_disk() for t in gone)  # the prediction log holds them
    with ws.engine.connect() as conn:  # on in every build, not only where it is the default
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    erase_subject(ws, "P100001", id_column="pid")
    data = on_disk()
    for trace in gone:
        assert trace.encode() not in data, trace
    assert not (ws.root / "datawheel.db-wal").exists() or (
        (ws.root / "datawheel.db-wal").stat().st_size == 0
    )
