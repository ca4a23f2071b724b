"""The audit head anchored in the object store (a real SeaweedFS on 127.0.0.1): an insider with
write access to the database *and* the workspace folder, but not the secret key nor the bucket's
history, cannot roll the log back, forge it or empty it without `audit verify` noticing."""

from __future__ import annotations

import json
import shutil

import pytest
import sqlalchemy as sa

from datawheel.store import audit
from datawheel.store.audit_anchor import BucketAnchor
from datawheel.store.db import audit as audit_table
from datawheel.store.db import meta
from datawheel.store.workspace import Workspace
from services import bucket_keys
from store.test_audit import (
    _append,
    _append_forged_key_create,
    _delete_everything,
    _edit_and_recompute,
)


@pytest.fixture
def s3_workspace(tmp_path, s3_env, secret_key):
    with Workspace.open(tmp_path / ".datawheel", key=secret_key, role="admin") as ws:
        yield ws


def _bucket(env: dict[str, str]) -> str:
    return env["DATAWHEEL_ARTIFACTS_URL"].removeprefix("s3://").split("/")[0]


def _anchors(seaweedfs, env) -> list[str]:
    return bucket_keys(seaweedfs, _bucket(env), prefix="_audit-head/")


def _truncate_to(conn: sa.Connection, seq: int) -> None:
    """Delete the entries after ``seq`` and move the head row back to match, as an insider."""
    conn.execute(sa.delete(audit_table).where(audit_table.c.seq > seq))
    last = conn.execute(sa.select(audit_table.c.hash).where(audit_table.c.seq == seq)).scalar()
    conn.execute(sa.update(meta).where(meta.c.key == "audit_head").values(value=f"{seq}:{last}"))


def test_anchor_when_changes_commit_then_one_signed_write_once_object_per_head(
    s3_workspace, s3_env, seaweedfs
):
    _append(s3_workspace, 3)
    keys = _anchors(seaweedfs, s3_env)
    assert [k.rsplit("/", 1)[-1] for k in keys] == [f"{i:020d}" for i in (1, 2, 3)]
    assert keys[0].startswith("_audit-head/artifacts/")  # beside the artifacts, not among them
    body = json.loads(
        seaweedfs.client().get_object(Bucket=_bucket(s3_env), Key=keys[-1])["Body"].read()
    )
    assert body["seq"] == 3 and set(body) == {"seq", "hash", "mac"}
    report = s3_workspace.verify_audit()
    assert report.ok and report.remote and report.remote.startswith("s3://")
    # a second write of an anchored head is refused by the bucket (If-None-Match) and harmless
    assert len(_anchors(seaweedfs, s3_env)) == 3


# (what the insider does to the database, what verify must say); the head file stays as it is
DATABASE_TAMPERING = [
    (_edit_and_recompute, "edited or forged"),  # edit a row, recompute the chain
    (_append_forged_key_create, "edited or forged"),  # append a forged entry
]


@pytest.mark.parametrize(
    ("tamper", "problem"), DATABASE_TAMPERING, ids=[t.__name__ for t, _ in DATABASE_TAMPERING]
)
def test_verify_when_database_rewritten_with_a_bucket_then_detected(s3_workspace, tamper, problem):
    _append(s3_workspace, 6)
    assert s3_workspace.verify_audit().ok
    with s3_workspace.engine.begin() as conn:
        tamper(conn)
    report = s3_workspace.verify_audit()
    assert not report.ok and problem in report.problem


def test_verify_when_everything_deleted_head_file_included_then_the_bucket_remembers(
    s3_workspace,
):
    _append(s3_workspace, 4)
    with s3_workspace.engine.begin() as conn:
        _delete_everything(conn)
    s3_workspace.audit_head.path.unlink()  # the workspace folder is the insider's too
    report = s3_workspace.verify_audit()
    assert not report.ok
    assert "object store anchors entry 1 but the log holds 0" in report.problem


