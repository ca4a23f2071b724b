"""Console accounts: users with a role in a tenant, argon2id passwords, sessions and the sign-in
rate limit. Everything lives in the workspace database, so every worker sees the same sessions.

Operators (admin, engineer, analyst) belong to the team, written ``--tenant operators``; the
customer roles (owner, developer) belong to one tenant and only ever see its data.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Select, delete, func, insert, select

from datawheel.errors import NotFoundError, PermissionDenied, Unauthenticated, UsageError
from datawheel.store.db import (
    console_sessions,
    login_failures,
    now_iso,
    reading,
    signup_tokens,
    tenants,
    users,
)
from datawheel.store.roles import CUSTOMER_ROLES, require
from datawheel.store.roles import allowed as workspace_allows
from datawheel.store.workspace import Workspace

__all__ = [
    "CUSTOMER_ROLES",
    "LINK_HOURS",
    "OPERATORS",
    "OPERATOR_ROLES",
    "SESSION_SECONDS",
    "Invite",
    "Session",
    "User",
    "as_user",
    "can",
    "check_password",
    "create_user",
    "csrf_ok",
    "end_session",
    "find_session",
    "sign_in",
]

OPERATORS = "operators"  # the --tenant of the team's own people
OPERATOR_ROLES = ("admin", "engineer", "analyst")
SESSION_SECONDS = 8 * 3600  # a working day; signing in again rotates the session
FAILURE_WINDOW = 15 * 60.0
MAX_FAILURES = 5  # per e-mail in the window …
MAX_CLIENT_FAILURES = 20  # … and per client address (several people may share one)
MIN_PASSWORD = 12
LINK_HOURS = 72.0  # a sign-up link works this long, once
MAX_LINK_HOURS = 30 * 24.0
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# RFC 9106's second recommended option (memory-hard, 64 MiB, 3 passes): slow for an attacker's
# GPU, ~50 ms for a sign-in here.
_hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)
_DUMMY_HASH = _hasher.hash("datawheel-absent-user")  # unknown users cost the same time

# console action → the row of the one action table (store/roles.py) it takes
_ACTIONS = {"customer": "customer", "keys": "tenant_keys", "operate": "operate"}
# workspace actions an operator takes from the console, by the same rows as the CLI
_OPERATOR_ACTIONS = frozenset({"promote", "train", "tenants", "users"})


@dataclass(frozen=True)
class User:
    id: str
    email: str
    role: str
    tenant_id: str | None  # None: an operator
    tenant: str  # the tenant's name, or "operators"

    @property
    def is_operator(self) -> bool:
        return self.tenant_id is None


@dataclass(frozen=True)
class Session:
    token: str  # the cookie value: shown to the browser once, stored only as a hash
    csrf: str
    user: User
    expires_at: float


def can(user: User, action: str) -> bool:
    """Whether ``user`` may take the console ``action``: ``customer``, ``keys``, ``operate``,
    or one of the workspace's own (``promote``, ``train``, ``tenants``, ``users``), which only
    operators take, by the workspace's rule."""
    if action in _OPERATOR_ACTIONS:
        return user.is_operator and workspace_allows(user.role, action)
    return workspace_allows(user.role, _ACTIONS[action])


def as_user(ws: Workspace, user: User) -> Workspace:
    """The workspace acting as ``user``: library calls audit their changes under the user's
    name and check the user's role. Shares the engine and artifacts (a shallow copy)."""
    acting = copy.copy(ws)
    acting.principal, acting.via = f"user:{user.email}", "console"
    acting.role, acting.owner = user.role, False
    acting.tenant_id = user.tenant_id  # a customer's role reaches its own tenant only
    return acting


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Invite:
    """A one-time sign-up link's secret part: shown once, stored only as its SHA-256."""

    email: str
    token: str
    expires_at: float  # seconds since the epoch

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/console/signup/{self.token}"


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UsageError(
            f"the password is {len(password)} characters long; at least {MIN_PASSWORD} needed",
            where="password",
        )


