"""Artifacts in a real S3-compatible bucket (SeaweedFS on 127.0.0.1): ciphertext only, conditional
puts, hash checks, and erasure / key rotation that leave no residue in the bucket."""

from __future__ import annotations

import threading

import pytest

from datawheel.errors import DatawheelError, IntegrityError, UsageError
from datawheel.privacy.erasure import erase_subject
from datawheel.privacy.rotation import rotate_key
from datawheel.secret import generate_key_file
from datawheel.store.blobs import S3Blobs, open_blobs
from datawheel.store.datasets import list_datasets, load_frame
from datawheel.store.db import model_versions
from datawheel.store.workspace import Workspace
from privacy.workspace_data import PRIVACY, RAW, TEXT, populate
from services import bucket_keys


@pytest.fixture
def s3_workspace(tmp_path, s3_env, secret_key):
    ws = Workspace.open(tmp_path / ".datawheel", key=secret_key, role="admin")
    yield ws
    ws.close()


def _bucket(env: dict[str, str]) -> str:
    return env["DATAWHEEL_ARTIFACTS_URL"].removeprefix("s3://").split("/")[0]


def _referenced(ws: Workspace) -> set[str]:
    """Every digest the database points at (datasets and model versions)."""
    with ws.engine.connect() as conn:
        models = {row[0] for row in conn.execute(model_versions.select().with_only_columns(
            model_versions.c.artifact)) if row[0]}  # fmt: skip
    return {r.artifact for r in list_datasets(ws) if r.artifact} | models


def test_s3_put_when_encrypted_then_bucket_holds_only_ciphertext(s3_workspace, s3_env, seaweedfs):
    secret = b"P100001,alice@example.com,123-45-6789"
    digest = s3_workspace.artifacts.put(secret, encrypt=True)
    assert s3_workspace.artifacts.location.startswith("s3://")
    keys = bucket_keys(seaweedfs, _bucket(s3_env))
    assert keys == [f"artifacts/{digest[:2]}/{digest}"]
    raw = seaweedfs.client().get_object(Bucket=_bucket(s3_env), Key=keys[0])["Body"].read()
    assert b"alice" not in raw and b"123-45-6789" not in raw
    assert s3_workspace.artifacts.get(digest) == secret
    assert not (s3_workspace.root / "artifacts").exists()  # nothing local


def test_s3_put_when_two_hosts_race_on_one_object_then_one_write_wins_intact(s3_env, seaweedfs):
    bucket = _bucket(s3_env)
    hosts = [S3Blobs(bucket, "race") for _ in range(8)]  # separate clients, like separate hosts
    payload = bytes(range(256)) * 4096  # 1 MiB
    results: list[bool] = []
    barrier = threading.Barrier(len(hosts))

    def write(host: S3Blobs) -> None:
        barrier.wait()
        results.append(host.put_new("ab" + "0" * 62, payload))

    threads = [threading.Thread(target=write, args=(h,)) for h in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1 and results.count(False) == len(hosts) - 1
    assert hosts[0].get("ab" + "0" * 62) == payload
    # a later writer with different bytes under the same name cannot replace the object
    assert hosts[1].put_new("ab" + "0" * 62, b"tampered") is False
    assert hosts[2].get("ab" + "0" * 62) == payload


def test_s3_get_when_object_tampered_then_integrity_error(s3_workspace, s3_env, seaweedfs):
    digest = s3_workspace.artifacts.put(b"model bytes")
    key = f"artifacts/{digest[:2]}/{digest}"
    seaweedfs.client().put_object(Bucket=_bucket(s3_env), Key=key, Body=b"evil bytes")
    with pytest.raises(IntegrityError, match="does not match its hash"):
        s3_workspace.artifacts.get(digest)


def test_s3_erase_when_subject_stored_then_bucket_keeps_only_live_objects(
    s3_workspace, s3_env, seaweedfs
):
    populated = populate(s3_workspace)
    before = {kind: record.artifact for kind, record in populated.sets.items()}
    erase_subject(s3_workspace, "P100001", id_column="pid")
    names = {key.rsplit("/", 1)[-1] for key in bucket_keys(seaweedfs, _bucket(s3_env))}
    assert names <= _referenced(s3_workspace)  # no residue: every object is still in use
    assert {r.artifact for r in list_datasets(s3_workspace)} <= names
    for kind in ("raw", "clean", "anonymized", "train"):
        assert before[kind] not in names  # the rewritten sets' old objects are gone
    stored = "\n".join(load_frame(s3_workspace, r).write_csv() for r in list_datasets(s3_workspace))
    assert RAW.row(0, named=True)["email"] not in stored


def test_s3_rotate_when_done_then_old_objects_deleted_and_all_readable(
    s3_workspace, s3_env, seaweedfs, tmp_path
):
    populate(s3_workspace)
    old_names = {k.rsplit("/", 1)[-1] for k in bucket_keys(seaweedfs, _bucket(s3_env))}
    key_file = tmp_path / "datawheel.key"
    generate_key_file(key_file, s3_workspace.secret_key())
    rotate_key(s3_workspace, privacy=PRIVACY, id_column="pid", text_columns=TEXT, key_file=key_file)
    names = {k.rsplit("/", 1)[-1] for k in bucket_keys(seaweedfs, _bucket(s3_env))}
    assert names <= _referenced(s3_workspace)  # no residue
    assert old_names - names  # the rewritten anonymized sets left their old objects behind
    from datawheel.secret import load_secret_key

    fresh = Workspace.open(s3_workspace.root, key=load_secret_key(tmp_path), role="admin")
    try:
        for record in list_datasets(fresh):
            load_frame(fresh, record)
    finally:
        fresh.close()


def test_open_blobs_when_bucket_missing_then_usage_error_names_it(s3_env):
    blobs = open_blobs("s3://no-such-bucket-dw/x", None)  # (SeaweedFS creates one on a put)
    with pytest.raises(UsageError, match="no-such-bucket-dw"):
        blobs.get("ab" * 32)


def test_open_blobs_when_credentials_wrong_then_usage_error_with_hint(s3_env, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    blobs = open_blobs(s3_env["DATAWHEEL_ARTIFACTS_URL"], None)
    with pytest.raises(UsageError, match="AWS_ACCESS_KEY_ID"):
        blobs.put_new("ab" * 32, b"x")


def test_open_blobs_when_url_has_no_bucket_then_usage_error():
    with pytest.raises(UsageError, match="names no bucket"):
        open_blobs("s3:///prefix", None)


def test_s3_blobs_when_endpoint_down_then_error_names_endpoint(monkeypatch):
    pytest.importorskip("boto3")
    from services import free_ports

    (port,) = free_ports(1)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(DatawheelError, match=f"127.0.0.1:{port}"):
        S3Blobs("bucket", "p").get("ab" * 32)
