"""Sharing data with partners: signed (optionally encrypted) releases and DP statistics.

A release is a folder: ``data.parquet`` (or ``data.parquet.hpke``, encrypted to the partner's
X25519 key with HPKE), ``datasheet.html`` and ``manifest.json`` — the content hashes, the policy
and what it removed, signed with the project's Ed25519 key. Every release is audited and its
subjects are remembered (as keyed pseudonyms), so an erasure can say which releases held a
subject. A release cannot be recalled: the datasheet says so.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from sqlalchemy import insert, select

from datawheel.atomic import atomic_write, commit_rename
from datawheel.config import ProjectConfig
from datawheel.errors import DataError, NotFoundError, UsageError
from datawheel.io import read_table
from datawheel.privacy.anonymize import subject_token
from datawheel.privacy.dp import DPRelease, check_query, dp_aggregate, parse_measures
from datawheel.privacy.release import ReleasePolicy, apply_policy
from datawheel.report.html import Section, escape, kv_table, render_page, table
from datawheel.signing import file_sha256, key_id, verify_document
from datawheel.store.datasets import get_dataset, load_frame
from datawheel.store.db import lineage, now_iso, ordered_id, reading, release_subjects, releases
from datawheel.store.privacy_budget import Budget, budget_of, spend
from datawheel.store.roles import require
from datawheel.store.trusted_keys import sign
from datawheel.store.workspace import Workspace

__all__ = [
    "ReleaseReceipt",
    "VerifyReport",
    "generate_partner_keys",
    "list_releases",
    "share_dataset",
    "share_stats",
    "verify_release",
]

RELEASE_FORMAT = "datawheel.release/1"
DATA_FILE = "data.parquet"
SEALED_FILE = "data.parquet.hpke"
MANIFEST = "manifest.json"
DATASHEET = "datasheet.html"


def _hpke() -> Any:
    from cryptography.hazmat.primitives import hpke

    return hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)


@dataclass
class ReleaseReceipt:
    id: str
    partner: str
    directory: str
    rows: int
    subjects: int
    encrypted: bool
    key_id: str
    report: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- inputs --------------------------------------------------------------------------------------


def _load_source(
    ws: Workspace, source: str, config: ProjectConfig | None, encoding: str
) -> tuple[pl.DataFrame, str, list[str], str | None]:
    """The table, its provenance id, its subjects' pseudonyms and the id column."""
    path = Path(source)
    id_column = config.data.id if config else None
    if path.is_file():
        frame = read_table(path, encoding=encoding)
        origin = f"file:{file_sha256(path)}"
        subjects: list[str] = []
        if id_column and id_column in frame.columns:
            key = ws.secret_key()
            tokens = (subject_token(key, v) for v in frame[id_column].unique().to_list())
            subjects = sorted({t for t in tokens if t})
        return frame, origin, subjects, id_column if id_column in frame.columns else None
    try:
        record = get_dataset(ws, source)
    except NotFoundError:
        raise DataError(
            "no such file or dataset",
            where=source,
            hint="pass a .csv/.parquet/.jsonl file or a dataset id from `datawheel status`",
        ) from None
    frame = load_frame(ws, record)
    with reading(ws.engine) as conn:
        subjects = sorted(
            conn.execute(select(lineage.c.subject).where(lineage.c.dataset_id == record.id))
            .scalars()
            .all()
        )
    return (
        frame,
        f"dataset:{record.id}",
        subjects,
        id_column if id_column in frame.columns else None,
    )


def default_policy(config: ProjectConfig | None) -> ReleasePolicy:
    """The project's privacy rules as a release policy (k-anonymity always enforced)."""
    if config is None:
        raise UsageError(
            "no release policy",
            hint="pass --policy FILE, or run inside a project whose privacy rules apply",
        )
    privacy = config.privacy.model_dump()
    return ReleasePolicy.model_validate({**privacy, "text_columns": list(config.data.text)})


# -- writing -------------------------------------------------------------------------------------


def _fresh_dir(out: Path) -> None:
    if out.is_symlink():
        raise UsageError("the output folder is a symbolic link", where=str(out))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError("the output folder exists and is not empty", where=str(out))


def _load_recipient(path: Path) -> X25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the partner's public key: {exc}", where=str(path)) from None
    if not isinstance(key, X25519PublicKey):
        raise DataError(
            "the partner's key is not an X25519 public key",
            where=str(path),
            hint="the partner creates one with `datawheel share keygen -o NAME`",
        )
    return key


