"""The secret key: loaded from the environment or a 0600 file, never shown, stable children."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from datawheel.errors import SecretKeyError
from datawheel.secret import KEY_ENV, SecretKey, generate_key_file, load_secret_key


def test_generate_key_file_when_created_then_mode_0600(tmp_path: Path):
    key = generate_key_file(tmp_path / "datawheel.key")
    assert (tmp_path / "datawheel.key").stat().st_mode & 0o777 == 0o600
    loaded = load_secret_key(tmp_path)
    assert loaded.fingerprint == key.fingerprint


def test_load_secret_key_when_env_set_then_env_wins(tmp_path: Path, monkeypatch):
    generate_key_file(tmp_path / "datawheel.key")
    other = SecretKey.generate()
    monkeypatch.setenv(KEY_ENV, other.to_text())
    assert load_secret_key(tmp_path).fingerprint == other.fingerprint


def test_load_secret_key_when_file_readable_by_others_then_refused(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    generate_key_file(tmp_path / "datawheel.key")
    os.chmod(tmp_path / "datawheel.key", 0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        load_secret_key(tmp_path)


def test_load_secret_key_when_missing_then_hint(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(SecretKeyError, match="DATAWHEEL_KEY"):
        load_secret_key(tmp_path)


@pytest.mark.parametrize("text", ["", "short", "!!!not-base64!!!", "YWJj"])
def test_from_text_when_malformed_then_error_without_echoing_it(text):
    with pytest.raises(SecretKeyError) as info:
        SecretKey.from_text(text, origin=KEY_ENV)
    if text:
        assert text not in str(info.value)


def test_secret_key_when_printed_then_master_never_shown():
    key = SecretKey.generate()
    assert key.to_text() not in repr(key)
    assert key.to_text() not in str(key)


def test_derived_keys_when_same_master_then_stable_and_distinct():
    key = SecretKey.generate()
    again = SecretKey.from_text(key.to_text(), origin="test")
    assert key.pseudonym_key == again.pseudonym_key
    derived = {key.pseudonym_key, key.key_encryption_key, key.field_key}
    assert len(derived) == 3
