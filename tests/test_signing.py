"""Signed documents: a signature holds over the canonical body, and any change breaks it."""

from __future__ import annotations

import copy

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from datawheel.errors import DataError
from datawheel.secret import SecretKey
from datawheel.signing import (
    key_id,
    load_public_key,
    public_key_pem,
    sign_document,
    verify_document,
)


def test_signing_key_when_derived_then_stable_per_secret_and_different_across_secrets():
    secret = SecretKey.generate()
    again = SecretKey.from_text(secret.to_text(), origin="test")
    other = SecretKey.generate()
    assert key_id(secret.signing_key.public_key()) == key_id(again.signing_key.public_key())
    assert key_id(secret.signing_key.public_key()) != key_id(other.signing_key.public_key())


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["body"].__setitem__("rows", 999),  # an edited field
        lambda d: d["body"].__setitem__("extra", True),  # an added field
        lambda d: d["signature"].__setitem__("value", d["signature"]["value"][::-1]),  # bad sig
        # a forger's key: the signature is valid for the key it names, so the key id changes
    ],
)
def test_verify_document_when_tampered_then_data_error(tamper):
    document = sign_document({"rows": 3, "name": "x"}, Ed25519PrivateKey.generate())
    changed = copy.deepcopy(document)
    tamper(changed)
    with pytest.raises(DataError):
        verify_document(changed, where="test")


def test_verify_document_when_resigned_by_another_key_then_valid_but_names_that_key():
    issuer, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    body = {"rows": 3}
    _, signer = verify_document(sign_document(body, forger), where="test")
    assert key_id(signer) != key_id(issuer.public_key())  # pinning the issuer catches it


def test_public_key_when_exported_as_pem_then_loads_back_to_the_same_id():
    public = SecretKey.generate().signing_key.public_key()
    assert key_id(load_public_key(public_key_pem(public), where="pem")) == key_id(public)
    with pytest.raises(DataError):
        load_public_key("not a key", where="pem")