def _x25519_id(key: X25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _datasheet(body: dict[str, Any], frame: pl.DataFrame) -> str:
    report = body["report"]
    columns = [
        {
            "column": c,
            "type": str(frame[c].dtype),
            "missing": frame[c].null_count(),
            "treatment": report["operators"].get(c, "kept as is"),
        }
        for c in frame.columns
    ]
    removed = [{"column": c, "why": why} for c, why in report["removed_columns"].items()]
    guarantees = {
        "pseudonyms": "keyed for this partner: they do not join with other releases",
        "subject id": "never released in clear",
        "free text": ", ".join(f"{c}: {n}" for c, n in report["text_spans"].items()) or "none",
    }
    if report["k_anonymity"]:
        k = report["k_anonymity"]
        guarantees["k-anonymity"] = (
            f"k={k['k']} over {', '.join(k['quasi_identifiers'])}: every combination is shared "
            f"by at least {k['k_achieved']} rows ({k['rows_suppressed']} rows suppressed)"
        )
    else:
        guarantees["k-anonymity"] = "not enforced: the policy names no quasi-identifiers"
    counts = {
        "rows in the source": report["rows_in"],
        "rows released": report["rows_out"],
        "subjects": body["subjects"],
    }
    provenance = {
        "release": body["id"],
        "partner": body["partner"],
        "created": body["created_at"],
        "source": body["source"],
        "project": body.get("project") or "—",
        "purpose": body["policy"].get("purpose") or "—",
    }
    sections = [
        Section("Provenance", kv_table(provenance)),
        Section("Row counts", kv_table(counts)),
        Section("Columns", table(columns)),
        Section(
            "Removed",
            table(removed) if removed else "<p>No column was removed.</p>",
            note="Columns the partner does not receive, and why.",
        ),
        Section("Privacy guarantees", kv_table(guarantees)),
        Section(
            "Recall",
            "<p>A release cannot be recalled. If a subject later asks to be erased, datawheel "
            f"lists this release ({escape(body['id'])}) in the erasure receipt so the partner "
            "can be asked to delete the subject's rows.</p>",
        ),
    ]
    return render_page(f"Datasheet — release {body['id']}", sections, subtitle=body["partner"])


def share_dataset(
    ws: Workspace,
    source: str,
    *,
    partner: str,
    output: Path,
    config: ProjectConfig | None = None,
    policy: ReleasePolicy | None = None,
    recipient_key: Path | None = None,
    encoding: str = "auto",
) -> ReleaseReceipt:
    """Write a signed release of ``source`` for ``partner`` into the new folder ``output``."""
    require(ws, "share")
    ws.secret_key()  # checked now, outside the write transaction that signs
    if not partner.strip():
        raise UsageError("--to needs the partner's name")
    _fresh_dir(output)
    recipient = _load_recipient(recipient_key) if recipient_key else None
    policy = policy or default_policy(config)
    frame, origin, subjects, id_column = _load_source(ws, source, config, encoding)
    released, report = apply_policy(
        frame, policy, ws.secret_key(), partner=partner, id_column=id_column
    )
    release_id = f"r-{ordered_id()[:20]}"
    buffer = io.BytesIO()
    released.write_parquet(buffer)
    data = buffer.getvalue()

    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".release-", dir=output.parent))
    try:
        os.chmod(staging, 0o700)
        files: dict[str, str] = {}
        encryption: dict[str, Any] | None = None
        if recipient is not None:
            sealed = _hpke().encrypt(data, recipient, info=release_id.encode())
            atomic_write(staging / SEALED_FILE, sealed)
            encryption = {
                "scheme": "HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM",
                "info": release_id,
                "recipient_key_id": _x25519_id(recipient),
                "plaintext": DATA_FILE,
                "plaintext_sha256": hashlib.sha256(data).hexdigest(),
            }
            files[SEALED_FILE] = hashlib.sha256(sealed).hexdigest()
        else:
            atomic_write(staging / DATA_FILE, data)
            files[DATA_FILE] = hashlib.sha256(data).hexdigest()
        body: dict[str, Any] = {
            "format": RELEASE_FORMAT,
            "id": release_id,
            "partner": partner,
            "created_at": now_iso(),
            "source": origin,
            "project": config.name if config else None,
            "rows": released.height,
            "subjects": len(subjects),
            "columns": {c: str(released[c].dtype) for c in released.columns},
            "policy": policy.model_dump(mode="json"),
            "report": report.to_dict(),
            "encryption": encryption,
        }
        sheet = _datasheet(body, released).encode()
        atomic_write(staging / DATASHEET, sheet)
        files[DATASHEET] = hashlib.sha256(sheet).hexdigest()
        body["files"] = files
        with ws.engine.begin() as conn:
            document = sign(ws, conn, body)
            manifest = json.dumps(document, indent=1, ensure_ascii=False).encode()
            atomic_write(staging / MANIFEST, manifest)
            conn.execute(
                insert(releases).values(
                    id=release_id,
                    partner=partner,
                    source=origin,
                    rows=released.height,
                    manifest_sha256=hashlib.sha256(manifest).hexdigest(),
                    key_id=document["signature"]["key_id"],
                    encrypted_to=encryption["recipient_key_id"] if encryption else None,
                    policy=body["policy"],
                    created_at=body["created_at"],
                )
            )
            if subjects:
                conn.execute(
                    insert(release_subjects),
                    [{"release_id": release_id, "subject": s} for s in subjects],
                )
            ws.record(
                conn,
                "release.create",
                release_id,
                {"partner": partner, "rows": released.height, "source": origin},
            )
            if output.exists():
                output.rmdir()
            commit_rename(staging, output)  # the whole release appears at once
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ReleaseReceipt(
        id=release_id,
        partner=partner,
        directory=str(output),
        rows=released.height,
        subjects=len(subjects),
        encrypted=recipient is not None,
        key_id=document["signature"]["key_id"],
        report=report.to_dict(),
    )