def unusable_hash() -> str:
    """The hash of a password nobody knows: the account cannot sign in until its link is used."""
    return _hasher.hash(secrets.token_urlsafe(32))


def hash_password(password: str) -> str:
    check_password(password)
    return _hasher.hash(password)


def insert_invite(
    ws: Workspace, conn: Connection, user_id: str, email: str, *, hours: float, now: float
) -> Invite:
    """A new sign-up link for ``user_id`` in ``conn``'s transaction; earlier unused links of
    the user stop working."""
    if not 0 < hours <= MAX_LINK_HOURS:
        raise UsageError(
            f"a sign-up link is valid for 1 to {MAX_LINK_HOURS} hours, got {hours:g}",
            where="--valid-hours",
        )
    conn.execute(
        delete(signup_tokens).where(
            signup_tokens.c.user_id == user_id, signup_tokens.c.used_at.is_(None)
        )
    )
    token = secrets.token_urlsafe(32)
    expires = now + hours * 3600
    conn.execute(
        insert(signup_tokens).values(
            token_hash=hash_token(token),
            user_id=user_id,
            created_at=now_iso(),
            expires_at=expires,
            used_at=None,
            created_by=ws.actor,
        )
    )
    return Invite(email, token, expires)


def create_user(
    ws: Workspace,
    email: str,
    *,
    tenant: str,
    role: str,
    password: str | None = None,
    link_hours: float = LINK_HOURS,
    now: float | None = None,
) -> tuple[str, Invite | None]:
    """A new user; returns (user id, sign-up link or None). Without ``password`` the user
    gets a one-time link (valid ``link_hours``) to choose one; the caller shows it once. Only
    argon2id hashes of passwords and SHA-256 hashes of links are stored. Admin only."""
    require(ws, "users")
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise UsageError(f"not an e-mail address: {email!r}", where="EMAIL")
    operator = tenant == OPERATORS
    roles = OPERATOR_ROLES if operator else CUSTOMER_ROLES
    if role not in roles:
        kind = "operators" if operator else f"a customer tenant ({tenant})"
        raise UsageError(
            f"role {role!r} is not a role for {kind}",
            where="--role",
            hint=f"use one of {', '.join(roles)}"
            + ("" if operator else f", or --tenant {OPERATORS} for {', '.join(OPERATOR_ROLES)}"),
        )
    password_hash = hash_password(password) if password is not None else unusable_hash()
    now = time.time() if now is None else now
    user_id = f"u_{uuid.uuid4().hex[:12]}"
    with ws.engine.begin() as conn:
        tenant_id = None
        if not operator:
            tenant_id = conn.execute(select(tenants.c.id).where(tenants.c.name == tenant)).scalar()
            if tenant_id is None:
                raise NotFoundError(
                    f"no tenant {tenant!r}",
                    where="--tenant",
                    hint=f"`datawheel tenants create {tenant}`, or --tenant {OPERATORS}",
                )
        if conn.execute(select(users.c.id).where(users.c.email == email)).first():
            raise UsageError(f"a user {email!r} already exists", where="EMAIL")
        conn.execute(
            insert(users).values(
                id=user_id,
                email=email,
                tenant_id=tenant_id,
                role=role,
                password_hash=password_hash,
                created_at=now_iso(),
                disabled_at=None,
            )
        )
        invite = None
        if password is None:
            invite = insert_invite(ws, conn, user_id, email, hours=link_hours, now=now)
        how = "password" if invite is None else "sign-up link"
        ws.record(conn, "user.create", email, {"tenant": tenant, "role": role, "with": how})
    return user_id, invite


def _user_row_select() -> Select[Any]:
    return select(
        users.c.id,
        users.c.email,
        users.c.role,
        users.c.tenant_id,
        users.c.password_hash,
        users.c.disabled_at,
        func.coalesce(tenants.c.name, OPERATORS).label("tenant"),
        tenants.c.active,
    ).outerjoin(tenants, tenants.c.id == users.c.tenant_id)


