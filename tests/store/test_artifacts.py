"""Artifacts: content-addressed, atomic, verified on read, encrypted at rest when asked."""

from __future__ import annotations

import pytest

from datawheel.errors import IntegrityError, NotFoundError, SecretKeyError
from datawheel.secret import SecretKey
from datawheel.store.artifacts import rewrap_keys
from datawheel.store.workspace import Workspace


def test_put_when_plain_then_named_by_sha256_and_round_trips(workspace: Workspace):
    import hashlib

    digest = workspace.artifacts.put(b"hello world")
    assert digest == hashlib.sha256(b"hello world").hexdigest()
    assert workspace.artifacts.get(digest) == b"hello world"
    assert not workspace.artifacts.is_encrypted(digest)


def test_put_when_encrypted_then_file_holds_no_plaintext(workspace: Workspace):
    secret = b"alice@example.com,123-45-6789"
    digest = workspace.artifacts.put(secret, encrypt=True)
    stored = workspace.artifacts.path(digest).read_bytes()
    assert b"alice" not in stored and b"6789" not in stored
    assert workspace.artifacts.get(digest) == secret
    assert workspace.artifacts.is_encrypted(digest)


def test_get_when_file_edited_then_integrity_error(workspace: Workspace):
    digest = workspace.artifacts.put(b"original")
    workspace.artifacts.path(digest).write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match="does not match its hash"):
        workspace.artifacts.get(digest)


def test_get_when_missing_then_not_found(workspace: Workspace):
    with pytest.raises(NotFoundError):
        workspace.artifacts.get("ab" * 32)


def test_workspace_when_opened_with_another_key_then_refused(tmp_path, db_url):
    first = Workspace.open(tmp_path / "ws", db_url=db_url, key=SecretKey.generate())
    first.artifacts.put(b"data", encrypt=True)
    first.close()
    second = Workspace.open(tmp_path / "ws", db_url=db_url, key=SecretKey.generate())
    with pytest.raises(SecretKeyError, match="another secret key"):
        second.secret_key()
    second.close()


def test_rewrap_when_key_rotated_then_data_readable_with_new_key_only(tmp_path, db_url):
    old, new = SecretKey.generate(), SecretKey.generate()
    ws = Workspace.open(tmp_path / "ws", db_url=db_url, key=old)
    digest = ws.artifacts.put(b"payload", encrypt=True)
    file_before = ws.artifacts.path(digest).read_bytes()
    with ws.engine.begin() as conn:
        assert rewrap_keys(conn, old, new) == 1
    assert ws.artifacts.path(digest).read_bytes() == file_before  # data not rewritten
    ws._key, ws._key_checked = new, True
    assert ws.artifacts.get(digest) == b"payload"
    ws._key = old
    with pytest.raises(SecretKeyError):
        ws.artifacts.get(digest)
    ws.close()