# -- verifying -----------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    release: str
    partner: str
    rows: int
    signer_key_id: str
    signer_trusted: bool | None  # None: nothing to check the signer against
    files_ok: dict[str, bool]
    decrypted_to: str | None = None

    @property
    def ok(self) -> bool:
        return all(self.files_ok.values()) and self.signer_trusted is not False

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _load_x25519_private(path: Path) -> X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"cannot read the private key: {exc}", where=str(path)) from None
    if not isinstance(key, X25519PrivateKey):
        raise DataError("not an X25519 private key", where=str(path))
    return key


def verify_release(
    directory: Path,
    *,
    private_key: Path | None = None,
    pinned: Ed25519PublicKey | None = None,
    trusted: dict[str, Ed25519PublicKey] | None = None,
) -> VerifyReport:
    """Check the manifest's signature, the signer, every file's hash; decrypt with ``private_key``.

    The signer is trusted when it is ``pinned`` (the project's public key, received out of band)
    or among ``trusted`` (the workspace's own keys). A bad signature or hash raises DataError.
    """
    manifest_path = directory / MANIFEST
    try:
        document = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the manifest: {exc}", where=str(manifest_path)) from None
    body, signer = verify_document(document, where=str(manifest_path))
    if body.get("format") != RELEASE_FORMAT:
        raise DataError(
            f"not a datawheel release ({body.get('format')!r})", where=str(manifest_path)
        )
    signer_id = key_id(signer)
    if pinned is not None:
        trusted_signer: bool | None = key_id(pinned) == signer_id
    elif trusted is not None:
        trusted_signer = signer_id in trusted
    else:
        trusted_signer = None
    files_ok = {}
    for name, digest in body["files"].items():
        path = directory / name
        files_ok[name] = path.is_file() and not path.is_symlink() and file_sha256(path) == digest
    report = VerifyReport(
        release=body["id"],
        partner=body["partner"],
        rows=body["rows"],
        signer_key_id=signer_id,
        signer_trusted=trusted_signer,
        files_ok=files_ok,
    )
    bad = [n for n, ok in files_ok.items() if not ok]
    if bad:
        raise DataError(
            f"{', '.join(bad)}: missing or changed since the release was signed",
            where=str(directory),
        )
    if trusted_signer is False:
        raise DataError(
            f"signed by key {signer_id}, which is not the project's",
            where=str(manifest_path),
            hint="check the public key you pinned (`datawheel secret public-key` on the issuer)",
        )
    encryption = body.get("encryption")
    if encryption and private_key is not None:
        sealed = (directory / SEALED_FILE).read_bytes()
        try:
            plain = _hpke().decrypt(
                sealed, _load_x25519_private(private_key), info=encryption["info"].encode()
            )
        except (InvalidTag, ValueError):  # another recipient's key, or a damaged file
            raise DataError(
                "cannot decrypt the release with this key: it was encrypted to another one",
                where=str(private_key),
                hint=f"the release names recipient key {encryption['recipient_key_id']}",
            ) from None
        if hashlib.sha256(plain).hexdigest() != encryption["plaintext_sha256"]:
            raise DataError(
                "the decrypted data does not match its signed hash", where=str(directory)
            )
        target = directory / encryption["plaintext"]
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(plain)
        report.decrypted_to = str(target)
    return report


