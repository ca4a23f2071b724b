"""Tenants (the team's customers) and their API keys, stored as hashes signed under the secret
key (store.credentials). Who may manage them is `store.roles`' table: the admin."""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from datawheel.config import PlanConfig
from datawheel.errors import NotFoundError, PermissionDenied, Unauthenticated, UsageError
from datawheel.store import credentials
from datawheel.store.db import api_key_details, api_keys, now_iso, plans, reading, tenants
from datawheel.store.roles import ROLES, allowed, check, require
from datawheel.store.workspace import Workspace

__all__ = [
    "ApiKey",
    "AuthCache",
    "KeyInfo",
    "Principal",
    "activate_tenant",
    "authenticate",
    "authorize",
    "create_key",
    "create_tenant",
    "deactivate_tenant",
    "list_keys",
    "list_tenants",
    "revoke_key",
    "set_plan",
    "sign_legacy_keys",
]

KEY_PREFIX = "dw"
_TENANT_NAME = re.compile(r"^\w[\w .-]{0,99}$")  # \w: letters of any script, digits, _


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key of a tenant, with a role (and the instant the key expires)."""

    key_id: str
    tenant_id: str
    tenant: str
    plan: str
    role: str
    expires: float | None = None  # seconds since the epoch; None: never
    limits: PlanConfig | None = None  # the plan as the console set it; None: serve.plans'


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant: str
    role: str
    secret: str  # the full key, shown once and never stored
    expires_at: str | None = None


@dataclass(frozen=True)
class KeyInfo:
    """A key as `keys list` shows it: never the key itself."""

    id: str
    tenant: str
    role: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    status: str  # active, revoked, expired, unsigned (not minted with the secret key)


def _tenant_row(conn: Any, name: str) -> Any:
    row = conn.execute(select(tenants).where(tenants.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"no tenant {name!r}", hint="`datawheel tenants list` shows them")
    return row


def create_tenant(ws: Workspace, name: str, *, plan: str, plans: list[str]) -> str:
    """A new tenant on ``plan``; returns its id. Admin only."""
    require(ws, "tenants")
    if not _TENANT_NAME.fullmatch(name) or name != name.strip():
        raise UsageError(
            f"tenant name {name!r} is not allowed",
            where="NAME",
            hint="1-100 letters (any script), digits, spaces, '.', '_' or '-', "
            "starting with a letter or digit",
        )
    _known_plan(plan, plans)
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


def _known_plan(plan: str, plans: list[str]) -> None:
    if plan not in plans:
        raise UsageError(
            f"unknown plan {plan!r}",
            hint=f"plans (serve.plans and the console's): {', '.join(plans)}",
        )


def deactivate_tenant(ws: Workspace, name: str) -> None:
    """Refuse every key of the tenant (within ``serve.auth_cache_seconds``); keys and usage are
    kept for billing. Admin only."""
    require(ws, "tenants")
    with ws.engine.begin() as conn:
        row = _tenant_row(conn, name)
        if not row.active:
            raise UsageError(f"tenant {name!r} is already deactivated")
        conn.execute(update(tenants).where(tenants.c.id == row.id).values(active=False))
        ws.record(conn, "tenant.deactivate", row.id, {"name": name})


def activate_tenant(ws: Workspace, name: str) -> None:
    """Accept the keys of a deactivated tenant again (those not revoked or expired). Admin
    only."""
    require(ws, "tenants")
    with ws.engine.begin() as conn:
        row = _tenant_row(conn, name)
        if row.active:
            raise UsageError(f"tenant {name!r} is active already")
        conn.execute(update(tenants).where(tenants.c.id == row.id).values(active=True))
        ws.record(conn, "tenant.activate", row.id, {"name": name})


def set_plan(ws: Workspace, name: str, plan: str, *, plans: list[str]) -> str:
    """Move a tenant to ``plan`` (running servers apply it within the auth cache's seconds);
    returns the old plan. Admin only."""
    require(ws, "tenants")
    _known_plan(plan, plans)
    with ws.engine.begin() as conn:
        row = _tenant_row(conn, name)
        conn.execute(update(tenants).where(tenants.c.id == row.id).values(plan=plan))
        ws.record(conn, "tenant.set_plan", row.id, {"name": name, "from": row.plan, "to": plan})
    return row.plan


def list_tenants(ws: Workspace) -> list[dict[str, object]]:
    with reading(ws.engine) as conn:
        return [dict(r._mapping) for r in conn.execute(select(tenants).order_by(tenants.c.name))]


def _expiry(expires: str | date | None, *, now: datetime) -> str | None:
    """``YYYY-MM-DD`` → the instant the key stops working: 00:00 UTC the day after (the key is
    valid through the named day). A day already over is refused."""
    if expires is None:
        return None
    if isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires)
        except ValueError:
            raise UsageError(
                f"expiry must be a date YYYY-MM-DD, got {expires!r}", where="--expires"
            ) from None
    end = datetime(expires.year, expires.month, expires.day, tzinfo=UTC) + timedelta(days=1)
    if end <= now:
        raise UsageError(
            f"expiry {expires.isoformat()} is in the past", where="--expires", hint="a later date"
        )
    return end.isoformat(timespec="microseconds")


def sign_legacy_keys(ws: Workspace) -> list[str]:
    """Sign keys minted before key MACs existed (once per workspace; see store.credentials)."""
    key = ws.secret_key()
    with ws.engine.begin() as conn:
        return credentials.sign_legacy(conn, key.credential_key, ws.record)


def _require_keys(ws: Workspace, tenant_id: str) -> None:
    """Key management: the admin's, or a tenant's owner's for that tenant only (the console
    acts as its user: ``Workspace.tenant`` is the user's tenant)."""
    if allowed(ws.role, "keys"):
        return
    if ws.role is not None and allowed(ws.role, "tenant_keys") and ws.tenant_id == tenant_id:
        return
    require(ws, "keys")  # refused, with the usual message
    raise PermissionDenied("key management is the admin's")  # pragma: no cover - unreachable


def _last_day(expires_at: str | None) -> str | None:
    """The last day a key works (``YYYY-MM-DD``) from the instant it stops."""
    if expires_at is None:
        return None
    return (datetime.fromisoformat(expires_at) - timedelta(days=1)).strftime("%Y-%m-%d")


def create_key(
    ws: Workspace,
    *,
    tenant: str,
    role: str = "service",
    name: str | None = None,
    expires: str | date | None = None,
    now: datetime | None = None,
) -> ApiKey:
    """A new key ``dw_<id>_<secret>`` for ``tenant``, valid through ``expires`` (a date; None:
    until revoked), with an optional ``name``. Stored as its SHA-256 signed under the secret
    key. The admin's, or the tenant owner's (console)."""
    if not allowed(ws.role, "keys") and not allowed(ws.role, "tenant_keys"):
        require(ws, "keys")
    if role not in ROLES:
        raise UsageError(
            f"unknown role {role!r}", where="--role", hint=f"roles: {', '.join(ROLES)}"
        )
    expires_at = _expiry(expires, now=now or datetime.now(UTC))
    credential_key = ws.secret_key().credential_key
    sign_legacy_keys(ws)
    with ws.engine.begin() as conn:
        tenant_row = _tenant_row(conn, tenant)
        _require_keys(ws, tenant_row.id)
        if not tenant_row.active:
            raise UsageError(f"tenant {tenant!r} is deactivated", hint="keys would be refused")
        key_id = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(24)}"
        digest = credentials.key_digest(secret)
        conn.execute(
            insert(api_keys).values(
                id=key_id,
                tenant_id=tenant_row.id,
                key_hash=digest,
                role=role,
                created_at=now_iso(),
                revoked_at=None,
                expires_at=expires_at,
                key_mac=credentials.key_mac(credential_key, key_id=key_id,
                                            tenant_id=tenant_row.id, role=role,
                                            expires_at=expires_at, digest=digest),
            )
        )  # fmt: skip
        if name is not None or expires_at is not None:  # what the console shows beside it
            last_day = _last_day(expires_at)
            conn.execute(
                insert(api_key_details).values(
                    key_id=key_id, name=name or "", expires_on=last_day, created_by=ws.actor
                )
            )
        details = {"tenant": tenant, "role": role, "name": name, "expires_at": expires_at}
        ws.record(conn, "key.create", key_id, {k: v for k, v in details.items() if v})
    return ApiKey(id=key_id, tenant=tenant, role=role, secret=secret, expires_at=expires_at)


