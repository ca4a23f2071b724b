"""The workspace: where a project's database and artifacts live, opened as one object."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from datawheel.errors import SecretKeyError
from datawheel.secret import SecretKey, load_secret_key
from datawheel.store import audit as audit_log
from datawheel.store.artifacts import ArtifactStore
from datawheel.store.blobs import ARTIFACTS_URL_ENV, open_blobs
from datawheel.store.db import connect, meta

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


@dataclass
class Workspace:
    """Database engine + artifact store + the secret key (loaded only when first needed).

    ``with Workspace.open(root) as ws:`` closes it at the end of the block, however it ends.
    """

    root: Path
    engine: Engine
    key_dir: Path | None = None  # where datawheel.key is looked for
    actor: str = "cli"  # who is acting, recorded in the audit log
    role: str = "admin"  # checked by privileged library calls
    artifacts_url: str | None = None  # s3://BUCKET/PREFIX; None: files under root/artifacts
    _key: SecretKey | None = field(default=None, repr=False)
    _key_checked: bool = field(default=False, repr=False)
    artifacts: ArtifactStore = field(init=False)

    def __post_init__(self) -> None:
        blobs = open_blobs(self.artifacts_url, self.root / "artifacts")
        self.artifacts = ArtifactStore(blobs, self.engine, self.secret_key)

    @classmethod
    def open(
        cls,
        root: str | Path,
        *,
        db_url: str | None = None,
        key_dir: Path | None = None,
        key: SecretKey | None = None,
        actor: str = "cli",
        role: str = "admin",
        artifacts_url: str | None = None,
    ) -> Workspace:
        """Open (creating if needed) the workspace; ``DATAWHEEL_DB_URL`` selects the database and
        ``DATAWHEEL_ARTIFACTS_URL`` where artifacts live (local files when unset)."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        engine = connect(db_url or os.environ.get(DB_URL_ENV), workspace=root)
        return cls(
            root=root,
            engine=engine,
            key_dir=key_dir,
            actor=actor,
            role=role,
            artifacts_url=artifacts_url or os.environ.get(ARTIFACTS_URL_ENV),
            _key=key,
        )

    def secret_key(self) -> SecretKey:
        """The secret key, checked against the fingerprint this workspace was created with."""
        if self._key is None:
            self._key = load_secret_key(self.key_dir)
        if not self._key_checked:
            self._check_fingerprint(self._key)
            self._key_checked = True
        return self._key

    def _check_fingerprint(self, key: SecretKey) -> None:
        with self.engine.begin() as conn:
            stored = conn.execute(
                select(meta.c.value).where(meta.c.key == "key_fingerprint")
            ).scalar()
            if stored is None:
                conn.execute(insert(meta).values(key="key_fingerprint", value=key.fingerprint))
                return
        if stored != key.fingerprint:
            raise SecretKeyError(
                f"this workspace was created with another secret key (fingerprint {stored})",
                where=str(self.root),
                hint="set DATAWHEEL_KEY / datawheel.key to that key, or use a fresh --workspace",
            )

    def record(
        self, conn: Connection, action: str, target: str, details: dict[str, Any] | None = None
    ) -> int:
        """Append an audit entry inside ``conn``'s transaction (the change and its record commit
        together)."""
        return audit_log.append(
            conn, actor=self.actor, action=action, target=target, details=details
        )

    def close(self) -> None:
        """Release the database connections (idempotent)."""
        self.engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