def generate_partner_keys(prefix: Path) -> tuple[Path, Path]:
    """A partner's X25519 key pair: ``PREFIX.key`` (private, 0600) and ``PREFIX.pub``."""
    private = X25519PrivateKey.generate()
    key_path, pub_path = prefix.with_suffix(".key"), prefix.with_suffix(".pub")
    for path in (key_path, pub_path):
        if path.exists():
            raise UsageError("refusing to overwrite an existing key", where=str(path))
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    atomic_write(key_path, pem, mode=0o600)
    atomic_write(
        pub_path,
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    return key_path, pub_path


def list_releases(ws: Workspace) -> list[dict[str, Any]]:
    with reading(ws.engine) as conn:
        rows = conn.execute(select(releases).order_by(releases.c.created_at)).mappings().all()
    return [
        {k: row[k] for k in ("id", "partner", "rows", "created_at", "key_id", "encrypted_to")}
        for row in rows
    ]


# -- DP statistics -------------------------------------------------------------------------------


@dataclass
class StatsReceipt:
    release: DPRelease
    budget: Budget
    output: str

    def to_dict(self) -> dict[str, Any]:
        b = self.budget
        return {
            **self.release.to_dict(),
            "output": self.output,
            "budget": {
                "dataset": b.dataset,
                "epsilon_spent": b.epsilon_spent,
                "epsilon_left": b.epsilon_left,
                "delta_spent": b.delta_spent,
                "delta_left": b.delta_left,
            },
        }


def _parse_bounds(items: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for item in items:
        column, _, span = item.partition("=")
        low, _, high = span.partition(":")
        try:
            out[column.strip()] = (float(low), float(high))
        except ValueError:
            raise UsageError(
                f"--bounds {item!r} is not COLUMN=LOW:HIGH", hint="e.g. --bounds age=0:120"
            ) from None
    return out


def _parse_keys(items: list[str]) -> dict[str, list[str]]:
    out = {}
    for item in items:
        column, _, values = item.partition("=")
        if not values:
            raise UsageError(f"--keys {item!r} is not COLUMN=A|B|C", hint="e.g. --keys sex=F|M")
        out[column.strip()] = [v for v in values.split("|") if v != ""]
    return out


def share_stats(
    ws: Workspace,
    source: str,
    *,
    group_by: list[str],
    measures: str,
    epsilon: float,
    output: Path,
    delta: float = 0.0,
    bounds: list[str] | None = None,
    keys: list[str] | None = None,
    config: ProjectConfig | None = None,
    max_contributions: int = 1,
    encoding: str = "auto",
) -> StatsReceipt:
    """DP figures by group, spent from the dataset's privacy budget, written to ``output`` (CSV)."""
    require(ws, "share")
    parsed = parse_measures(measures)
    frame, origin, _, id_column = _load_source(ws, source, config, encoding)
    budget_cfg = config.share.dp_budget if config else None
    budget_eps = budget_cfg.epsilon if budget_cfg else 3.0
    budget_delta = budget_cfg.delta if budget_cfg else 1e-6
    query = {
        "group_by": group_by,
        "measures": [m.name for m in parsed],
        "bounds": bounds or [],
        "keys": keys or [],
    }

    parsed_bounds, parsed_keys = _parse_bounds(bounds or []), _parse_keys(keys or [])
    check_query(
        frame,
        group_by=group_by,
        measures=parsed,
        epsilon=epsilon,
        delta=delta,
        bounds=parsed_bounds,
        public_keys=parsed_keys,
    )

    def release() -> DPRelease:
        return dp_aggregate(
            frame,
            group_by=group_by,
            measures=parsed,
            epsilon=epsilon,
            delta=delta,
            bounds=parsed_bounds,
            public_keys=parsed_keys,
            id_column=id_column,
            max_contributions=max_contributions,
        )

    keys_public = not group_by or all(c in parsed_keys for c in group_by)
    result = spend(
        ws,
        origin,
        epsilon=epsilon,
        delta=0.0 if keys_public else delta,
        budget_epsilon=budget_eps,
        budget_delta=budget_delta,
        query=query,
        release=release,
    )
    _write_csv(result, output)
    budget = budget_of(ws, origin, epsilon=budget_eps, delta=budget_delta)
    return StatsReceipt(result, budget, str(output))


def _write_csv(result: DPRelease, output: Path) -> None:
    columns = list(dict.fromkeys(k for row in result.rows for k in row)) or result.group_by
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in result.rows:
        writer.writerow(
            [
                json.dumps(row.get(c)) if isinstance(row.get(c), list) else row.get(c)
                for c in columns
            ]
        )
    atomic_write(output, buffer.getvalue())