def revoke_key(ws: Workspace, key_id: str) -> None:
    """Refuse the key from now on (running servers: within ``serve.auth_cache_seconds``). The
    admin's, or the owner's of the key's tenant (console)."""
    if not allowed(ws.role, "keys") and not allowed(ws.role, "tenant_keys"):
        require(ws, "keys")
    with ws.engine.begin() as conn:
        owner = conn.execute(select(api_keys.c.tenant_id).where(api_keys.c.id == key_id)).scalar()
        if owner is not None:
            _require_keys(ws, owner)
        found = conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now_iso())
        ).rowcount
        if not found:
            raise NotFoundError(f"no active key {key_id!r}", hint="`datawheel keys list`")
        ws.record(conn, "key.revoke", key_id, {})


def list_keys(
    ws: Workspace, *, tenant: str | None = None, now: datetime | None = None
) -> list[KeyInfo]:
    """Every key (of one tenant), oldest first, with its status. Admin only."""
    require(ws, "keys")
    credential_key = ws.secret_key().credential_key
    moment = (now or datetime.now(UTC)).isoformat(timespec="microseconds")
    stmt = (
        select(api_keys, tenants.c.name.label("tenant"))
        .join(tenants, tenants.c.id == api_keys.c.tenant_id)
        .order_by(api_keys.c.created_at)
    )
    with reading(ws.engine) as conn:
        if tenant is not None:
            stmt = stmt.where(api_keys.c.tenant_id == _tenant_row(conn, tenant).id)
        rows = conn.execute(stmt).all()
    out = []
    for r in rows:
        if r.revoked_at is not None:
            status = "revoked"
        elif r.expires_at is not None and r.expires_at <= moment:
            status = "expired"
        elif not credentials.valid_mac(credential_key, r):
            status = "unsigned"
        else:
            status = "active"
        out.append(KeyInfo(r.id, r.tenant, r.role, r.created_at, r.expires_at, r.revoked_at,
                           status))  # fmt: skip
    return out


