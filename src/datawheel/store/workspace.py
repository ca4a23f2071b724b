"""The workspace: where a project's database and artifacts live, opened as one object."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from datawheel.errors import SecretKeyError
from datawheel.secret import SecretKey, load_secret_key
from datawheel.store import audit as audit_log
from datawheel.store.artifacts import ArtifactStore
from datawheel.store.audit_anchor import BucketAnchor
from datawheel.store.blobs import ARTIFACTS_URL_ENV, S3Blobs, open_blobs
from datawheel.store.db import connect, meta, reading
from datawheel.store.roles import resolve_identity
from datawheel.store.schema_version import SchemaChange, prepare

__all__ = ["DB_URL_ENV", "HOME_ENV", "Workspace", "resolve_workspace_dir"]

HOME_ENV = "DATAWHEEL_HOME"
DB_URL_ENV = "DATAWHEEL_DB_URL"
WORKSPACE_DIR = ".datawheel"


def resolve_workspace_dir(project_dir: Path | None, explicit: str | Path | None = None) -> Path:
    """``--workspace`` wins, then ``DATAWHEEL_HOME``, then ``.datawheel/`` beside the project."""
    if explicit:
        return Path(explicit)
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV])
    return (project_dir or Path.cwd()) / WORKSPACE_DIR


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers): the numeric id
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _private_dir(path: Path) -> None:
    """Create ``path`` (0700) or take group and other bits off an existing one we own."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)
    except PermissionError:  # a shared folder someone else owns: leave it to them
        pass


