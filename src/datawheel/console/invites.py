"""Sign-up links and the admin's side of accounts: a new link for a user, completing a sign-up
(the user chooses a password), listing and disabling users.

A link is ``/console/signup/<token>``: 256 random bits, stored as their SHA-256, valid for
``LINK_HOURS`` and for one use. Using it sets the password (argon2id) and ends the user's other
sessions, so a link also serves as a password reset that an admin hands over.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, func, select, update

from datawheel.console.accounts import (
    LINK_HOURS,
    OPERATORS,
    Invite,
    User,
    as_user,
    hash_password,
    hash_token,
    insert_invite,
)
from datawheel.errors import NotFoundError, Unauthenticated, UsageError
from datawheel.store.db import console_sessions, now_iso, reading, signup_tokens, tenants, users
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace

__all__ = [
    "complete_signup",
    "disable_user",
    "invited_user",
    "issue_link",
    "list_users",
]


def _user_of(conn: Any, email: str) -> Any:
    row = conn.execute(select(users).where(users.c.email == email.strip().lower())).first()
    if row is None:
        raise NotFoundError(f"no user {email!r}", hint="`datawheel users list` shows them")
    return row


def issue_link(
    ws: Workspace, email: str, *, hours: float = LINK_HOURS, now: float | None = None
) -> Invite:
    """A new one-time sign-up link for an existing user (their earlier unused links stop
    working): for a lost link, or to reset a forgotten password. Admin only."""
    require(ws, "users")
    now = time.time() if now is None else now
    with ws.engine.begin() as conn:
        row = _user_of(conn, email)
        if row.disabled_at is not None:
            raise UsageError(f"user {row.email!r} is disabled", hint="a disabled user stays out")
        invite = insert_invite(ws, conn, row.id, row.email, hours=hours, now=now)
        ws.record(conn, "user.link", row.email, {"valid_hours": hours})
    return invite


def _pending(token: str, now: float) -> Any:
    """The select of a live link's user (unused, not expired, user enabled, tenant active)."""
    return (
        select(
            users.c.id,
            users.c.email,
            users.c.role,
            users.c.tenant_id,
            func.coalesce(tenants.c.name, OPERATORS).label("tenant"),
        )
        .join(signup_tokens, signup_tokens.c.user_id == users.c.id)
        .outerjoin(tenants, tenants.c.id == users.c.tenant_id)
        .where(
            signup_tokens.c.token_hash == hash_token(token),
            signup_tokens.c.used_at.is_(None),
            signup_tokens.c.expires_at > now,
            users.c.disabled_at.is_(None),
            func.coalesce(tenants.c.active, True).is_(True),
        )
    )


def invited_user(ws: Workspace, token: str, *, now: float | None = None) -> User | None:
    """The user a live sign-up link is for, or None (unknown, used, expired, disabled)."""
    if not token or len(token) > 200:
        return None
    now = time.time() if now is None else now
    with reading(ws.engine) as conn:
        row = conn.execute(_pending(token, now)).first()
    return None if row is None else User(row.id, row.email, row.role, row.tenant_id, row.tenant)


def complete_signup(ws: Workspace, token: str, password: str, *, now: float | None = None) -> User:
    """Use a sign-up link: set the user's password (argon2id), spend the link, end the user's
    other sessions. Refused alike for an unknown, used or expired link."""
    password_hash = hash_password(password)  # checks the length before anything is spent
    now = time.time() if now is None else now
    with ws.engine.begin() as conn:
        row = conn.execute(_pending(token, now)).first() if token else None
        spent = 0
        if row is not None:
            spent = conn.execute(
                update(signup_tokens)
                .where(
                    signup_tokens.c.token_hash == hash_token(token),
                    signup_tokens.c.used_at.is_(None),
                )
                .values(used_at=now_iso())
            ).rowcount
        if row is None or spent != 1:
            raise Unauthenticated(
                "this sign-up link is unknown, used or expired",
                hint="ask your administrator for a new link",
            )
        user = User(row.id, row.email, row.role, row.tenant_id, row.tenant)
        conn.execute(update(users).where(users.c.id == row.id).values(password_hash=password_hash))
        conn.execute(delete(console_sessions).where(console_sessions.c.user_id == row.id))
        as_user(ws, user).record(conn, "user.signup", user.email, {})
    return user


def list_users(ws: Workspace, *, now: float | None = None) -> list[dict[str, Any]]:
    """Every console user with tenant, role and state: active, link pending (a live sign-up
    link not used yet) or disabled. Admin only."""
    require(ws, "users")
    now = time.time() if now is None else now
    live_link = (
        select(signup_tokens.c.user_id, func.max(signup_tokens.c.expires_at).label("until"))
        .where(signup_tokens.c.used_at.is_(None), signup_tokens.c.expires_at > now)
        .group_by(signup_tokens.c.user_id)
        .subquery()
    )
    stmt = (
        select(
            users.c.email,
            users.c.role,
            users.c.created_at,
            users.c.disabled_at,
            func.coalesce(tenants.c.name, OPERATORS).label("tenant"),
            live_link.c.until,
        )
        .outerjoin(tenants, tenants.c.id == users.c.tenant_id)
        .outerjoin(live_link, live_link.c.user_id == users.c.id)
        .order_by(func.coalesce(tenants.c.name, ""), users.c.email)
    )
    with reading(ws.engine) as conn:
        rows = conn.execute(stmt).all()
    out = []
    for r in rows:
        state = "disabled" if r.disabled_at else "link pending" if r.until else "active"
        out.append({**dict(r._mapping), "state": state})
    return out


def disable_user(ws: Workspace, email: str) -> None:
    """Sign a user out everywhere and refuse every sign-in and link from now on (the row and
    its audit trail stay). Admin only; an admin cannot disable themselves."""
    require(ws, "users")
    with ws.engine.begin() as conn:
        row = _user_of(conn, email)
        if row.disabled_at is not None:
            raise UsageError(f"user {row.email!r} is disabled already")
        if ws.principal == f"user:{row.email}":
            raise UsageError("you cannot disable yourself", hint="ask another admin")
        conn.execute(update(users).where(users.c.id == row.id).values(disabled_at=now_iso()))
        conn.execute(delete(console_sessions).where(console_sessions.c.user_id == row.id))
        conn.execute(
            delete(signup_tokens).where(
                signup_tokens.c.user_id == row.id, signup_tokens.c.used_at.is_(None)
            )
        )
        ws.record(conn, "user.disable", row.email, {})
