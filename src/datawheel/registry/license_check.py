"""Check a datawheel model license offline: signature, expiry, features, files, revocation.

This file is copied into a licensed export bundle as ``license_check.py`` and imported by its
``predict.py``; ``datawheel serve --bundle`` uses the same code. It needs only the standard
library and ``cryptography``. It detects a license that was edited, expired, used for a feature
it does not grant, revoked, or paired with a changed model file. It cannot stop a licensee who
edits this file or ``predict.py`` to skip the check: offline enforcement is evidence and
deterrence, not a lock (docs/sharing.md says more).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

LICENSE_FILE = "license.json"
REVOCATIONS_FILE = "revocations.json"
USAGE_FILE = ".license-usage.json"
LICENSE_FORMAT = "datawheel.license/1"
REVOCATIONS_FORMAT = "datawheel.revocations/1"
UNSIGNED = {LICENSE_FILE, REVOCATIONS_FILE, USAGE_FILE}  # files the license cannot cover


class LicenseError(Exception):
    """The bundle may not be used: the message is the one-line reason."""


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(document: Any, what: str) -> tuple[dict[str, Any], str]:
    """The signed body and the signer's key id; LicenseError when either is not right."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        raise LicenseError(
            "this bundle is licensed: pip install cryptography to check it"
        ) from None
    try:
        body, sig = document["body"], document["signature"]
        raw = base64.b64decode(sig["public_key"])
        Ed25519PublicKey.from_public_bytes(raw).verify(
            base64.b64decode(sig["value"]), _canonical(body)
        )
    except InvalidSignature:
        raise LicenseError(f"the {what} was changed after it was signed") from None
    except (KeyError, TypeError, ValueError):
        raise LicenseError(f"the {what} is not a signed datawheel document") from None
    return body, hashlib.sha256(raw).hexdigest()[:16]


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LicenseError(f"no {what} at {path}") from None
    except (OSError, ValueError) as exc:
        raise LicenseError(f"cannot read the {what}: {exc}") from None


def check(
    bundle: str | os.PathLike[str],
    *,
    feature: str,
    today: dt.date | None = None,
    revocations: str | os.PathLike[str] | None = None,
    issuer_key_id: str | None = None,
) -> dict[str, Any]:
    """The license body if ``feature`` may be used today; LicenseError (one line) otherwise."""
    root = Path(bundle)
    body, signer = _verify(_read_json(root / LICENSE_FILE, "license"), "license")
    if body.get("format") != LICENSE_FORMAT:
        raise LicenseError(f"unknown license format {body.get('format')!r}")
    if issuer_key_id is not None and signer != issuer_key_id:
        raise LicenseError(
            f"the license is signed by key {signer}, not the issuer's {issuer_key_id}"
        )
    today = today or dt.datetime.now(dt.UTC).date()
    expires = dt.date.fromisoformat(body["expires"])
    if today > expires:
        raise LicenseError(f"license {body['id']} for {body['licensee']} expired on {expires}")
    if feature not in body["features"]:
        granted = ", ".join(body["features"]) or "nothing"
        raise LicenseError(f"license {body['id']} does not grant {feature!r} (it grants {granted})")
    for name, digest in body["files"].items():
        path = root / name
        if not path.is_file() or path.is_symlink():
            raise LicenseError(f"{name} is missing from the licensed bundle")
        if _sha256(path) != digest:
            raise LicenseError(f"{name} was changed after the license was issued")
    listed = Path(revocations) if revocations else root / REVOCATIONS_FILE
    if revocations or listed.is_file():
        rev, rev_signer = _verify(_read_json(listed, "revocation list"), "revocation list")
        if rev.get("format") != REVOCATIONS_FORMAT:
            raise LicenseError("not a datawheel revocation list")
        if rev_signer == signer and body["id"] in rev.get("revoked", []):
            raise LicenseError(f"license {body['id']} was revoked on {rev['issued_at'][:10]}")
    return body


def charge_rows(bundle: str | os.PathLike[str], license_body: dict[str, Any], rows: int) -> int:
    """Count ``rows`` against the license's ``max_rows`` (kept beside the bundle); the total."""
    limit = license_body.get("max_rows")
    path = Path(bundle) / USAGE_FILE
    used = 0
    if path.is_file():
        try:
            used = int(json.loads(path.read_text(encoding="utf-8")).get(license_body["id"], 0))
        except (OSError, ValueError, AttributeError):
            used = 0
    if limit is not None and used + rows > limit:
        raise LicenseError(
            f"license {license_body['id']} allows {limit} rows; {used} used, {rows} asked"
        )
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({license_body["id"]: used + rows}), encoding="utf-8")
    os.replace(tmp, path)
    return used + rows
