"""Tenants (the team's customers) and their API keys, stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import insert, select, update

from datawheel.errors import NotFoundError, PermissionDenied, Unauthenticated, UsageError
from datawheel.store.db import api_key_details, api_keys, now_iso, reading, tenants
from datawheel.store.workspace import Workspace

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "ApiKey",
    "AuthCache",
    "Principal",
    "authenticate",
    "create_key",
    "create_tenant",
    "list_tenants",
    "require",
    "revoke_key",
]

ROLES = ("admin", "engineer", "analyst", "service")
KEY_PREFIX = "dw"

# What each role may call. Services (the customer's systems) predict, explain and send feedback;
# analysts only read; engineers predict, explain and read; admins do everything.
PERMISSIONS: dict[str, frozenset[str]] = {
    "predict": frozenset({"admin", "engineer", "service"}),
    "explain": frozenset({"admin", "engineer", "service"}),
    "feedback": frozenset({"admin", "service"}),
    "models": frozenset({"admin", "engineer", "analyst"}),
    "usage": frozenset({"admin", "engineer", "analyst"}),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key of a tenant, with a role."""

    key_id: str
    tenant_id: str
    tenant: str
    plan: str
    role: str


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant: str
    role: str
    secret: str  # the full key, shown once and never stored


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_tenant(ws: Workspace, name: str, *, plan: str, plans: list[str]) -> str:
    """A new tenant on ``plan``; returns its id."""
    if plan not in plans:
        raise UsageError(
            f"unknown plan {plan!r}", hint=f"plans in the project file: {', '.join(plans)}"
        )
    tenant_id = f"t_{uuid.uuid4().hex[:10]}"
    with ws.engine.begin() as conn:
        if conn.execute(select(tenants.c.id).where(tenants.c.name == name)).first():
            raise UsageError(f"tenant {name!r} already exists")
        conn.execute(
            insert(tenants).values(
                id=tenant_id, name=name, plan=plan, created_at=now_iso(), active=True
            )
        )
        ws.record(conn, "tenant.create", tenant_id, {"name": name, "plan": plan})
    return tenant_id


def list_tenants(ws: Workspace) -> list[dict[str, object]]:
    with reading(ws.engine) as conn:
        return [dict(r._mapping) for r in conn.execute(select(tenants).order_by(tenants.c.name))]


def create_key(
    ws: Workspace,
    *,
    tenant: str,
    role: str = "service",
    name: str | None = None,
    expires_on: str | None = None,
) -> ApiKey:
    """A new key ``dw_<id>_<secret>`` for ``tenant``; only its SHA-256 is stored. ``name`` and
    ``expires_on`` (``YYYY-MM-DD``, the last valid day, UTC) are optional."""
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}", hint=f"roles: {', '.join(ROLES)}")
    if expires_on is not None:
        _check_expiry(expires_on)
    with ws.engine.begin() as conn:
        tenant_id = conn.execute(select(tenants.c.id).where(tenants.c.name == tenant)).scalar()
        if tenant_id is None:
            raise NotFoundError(f"no tenant {tenant!r}", hint="`datawheel tenants create NAME`")
        key_id = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(24)}"
        conn.execute(
            insert(api_keys).values(
                id=key_id,
                tenant_id=tenant_id,
                key_hash=_hash(secret),
                role=role,
                created_at=now_iso(),
                revoked_at=None,
            )
        )
        if name is not None or expires_on is not None:
            conn.execute(
                insert(api_key_details).values(
                    key_id=key_id, name=name or "", expires_on=expires_on, created_by=ws.actor
                )
            )
        details = {"tenant": tenant, "role": role, "name": name, "expires_on": expires_on}
        ws.record(conn, "key.create", key_id, {k: v for k, v in details.items() if v})
    return ApiKey(id=key_id, tenant=tenant, role=role, secret=secret)


def _check_expiry(expires_on: str) -> None:
    try:
        day = date.fromisoformat(expires_on)
    except ValueError:
        raise UsageError(
            f"expiry must be a date YYYY-MM-DD, got {expires_on!r}", where="expires"
        ) from None
    if day < datetime.now(UTC).date():
        raise UsageError(f"expiry {expires_on} is in the past", where="expires")


def revoke_key(ws: Workspace, key_id: str) -> None:
    with ws.engine.begin() as conn:
        found = conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now_iso())
        ).rowcount
        if not found:
            raise NotFoundError(f"no active key {key_id!r}")
        ws.record(conn, "key.revoke", key_id, {})


def authenticate(ws: Workspace, presented: str) -> Principal:
    """Check a presented key in constant time; revoked or unknown keys are refused alike."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthenticated("malformed API key", hint="expected dw_<id>_<secret>")
    with reading(ws.engine) as conn:
        row = conn.execute(
            select(
                api_keys.c.id,
                api_keys.c.key_hash,
                api_keys.c.role,
                api_keys.c.revoked_at,
                tenants.c.id.label("tenant_id"),
                tenants.c.name,
                tenants.c.plan,
                tenants.c.active,
                api_key_details.c.expires_on,
            )
            .join(tenants, tenants.c.id == api_keys.c.tenant_id)
            .outerjoin(api_key_details, api_key_details.c.key_id == api_keys.c.id)
            .where(api_keys.c.id == parts[1])
        ).first()
    expected = row.key_hash if row is not None else _hash("dw_absent_absent")
    valid = hmac.compare_digest(expected, _hash(presented))
    if row is None or not valid or row.revoked_at is not None or not row.active:
        raise Unauthenticated("invalid or revoked API key")
    if row.expires_on is not None and row.expires_on < datetime.now(UTC).strftime("%Y-%m-%d"):
        raise Unauthenticated(f"this API key expired after {row.expires_on}")
    return Principal(row.id, row.tenant_id, row.name, row.plan, row.role)


def require(principal: Principal, action: str) -> None:
    """Raise ``PermissionDenied`` unless the caller's role may perform ``action``."""
    if principal.role not in PERMISSIONS[action]:
        allowed = ", ".join(sorted(PERMISSIONS[action]))
        raise PermissionDenied(
            f"role {principal.role!r} may not call {action}",
            hint=f"use a key with one of the roles: {allowed}",
        )


class AuthCache:
    """``authenticate`` with the verdicts of valid keys remembered for ``ttl`` seconds.

    A revoked key (or a deactivated tenant) is refused at the latest ``ttl`` seconds after the
    change, by every worker. Unknown and invalid keys are not cached: they always hit the
    database. Entries are keyed by the SHA-256 of the key, never by the key itself.
    """

    def __init__(
        self, ws: Workspace, *, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic
    ):
        self._ws = ws
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def authenticate(self, presented: str) -> Principal:
        digest = _hash(presented)
        entry = self._entries.get(digest)
        now = self._clock()
        if entry is not None and entry[0] > now:
            return entry[1]
        principal = authenticate(self._ws, presented)
        with self._lock:
            if len(self._entries) > 10_000:  # bounded: drop everything rather than grow
                self._entries.clear()
            self._entries[digest] = (now + self._ttl, principal)
        return principal
