"""The secret key: where it comes from, and the keys derived from it (never stored, never shown)."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from datawheel.atomic import atomic_write
from datawheel.errors import SecretKeyError

__all__ = ["KEY_ENV", "KEY_FILE", "SecretKey", "generate_key_file", "load_secret_key"]

KEY_ENV = "DATAWHEEL_KEY"
KEY_FILE = "datawheel.key"
_KEY_BYTES = 32


def _derive(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        master
    )


@dataclass(frozen=True)
class SecretKey:
    """The master key and its HKDF children; ``repr`` never reveals any of them."""

    _master: bytes = field(repr=False)

    @property
    def pseudonym_key(self) -> bytes:
        """HMAC key for pseudonyms: stable, so the same value maps to the same token everywhere."""
        return _derive(self._master, "datawheel/pseudonym/v1")

    @property
    def key_encryption_key(self) -> bytes:
        """Wraps the per-artifact AES-GCM data keys (envelope encryption)."""
        return _derive(self._master, "datawheel/kek/v1")

    @property
    def field_key(self) -> bytes:
        """AES-256-GCM key for reversible field encryption (the `encrypt` operator)."""
        return _derive(self._master, "datawheel/field/v1")

    def child(self, purpose: str) -> SecretKey:
        """An independent key for one purpose (e.g. one partner's releases): its pseudonyms do
        not join with the workspace's or with another purpose's."""
        return SecretKey(_derive(self._master, f"datawheel/child/{purpose}"))

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        """The project's Ed25519 signing key (releases, licenses): derived, so never stored, and
        replaced by ``secret rotate`` like every other child key."""
        return Ed25519PrivateKey.from_private_bytes(_derive(self._master, "datawheel/signing/v1"))

    @property
    def audit_key(self) -> bytes:
        """HMAC key of the audit chain and its head file: without it no entry can be forged."""
        return _derive(self._master, "datawheel/audit/v1")

    @property
    def credential_key(self) -> bytes:
        """HMAC key over each API key's record: minting a working key needs the secret key,
        not just write access to the database."""
        return _derive(self._master, "datawheel/credentials/v1")

    @property
    def fingerprint(self) -> str:
        """A public, non-reversible id of the key, stored to detect a wrong key early."""
        return _derive(self._master, "datawheel/fingerprint/v1")[:8].hex()

    def __repr__(self) -> str:
        return f"SecretKey(fingerprint={self.fingerprint})"

    @classmethod
    def from_text(cls, text: str, *, origin: str) -> SecretKey:
        """Decode the key's base64 text form; reject anything that is not 32 bytes."""
        try:
            raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raw = b""
        if len(raw) != _KEY_BYTES:
            raise SecretKeyError(
                "the secret key is malformed (expected 32 bytes in URL-safe base64)",
                where=origin,
                hint="create one with `datawheel init` or "
                '`python -c "import secrets,base64;'
                'print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"`',
            )
        return cls(raw)

    @classmethod
    def generate(cls) -> SecretKey:
        return cls(secrets.token_bytes(_KEY_BYTES))

    def to_text(self) -> str:
        """The base64 form written to the key file (only by `datawheel init` / rotation)."""
        return base64.urlsafe_b64encode(self._master).decode("ascii")


def load_secret_key(project_dir: Path | None) -> SecretKey:
    """Read the key from ``DATAWHEEL_KEY``, else from ``datawheel.key`` in the project folder."""
    env = os.environ.get(KEY_ENV)
    if env:
        return SecretKey.from_text(env, origin=KEY_ENV)
    path = (project_dir or Path.cwd()) / KEY_FILE
    if not path.is_file():
        raise SecretKeyError(
            "no secret key found",
            where=str(path),
            hint=f"set {KEY_ENV} or run `datawheel init` to create {KEY_FILE}",
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretKeyError(
            f"the key file is readable by others (mode {mode:o})",
            where=str(path),
            hint=f"chmod 600 {path}",
        )
    return SecretKey.from_text(path.read_text(encoding="ascii", errors="replace"), origin=str(path))


def generate_key_file(path: Path, key: SecretKey | None = None) -> SecretKey:
    """Write a fresh (or the given) key to ``path`` with mode 0600, atomically."""
    key = key or SecretKey.generate()
    atomic_write(path, key.to_text() + "\n", mode=0o600, encoding="ascii")
    return key
