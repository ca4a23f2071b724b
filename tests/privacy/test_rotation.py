"""Key rotation on SQLite and PostgreSQL: everything readable with the new key only, pseudonyms
re-tokenized, models flagged; any failure leaves the old key and the store exactly as they were."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from datawheel.errors import SecretKeyError, UsageError
from datawheel.privacy.anonymize import subject_token
from datawheel.privacy.operators import decrypt_value, encrypt_value, pseudonym
from datawheel.privacy.rotation import rotate_key
from datawheel.registry.versions import get_version
from datawheel.secret import SecretKey, generate_key_file, load_secret_key
from datawheel.store.datasets import list_datasets, load_frame
from datawheel.store.db import now_iso, predictions
from datawheel.store.workspace import Workspace

from .workspace_data import PRIVACY, RAW, TEXT, populate, snapshot, table_text


def _rotate(ws: Workspace, key_file):
    return rotate_key(ws, privacy=PRIVACY, id_column="pid", text_columns=TEXT, key_file=key_file)


def _reopen(ws: Workspace, key: SecretKey) -> Workspace:
    url = ws.engine.url.render_as_string(hide_password=False)
    return Workspace.open(ws.root, db_url=url, key=key, role="admin")


def test_rotate_when_done_then_new_key_reads_everything_with_new_tokens(workspace, tmp_path):
    populated = populate(workspace)
    old = workspace.secret_key()
    key_file = tmp_path / "datawheel.key"
    generate_key_file(key_file, old)
    report = _rotate(workspace, key_file)
    new = load_secret_key(tmp_path)
    assert new.fingerprint == report.new_fingerprint != old.fingerprint
    assert not (tmp_path / "datawheel.key.new").exists()
    assert report.versions_needing_retraining == ["v1", "v2"]  # v3 is archived
    assert get_version(workspace, "v1").needs_retraining

    fresh = _reopen(workspace, new)
    try:
        anonymized = load_frame(fresh, populated.sets["anonymized"].id)
        expected = [pseudonym(new, v, tag="EMAIL") for v in RAW["email"]]
        assert anonymized["email"].to_list() == expected
        assert anonymized["pid"].to_list() == [subject_token(new, p) for p in RAW["pid"]]
        assert expected[0] in anonymized["note"][0]  # tokens inside free text too
        ssn = [decrypt_value(new, v, column="ssn", role="admin") for v in anonymized["ssn"]]
        assert ssn == RAW["ssn"].to_list()
        for record in list_datasets(fresh):
            load_frame(fresh, record)  # every artifact key re-wrapped
        tables = table_text(fresh)
        for pid in RAW["pid"]:
            assert subject_token(old, pid) not in tables["lineage"] + tables["predictions"]
            assert subject_token(new, pid) in tables["lineage"]
        assert subject_token(new, "P100001") in tables["predictions"] + tables["feedback"]
        assert fresh.verify_audit().ok
    finally:
        fresh.close()
    with pytest.raises(SecretKeyError):  # the old key no longer opens the workspace
        _reopen(workspace, old).secret_key()


def test_rotate_when_interrupted_after_commit_then_next_run_finishes_the_swap(workspace, tmp_path):
    populate(workspace)
    key_file = tmp_path / "datawheel.key"
    generate_key_file(key_file, workspace.secret_key())
    report = _rotate(workspace, key_file)
    new_text = key_file.read_text()
    # simulate a crash between the commit and the rename: the old file back, the new one pending
    generate_key_file(tmp_path / "datawheel.key.new", SecretKey.from_text(new_text, origin="t"))
    generate_key_file(key_file, SecretKey.generate())
    resumed = _rotate(_reopen(workspace, SecretKey.generate()), key_file)
    assert resumed.resumed and resumed.new_fingerprint == report.new_fingerprint
    assert key_file.read_text() == new_text and not (tmp_path / "datawheel.key.new").exists()


def _corrupt(ws: Workspace) -> None:
    """A logged prediction whose encrypted field was moved to another column: rotation fails on
    it inside the transaction, after the new key file and the re-tokenized datasets exist."""
    moved = encrypt_value(ws.secret_key(), "x", column="ssn")
    with ws.engine.begin() as conn:
        conn.execute(
            sa.insert(predictions).values(
                id="bad", model_version="v1", features={"email": moved}, label="a",
                probabilities={}, latency_ms=1.0, shadow=False, created_at=now_iso(),
            )
        )  # fmt: skip


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("other key", SecretKeyError),  # a workspace opened with another key
        ("env key", UsageError),  # the key comes from DATAWHEEL_KEY
        ("fails midway", SecretKeyError),  # a logged value that does not decrypt
    ],
)
def test_rotate_when_it_cannot_finish_then_nothing_changes(
    workspace, tmp_path, monkeypatch, case, error
):
    populate(workspace)
    key_file = tmp_path / "datawheel.key"
    generate_key_file(key_file, workspace.secret_key())
    ws = workspace
    if case == "other key":
        ws = _reopen(workspace, SecretKey.generate())
    elif case == "env key":
        monkeypatch.setenv("DATAWHEEL_KEY", workspace.secret_key().to_text())
    else:
        _corrupt(workspace)
    before = snapshot(workspace, key_file)
    with pytest.raises(error):
        _rotate(ws, key_file)
    assert snapshot(workspace, key_file) == before
    assert not (tmp_path / "datawheel.key.new").exists()
    if ws is not workspace:
        ws.close()


def test_rotate_when_api_keys_exist_then_they_still_authenticate_under_the_new_key(
    workspace, tmp_path
):
    from datawheel.serve.tenants import authenticate, create_key, create_tenant

    create_tenant(workspace, "acme", plan="free", plans=["free"])
    key = create_key(workspace, tenant="acme", role="service")
    key_file = tmp_path / "datawheel.key"
    generate_key_file(key_file, workspace.secret_key())
    report = _rotate(workspace, key_file)
    assert report.api_keys_resigned == 1 and report.audit_entries_rechained > 0
    fresh = _reopen(workspace, load_secret_key(tmp_path))
    try:
        assert authenticate(fresh, key.secret).key_id == key.id
        assert fresh.verify_audit().ok
    finally:
        fresh.close()


def test_rotate_when_audit_log_was_tampered_then_refused_and_old_key_kept(workspace, tmp_path):
    from datawheel.errors import IntegrityError
    from datawheel.store.db import audit

    populate(workspace)
    key_file = tmp_path / "datawheel.key"
    old = workspace.secret_key()
    generate_key_file(key_file, old)
    with workspace.engine.begin() as conn:
        conn.execute(sa.update(audit).where(audit.c.seq == 1).values(target="rewritten"))
    with pytest.raises(IntegrityError, match="cannot be re-keyed"):
        _rotate(workspace, key_file)
    assert load_secret_key(tmp_path).fingerprint == old.fingerprint
    assert not (tmp_path / "datawheel.key.new").exists()