_PLAN_LIMITS = (  # a plan row's limits, as PlanConfig's fields
    plans.c.requests_per_minute,
    plans.c.monthly_quota,
    plans.c.feedback_per_minute,
    plans.c.feedback_max_chars,
)


def _epoch(iso: str | None) -> float | None:
    return None if iso is None else datetime.fromisoformat(iso).timestamp()


def authenticate(
    ws: Workspace,
    presented: str,
    *,
    credential_key: bytes | None = None,
    now: float | None = None,
) -> Principal:
    """Check a presented key in constant time; malformed, unknown, revoked, expired, unsigned
    and deactivated-tenant keys are refused alike."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthenticated("malformed API key", hint="expected dw_<id>_<secret>")
    mac_key = credential_key or ws.secret_key().credential_key
    with reading(ws.engine) as conn:
        row = conn.execute(
            select(
                api_keys.c.id,
                api_keys.c.key_hash,
                api_keys.c.key_mac,
                api_keys.c.role,
                api_keys.c.revoked_at,
                api_keys.c.expires_at,
                api_keys.c.tenant_id,
                tenants.c.name,
                tenants.c.plan,
                tenants.c.active,
                *_PLAN_LIMITS,
            )
            .join(tenants, tenants.c.id == api_keys.c.tenant_id)
            .outerjoin(plans, plans.c.name == tenants.c.plan)
            .where(api_keys.c.id == parts[1])
        ).first()
    expected = row.key_hash if row is not None else credentials.key_digest("dw_absent_absent")
    valid = hmac.compare_digest(expected, credentials.key_digest(presented))
    signed = row is not None and credentials.valid_mac(mac_key, row)
    expires = _epoch(row.expires_at) if row is not None else None
    expired = expires is not None and (now if now is not None else time.time()) >= expires
    if row is None or not valid or not signed or row.revoked_at is not None or not row.active:
        raise Unauthenticated("invalid or revoked API key")
    if expired:
        raise Unauthenticated("the API key has expired", hint="ask for a new key")
    limits = None
    if row.requests_per_minute is not None:  # the console defined or changed this plan
        limits = PlanConfig(**{c.name: row._mapping[c.name] for c in _PLAN_LIMITS})
    return Principal(row.id, row.tenant_id, row.name, row.plan, row.role, expires, limits)


def authorize(principal: Principal, action: str) -> None:
    """Raise ``PermissionDenied`` unless the caller's key role may take ``action``."""
    check(principal.role, action)


class AuthCache:
    """``authenticate`` with the verdicts of valid keys remembered for ``ttl`` seconds.

    A revoked key (or a deactivated tenant, or a changed plan) takes effect at the latest ``ttl``
    seconds after the change, by every worker; an expired key is refused at its instant. Unknown
    and invalid keys are not cached: they always hit the database. Entries are keyed by the
    SHA-256 of the key, never by the key itself.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ):
        self._ws = ws
        self._ttl = ttl
        self._clock = clock
        self._wall = wall
        self._mac_key = ws.secret_key().credential_key
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        # told (key id, ISO time) on every check against the database, i.e. at most once per
        # ``ttl`` per key while it is in use: the serving path's "last used", at no cost per hit
        self.on_use: Callable[[str, str], None] | None = None

    def authenticate(self, presented: str) -> Principal:
        digest = credentials.key_digest(presented)
        entry = self._entries.get(digest)
        now = self._clock()
        if entry is not None and entry[0] > now:
            expires = entry[1].expires
            if expires is None or self._wall() < expires:
                return entry[1]
        wall = self._wall()
        principal = authenticate(self._ws, presented, credential_key=self._mac_key, now=wall)
        if self.on_use is not None:
            self.on_use(principal.key_id, datetime.fromtimestamp(wall, UTC).isoformat())
        with self._lock:
            if len(self._entries) > 10_000:  # bounded: drop everything rather than grow
                self._entries.clear()
            self._entries[digest] = (now + self._ttl, principal)
        return principal
