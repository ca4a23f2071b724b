"""AES-256-GCM envelope encryption: a random data key per artifact, wrapped by the KEK."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from datawheel.errors import SecretKeyError

__all__ = ["decrypt", "encrypt", "new_data_key", "unwrap_key", "wrap_key"]

_NONCE = 12


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def encrypt(key: bytes, plaintext: bytes, *, context: bytes = b"") -> bytes:
    """nonce ‖ ciphertext+tag; ``context`` is authenticated, binding the blob to its use."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def decrypt(key: bytes, blob: bytes, *, context: bytes = b"", what: str = "data") -> bytes:
    """Inverse of ``encrypt``; a wrong key or edited blob is a SecretKeyError, never garbage."""
    try:
        return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], context)
    except (InvalidTag, ValueError):
        raise SecretKeyError(
            f"cannot decrypt {what}: wrong secret key or corrupted data",
            hint="use the key this workspace was created with (DATAWHEEL_KEY or datawheel.key)",
        ) from None


def wrap_key(kek: bytes, data_key: bytes) -> str:
    return base64.b64encode(encrypt(kek, data_key, context=b"datawheel/dek")).decode("ascii")


def unwrap_key(kek: bytes, wrapped: str) -> bytes:
    blob = base64.b64decode(wrapped)
    return decrypt(kek, blob, context=b"datawheel/dek", what="an artifact key")