def test_verify_when_log_and_head_file_rolled_back_together_then_detected(s3_workspace):
    _append(s3_workspace, 3)
    saved = s3_workspace.audit_head.path.read_bytes()  # a copy the insider kept at entry 3
    _append(s3_workspace, 3, action="key.revoke")  # the entries they want gone
    with s3_workspace.engine.begin() as conn:
        _truncate_to(conn, 3)
    s3_workspace.audit_head.path.write_bytes(saved)
    local = audit.verify(s3_workspace.engine, key=s3_workspace.secret_key().audit_key,
                         head=s3_workspace.audit_head)  # fmt: skip
    assert local.ok  # consistent to the database and the workspace: the old blind spot
    report = s3_workspace.verify_audit()
    assert not report.ok
    assert "anchors entry 4 but the log holds 3" in report.problem


def test_verify_when_rolled_back_log_grows_past_the_old_end_then_the_conflict_tells(
    s3_workspace, s3_env, seaweedfs
):
    _append(s3_workspace, 3)
    saved = s3_workspace.audit_head.path.read_bytes()
    _append(s3_workspace, 2)  # anchors 4 and 5
    with s3_workspace.engine.begin() as conn:
        _truncate_to(conn, 3)
    s3_workspace.audit_head.path.write_bytes(saved)
    _append(s3_workspace, 3, action="after.rollback")  # 4 and 5 again (other hashes), then 6
    conflicts = [k for k in _anchors(seaweedfs, s3_env) if "/conflict-" in k]
    assert len(conflicts) == 2  # the old anchors stayed; each rewritten head left a marker
    report = s3_workspace.verify_audit()  # head 6 is anchored and matches; the markers do not
    assert not report.ok
    assert "another head for entry 4" in report.problem


def test_verify_when_bucket_head_forged_then_detected(s3_workspace, s3_env, seaweedfs):
    _append(s3_workspace, 2)
    bucket = _bucket(s3_env)
    last = _anchors(seaweedfs, s3_env)[-1]
    forged = last[: -len("00000000000000000002")] + f"{9:020d}"
    body = json.dumps({"seq": 9, "hash": "0" * 64, "mac": "f" * 64})
    seaweedfs.client().put_object(Bucket=bucket, Key=forged, Body=body.encode())
    report = s3_workspace.verify_audit()
    assert not report.ok and "does not verify" in report.problem


def test_verify_when_key_rotated_then_new_series_and_old_anchors_do_not_alarm(
    s3_workspace, s3_env, seaweedfs, tmp_path
):
    _append(s3_workspace, 2)
    other = BucketAnchor(s3_workspace.audit_bucket.client, _bucket(s3_env), "artifacts")
    assert other.check(b"another key" * 3, 0, {}) is None  # another key's series is apart
    assert s3_workspace.verify_audit().ok


def test_verify_when_no_bucket_then_report_names_no_remote(workspace: Workspace):
    _append(workspace, 2)
    report = workspace.verify_audit()
    assert report.ok and report.remote is None and workspace.audit_bucket is None


def test_head_file_when_restored_from_a_copy_without_bucket_then_still_undetected(
    workspace: Workspace, tmp_path
):
    # the documented limit without an object store: database + folder rolled back together
    _append(workspace, 3)
    shutil.copy(workspace.audit_head.path, tmp_path / "kept")
    _append(workspace, 2)
    with workspace.engine.begin() as conn:
        _truncate_to(conn, 3)
    shutil.copy(tmp_path / "kept", workspace.audit_head.path)
    assert workspace.verify_audit().ok


def test_verify_when_versioned_bucket_anchors_deleted_too_then_versions_remember(
    s3_env, seaweedfs, tmp_path, secret_key
):
    bucket = _bucket(s3_env)
    client = seaweedfs.client()
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    with Workspace.open(tmp_path / ".datawheel", key=secret_key, role="admin") as ws:
        _append(ws, 4)
        with ws.engine.begin() as conn:
            _delete_everything(conn)
        ws.audit_head.path.unlink()
        for key in _anchors(seaweedfs, s3_env):  # with the application's own credentials
            client.delete_object(Bucket=bucket, Key=key)
        assert _anchors(seaweedfs, s3_env) == []  # nothing current is left
        report = ws.verify_audit()
    assert not report.ok
    assert "object store anchors entry 1 but the log holds 0" in report.problem