@dataclass
class Workspace:
    """Database engine + artifact store + the secret key (loaded only when first needed).

    ``role`` (None: no role) is what privileged library calls check (`store.roles`); ``via`` and
    ``principal`` say who is acting, for the audit log (see ``actor``).
    ``with Workspace.open(root) as ws:`` closes it at the end of the block, however it ends.
    """

    root: Path
    engine: Engine
    key_dir: Path | None = None  # where datawheel.key is looked for
    via: str = "cli"  # the tool acting: cli, api, loop, demo …
    role: str | None = None  # checked by privileged library calls
    owner: bool = False  # the role came from owning the key file
    principal: str | None = None  # an API key id or console user, when one is acting
    tenant_id: str | None = None  # a console customer's tenant: scopes tenant-level actions
    artifacts_url: str | None = None  # s3://BUCKET/PREFIX; None: files under root/artifacts
    _key: SecretKey | None = field(default=None, repr=False)
    _key_checked: bool = field(default=False, repr=False)
    artifacts: ArtifactStore = field(init=False)
    audit_bucket: BucketAnchor | None = field(default=None, init=False)  # the bucket's anchor
    schema: SchemaChange | None = field(default=None, init=False)  # what opening did to it

    def __post_init__(self) -> None:
        blobs = open_blobs(self.artifacts_url, self.root / "artifacts")
        self.artifacts = ArtifactStore(blobs, self.engine, self.secret_key)
        if isinstance(blobs, S3Blobs):  # the head is anchored in the bucket too
            self.audit_bucket = BucketAnchor(blobs.client, blobs.bucket, blobs.prefix)
        audit_log.anchor_engine(self.engine, self.audit_head, self.audit_bucket)

    @classmethod
    def open(
        cls,
        root: str | Path,
        *,
        db_url: str | None = None,
        key_dir: Path | None = None,
        key: SecretKey | None = None,
        actor: str = "cli",
        role: str | None = None,
        artifacts_url: str | None = None,
        upgrade: bool | None = None,
    ) -> Workspace:
        """Open (creating if needed, mode 0700) the workspace; ``DATAWHEEL_DB_URL`` selects the
        database and ``DATAWHEEL_ARTIFACTS_URL`` where artifacts live (local files when unset).
        ``actor`` names the tool acting; ``role`` defaults to ``DATAWHEEL_ROLE``, else admin for
        the owner of ``key_dir/datawheel.key``, else none (`store.roles`).

        A database of an older schema is upgraded — on SQLite when ``upgrade`` is None, on
        PostgreSQL only when it is True (``datawheel migrate``); otherwise opening raises a
        `UsageError` naming that command (``store.schema_version``). The upgrade is recorded in the
        keyed audit log, so it needs the secret key.
        """
        root = Path(root)
        _private_dir(root)
        engine = connect(db_url or os.environ.get(DB_URL_ENV), workspace=root)
        who = resolve_identity(key_dir, role)
        ws = cls(
            root=root,
            engine=engine,
            key_dir=key_dir,
            via=actor,
            role=who.role,
            owner=who.owner,
            artifacts_url=artifacts_url or os.environ.get(ARTIFACTS_URL_ENV),
            _key=key,
        )
        try:
            ws.schema = prepare(engine, record=ws.record, upgrade=upgrade)
        except BaseException:
            engine.dispose()
            raise
        return ws

    @property
    def actor(self) -> str:
        """Who acts, as the audit log records it: the console user or API key
        (``user:ana@acme.example``, ``key:3f9a0c2b1d4e``), else the OS user with the role and
        the tool (``os:alice/admin(owner) via cli``)."""
        if self.principal:
            return self.principal
        role = self.role or "none"
        return f"os:{_os_user()}/{role}{'(owner)' if self.owner else ''} via {self.via}"

    @property
    def audit_head(self) -> audit_log.HeadFile:
        """The signed head of the audit chain, outside the database."""
        return audit_log.HeadFile(self.root / audit_log.HEAD_FILE)

    def secret_key(self) -> SecretKey:
        """The secret key, checked against the fingerprint this workspace was created with."""
        if self._key is None:
            self._key = load_secret_key(self.key_dir)
        if not self._key_checked:
            self._check_fingerprint(self._key)
            self._key_checked = True
        return self._key

    def _check_fingerprint(self, key: SecretKey, conn: Connection | None = None) -> None:
        if conn is None:
            with self.engine.begin() as own:
                self._check_fingerprint(key, own)
            return
        stored = conn.execute(select(meta.c.value).where(meta.c.key == "key_fingerprint")).scalar()
        if stored is None:  # the first key seen; several threads or processes may race here
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(
                dialect.insert(meta)
                .values(key="key_fingerprint", value=key.fingerprint)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            stored = conn.execute(
                select(meta.c.value).where(meta.c.key == "key_fingerprint")
            ).scalar()
        if stored != key.fingerprint:
            raise SecretKeyError(
                f"this workspace was created with another secret key (fingerprint {stored})",
                where=str(self.root),
                hint="set DATAWHEEL_KEY / datawheel.key to that key, or use a fresh --workspace",
            )

    def _key_in(self, conn: Connection) -> SecretKey:
        """The secret key, checked on ``conn``: a second write transaction beside the caller's
        would wait on the caller's own lock (SQLite)."""
        if self._key is None:
            self._key = load_secret_key(self.key_dir)
        if not self._key_checked:
            self._check_fingerprint(self._key, conn)
            self._key_checked = True
        return self._key

    def record(
        self, conn: Connection, action: str, target: str, details: dict[str, Any] | None = None
    ) -> int:
        """Append an audit entry inside ``conn``'s transaction (the change and its record commit
        together), chained under the key and attributed to ``actor``."""
        return audit_log.append(
            conn,
            key=self._key_in(conn).audit_key,
            actor=self.actor,
            action=action,
            target=target,
            details=details,
        )

    def verify_audit(self) -> audit_log.ChainReport:
        """Check the audit chain under the key, against the database's head, the head file and
        (with a bucket) the object store's anchors; a verified chain moves this machine's head
        file and the bucket's anchor forward to its end."""
        key = self.secret_key().audit_key
        report = audit_log.verify(
            self.engine, key=key, head=self.audit_head, bucket=self.audit_bucket
        )
        if report.ok and report.scheme == audit_log.SCHEME and report.entries:
            with reading(self.engine) as conn:
                last = conn.execute(select(meta.c.value).where(meta.c.key == "audit_head")).scalar()
            seq, digest = (last or "0:").split(":", 1)
            if int(seq) == report.entries:
                try:
                    self.audit_head.write(key, int(seq), digest)
                    report = replace(report, anchored=True)
                except OSError:  # a read-only workspace: verified, but not anchored here
                    pass
                if self.audit_bucket is not None:
                    self.audit_bucket.write(key, int(seq), digest)
        return report

    def close(self) -> None:
        """Release the database connections (idempotent)."""
        self.engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
