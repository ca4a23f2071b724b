"""Ed25519 signatures over canonical JSON: what releases, licenses and revocation lists share.

A signed document is ``{"body": {...}, "signature": {"public_key", "key_id", "value"}}``. The
public key travels with the signature so a verifier can tell *which* key signed; whether that
key is trusted is the verifier's decision (a pinned key, or the workspace's list of its own
past keys), never the document's.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from datawheel.errors import DataError

__all__ = [
    "canonical_json",
    "file_sha256",
    "key_id",
    "load_public_key",
    "public_key_pem",
    "sign_document",
    "verify_document",
]


def canonical_json(value: Any) -> bytes:
    """The one byte form that is signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """A short public id of a key: the first 16 hex digits of SHA-256 over its raw bytes."""
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def public_key_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(text: str, *, where: str) -> Ed25519PublicKey:
    """A public key from PEM or from the base64 raw form carried in signatures."""
    try:
        if "BEGIN PUBLIC KEY" in text:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text.strip(), validate=True))
    except (ValueError, TypeError) as exc:
        raise DataError(f"not an Ed25519 public key: {exc}", where=where) from None
    if not isinstance(key, Ed25519PublicKey):
        raise DataError(
            "not an Ed25519 public key", where=where, hint="use `datawheel secret public-key`"
        )
    return key


def sign_document(body: dict[str, Any], private: Ed25519PrivateKey) -> dict[str, Any]:
    public = private.public_key()
    value = private.sign(canonical_json(body))
    return {
        "body": body,
        "signature": {
            "algorithm": "Ed25519",
            "public_key": base64.b64encode(_raw(public)).decode("ascii"),
            "key_id": key_id(public),
            "value": base64.b64encode(value).decode("ascii"),
        },
    }


def verify_document(document: Any, *, where: str) -> tuple[dict[str, Any], Ed25519PublicKey]:
    """Check the signature against the key it names; return the body and that key.

    Raises DataError when the document is malformed or the signature does not match.
    """
    try:
        body, sig = document["body"], document["signature"]
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(sig["public_key"]))
        value = base64.b64decode(sig["value"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"not a signed datawheel document ({exc})", where=where) from None
    try:
        public.verify(value, canonical_json(body))
    except InvalidSignature:
        raise DataError(
            "the signature does not match the document: it was changed after signing",
            where=where,
        ) from None
    return body, public
