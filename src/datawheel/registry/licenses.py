"""Licenses for exported models: issue (signed), list, revoke, and the signed revocation list.

``issue_license`` writes ``license.json`` into an export bundle and copies the checker that the
bundle's ``predict.py`` (and ``datawheel serve --bundle``) run at load. The license names the
licensee, the last valid day, the features granted, an optional row allowance and the SHA-256
of every file of the bundle, and is signed with the project's Ed25519 key.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from datawheel.atomic import atomic_write
from datawheel.errors import DataError, NotFoundError, UsageError
from datawheel.registry import license_check
from datawheel.signing import file_sha256
from datawheel.store.db import licenses, now_iso, ordered_id, reading
from datawheel.store.roles import require
from datawheel.store.trusted_keys import sign
from datawheel.store.workspace import Workspace

__all__ = ["FEATURES", "LicenseRecord", "issue_license", "list_licenses", "revoke_license"]

FEATURES = ("predict", "explain")
CHECKER_FILE = "license_check.py"


@dataclass
class LicenseRecord:
    id: str
    licensee: str
    expires: str
    features: list[str]
    max_rows: int | None
    key_id: str
    issued_at: str
    revoked_at: str | None = None
    revoked_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bundle_files(bundle: Path) -> dict[str, str]:
    if bundle.is_symlink() or not (bundle / "preprocessing.json").is_file():
        raise UsageError(
            "not an export bundle (no preprocessing.json)",
            where=str(bundle),
            hint="create one with `datawheel export -o DIR` first",
        )
    files = {}
    for path in sorted(bundle.iterdir()):
        if path.name in license_check.UNSIGNED or path.name.startswith("."):
            continue
        if path.is_symlink():
            raise UsageError("the bundle holds a symbolic link", where=str(path))
        if path.is_file():
            files[path.name] = file_sha256(path)
    return files


def _write_json(path: Path, value: Any) -> None:
    # atomic_write's temp file is created O_EXCL under a random name: never through a link
    atomic_write(path, json.dumps(value, indent=1, ensure_ascii=False))


def issue_license(
    ws: Workspace,
    *,
    licensee: str,
    expires: dt.date,
    bundle: Path,
    features: list[str] | None = None,
    max_rows: int | None = None,
    today: dt.date | None = None,
) -> LicenseRecord:
    """Sign a license for the bundle at ``bundle`` and write it there."""
    require(ws, "license")
    ws.secret_key()  # checked now, outside the write transaction below
    features = list(features or ["predict"])
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise UsageError(f"unknown feature {unknown[0]!r}", hint=f"features: {', '.join(FEATURES)}")
    if not licensee.strip():
        raise UsageError("--licensee needs a name")
    today = today or dt.datetime.now(dt.UTC).date()
    if expires < today:
        raise UsageError(f"--expires {expires} is in the past", hint="give the last valid day")
    if max_rows is not None and max_rows < 1:
        raise UsageError(f"--max-rows must be >= 1, got {max_rows}")
    checker = Path(license_check.__file__)
    files = _bundle_files(bundle)
    spec = json.loads((bundle / "preprocessing.json").read_text(encoding="utf-8"))
    model_file = spec.get("onnx_model", "model.onnx")
    if model_file not in files:
        raise DataError(f"the bundle has no {model_file}", where=str(bundle))
    shutil.copyfile(checker, bundle / CHECKER_FILE)
    files[CHECKER_FILE] = file_sha256(bundle / CHECKER_FILE)
    record = LicenseRecord(
        id=f"lic-{ordered_id()[:16]}",
        licensee=licensee.strip(),
        expires=expires.isoformat(),
        features=features,
        max_rows=max_rows,
        key_id="",
        issued_at=now_iso(),
    )
    body = {
        "format": license_check.LICENSE_FORMAT,
        "id": record.id,
        "licensee": record.licensee,
        "issued_at": record.issued_at,
        "expires": record.expires,
        "features": features,
        "max_rows": max_rows,
        "files": files,
    }
    with ws.engine.begin() as conn:
        document = sign(ws, conn, body)
        record.key_id = document["signature"]["key_id"]
        conn.execute(
            insert(licenses).values(
                id=record.id,
                licensee=record.licensee,
                expires=record.expires,
                features=features,
                max_rows=max_rows,
                model_sha256=files[model_file],
                key_id=record.key_id,
                issued_at=record.issued_at,
            )
        )
        ws.record(
            conn,
            "license.issue",
            record.id,
            {"licensee": record.licensee, "expires": record.expires, "features": features},
        )
        _write_json(bundle / license_check.LICENSE_FILE, document)
    return record


def list_licenses(ws: Workspace) -> list[LicenseRecord]:
    with reading(ws.engine) as conn:
        rows = conn.execute(select(licenses).order_by(licenses.c.issued_at)).mappings().all()
    fields = LicenseRecord.__dataclass_fields__
    return [LicenseRecord(**{k: row[k] for k in fields}) for row in rows]


def revoke_license(
    ws: Workspace, license_id: str, *, reason: str = "", output: Path | None = None
) -> dict[str, Any]:
    """Mark ``license_id`` revoked and return (and write to ``output``) the signed list of every
    revoked license, which bundles honour when given it."""
    require(ws, "license")
    ws.secret_key()  # checked now, outside the write transaction below
    with ws.engine.begin() as conn:
        row = conn.execute(select(licenses).where(licenses.c.id == license_id)).first()
        if row is None:
            raise NotFoundError(f"no license {license_id!r}", hint="`datawheel license list`")
        if row.revoked_at is None:
            conn.execute(
                update(licenses)
                .where(licenses.c.id == license_id)
                .values(revoked_at=now_iso(), revoked_reason=reason)
            )
            ws.record(conn, "license.revoke", license_id, {"reason": reason})
        revoked = (
            conn.execute(
                select(licenses.c.id)
                .where(licenses.c.revoked_at.is_not(None))
                .order_by(licenses.c.id)
            )
            .scalars()
            .all()
        )
        document = sign(
            ws,
            conn,
            {
                "format": license_check.REVOCATIONS_FORMAT,
                "issued_at": now_iso(),
                "revoked": list(revoked),
            },
        )
    if output is not None:
        _write_json(output, document)
    return document