def _to_user(row: Any) -> User:
    return User(row.id, row.email, row.role, row.tenant_id, row.tenant)


def _limited(conn: Connection, keys: list[str], since: float) -> bool:
    counts: dict[str, int] = dict(
        conn.execute(
            select(login_failures.c.key, func.count())
            .where(login_failures.c.key.in_(keys), login_failures.c.at > since)
            .group_by(login_failures.c.key)
        ).all()
    )
    return counts.get(keys[0], 0) >= MAX_FAILURES or counts.get(keys[1], 0) >= MAX_CLIENT_FAILURES


def sign_in(
    ws: Workspace, email: str, password: str, *, client: str, now: float | None = None
) -> Session:
    """Check the password and open a new session (a fresh token: sign-in rotates it).

    Refused alike for an unknown user, a wrong password, a disabled user or tenant; after
    ``MAX_FAILURES`` failures in ``FAILURE_WINDOW`` for the e-mail (``MAX_CLIENT_FAILURES`` for
    the client address) every
    try is refused without checking the password (``PermissionDenied``) until the window passes.
    """
    now = time.time() if now is None else now
    email = email.strip().lower()
    keys = [f"email:{email}", f"ip:{client}"]
    with reading(ws.engine) as conn:
        if _limited(conn, keys, now - FAILURE_WINDOW):
            raise PermissionDenied("too many failed sign-ins", hint="wait 15 minutes and try again")
        row = conn.execute(_user_row_select().where(users.c.email == email)).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
        ok = row is not None and row.disabled_at is None and row.active is not False
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None:
        with ws.engine.begin() as conn:  # committed: the failure must count
            conn.execute(insert(login_failures), [{"key": k, "at": now} for k in keys])
            ws.record(conn, "console.sign_in_failed", email, {"client": client})
        raise Unauthenticated("wrong e-mail or password")
    with ws.engine.begin() as conn:
        conn.execute(delete(login_failures).where(login_failures.c.key == keys[0]))
        conn.execute(delete(console_sessions).where(console_sessions.c.expires_at < now))
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = now + SESSION_SECONDS
        conn.execute(
            insert(console_sessions).values(
                token_hash=hash_token(token),
                user_id=row.id,
                csrf=csrf,
                created_at=now_iso(),
                expires_at=expires,
            )
        )
        as_user(ws, _to_user(row)).record(conn, "console.sign_in", email, {})
    return Session(token, csrf, _to_user(row), expires)


def find_session(ws: Workspace, token: str | None, *, now: float | None = None) -> Session | None:
    """The live session for a cookie value, or None (absent, unknown, expired, user disabled)."""
    if not token:
        return None
    now = time.time() if now is None else now
    with reading(ws.engine) as conn:
        row = conn.execute(
            _user_row_select()
            .add_columns(console_sessions.c.csrf, console_sessions.c.expires_at)
            .join(console_sessions, console_sessions.c.user_id == users.c.id)
            .where(console_sessions.c.token_hash == hash_token(token))
        ).first()
    if row is None or row.expires_at <= now or row.disabled_at is not None:
        return None
    if row.active is False:
        return None
    return Session(token, row.csrf, _to_user(row), row.expires_at)


def end_session(ws: Workspace, session: Session) -> None:
    """Sign out: the session row goes, so the cookie is worthless even if kept."""
    with ws.engine.begin() as conn:
        conn.execute(
            delete(console_sessions).where(
                console_sessions.c.token_hash == hash_token(session.token)
            )
        )
        as_user(ws, session.user).record(conn, "console.sign_out", session.user.email, {})


def csrf_ok(session: Session, presented: str | None) -> bool:
    """Whether a form's token is the session's (constant time)."""
    return bool(presented) and hmac.compare_digest(session.csrf, presented or "")
