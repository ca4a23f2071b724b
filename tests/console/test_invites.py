"""Sign-up links on a real database: one use, an expiry, stored hashed, a new link retires the
old, using one sets an argon2id password and ends the user's other sessions; listing and
disabling users."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from datawheel.console.accounts import MIN_PASSWORD, create_user, find_session, sign_in
from datawheel.console.invites import (
    complete_signup,
    disable_user,
    invited_user,
    issue_link,
    list_users,
)
from datawheel.errors import PermissionDenied, Unauthenticated, UsageError
from datawheel.serve.tenants import create_tenant, deactivate_tenant
from datawheel.store import audit as audit_log
from datawheel.store.db import signup_tokens, users

PASSWORD = "a long enough password"
NOW = 1_800_000_000.0


@pytest.fixture
def ws(workspace):
    create_tenant(workspace, "acme", plan="free", plans=["free"])
    return workspace


def _invite(ws, email="dev@acme.example", **kw):
    return create_user(ws, email, tenant="acme", role="developer", now=NOW, **kw)[1]


def test_link_when_used_then_password_set_and_link_spent(ws):
    invite = _invite(ws)
    assert invited_user(ws, invite.token, now=NOW + 60).email == "dev@acme.example"
    user = complete_signup(ws, invite.token, PASSWORD, now=NOW + 60)
    assert user.tenant == "acme" and user.role == "developer"
    assert sign_in(ws, "dev@acme.example", PASSWORD, client="c").user.id == user.id
    with ws.engine.connect() as conn:
        row = conn.execute(select(users.c.password_hash)).one()
        stored = conn.execute(select(signup_tokens.c.token_hash)).scalar_one()
    assert row.password_hash.startswith("$argon2id$")
    assert stored == hashlib.sha256(invite.token.encode()).hexdigest()  # never the token
    assert invited_user(ws, invite.token, now=NOW + 61) is None
    with pytest.raises(Unauthenticated, match="unknown, used or expired"):
        complete_signup(ws, invite.token, "another long password", now=NOW + 61)
    assert audit_log.entries(ws.engine, action="user.signup")[-1].actor == "user:dev@acme.example"


@pytest.mark.parametrize(
    ("token", "at", "password", "error"),
    [
        (None, NOW + 73 * 3600, PASSWORD, Unauthenticated),  # expired (72 hours)
        ("forged-token", NOW + 60, PASSWORD, Unauthenticated),  # unknown
        ("", NOW + 60, PASSWORD, Unauthenticated),  # empty
        (None, NOW + 60, "x" * (MIN_PASSWORD - 1), UsageError),  # too short: link not spent
    ],
)
def test_link_when_invalid_then_refused_and_nothing_changes(ws, token, at, password, error):
    invite = _invite(ws)
    with pytest.raises(error):
        complete_signup(ws, invite.token if token is None else token, password, now=at)
    assert invited_user(ws, invite.token, now=NOW + 60) is not None  # not spent


def test_new_link_when_issued_then_the_old_one_dies_and_sessions_end_on_use(ws):
    first = _invite(ws)
    complete_signup(ws, first.token, PASSWORD, now=NOW + 1)
    session = sign_in(ws, "dev@acme.example", PASSWORD, client="c")
    reset = issue_link(ws, "dev@acme.example", hours=1, now=NOW + 2)
    newer = issue_link(ws, "dev@acme.example", hours=1, now=NOW + 3)
    assert invited_user(ws, reset.token, now=NOW + 4) is None  # retired by the newer link
    complete_signup(ws, newer.token, "the new long password", now=NOW + 5)
    assert find_session(ws, session.token) is None  # a password reset signs out everywhere
    with pytest.raises(Unauthenticated):
        sign_in(ws, "dev@acme.example", PASSWORD, client="c")
    with pytest.raises(UsageError, match="1 to"):
        issue_link(ws, "dev@acme.example", hours=0)


def test_link_when_tenant_deactivated_or_user_disabled_then_dead(ws):
    invite = _invite(ws)
    deactivate_tenant(ws, "acme")
    assert invited_user(ws, invite.token, now=NOW + 1) is None
    create_tenant(ws, "globex", plan="free", plans=["free"])
    other = create_user(ws, "o@globex.example", tenant="globex", role="owner", now=NOW)[1]
    disable_user(ws, "o@globex.example")
    with pytest.raises(Unauthenticated):
        complete_signup(ws, other.token, PASSWORD, now=NOW + 1)
    with pytest.raises(UsageError, match="disabled"):
        issue_link(ws, "o@globex.example")


def test_list_users_when_mixed_then_states_and_admin_only(ws):
    _invite(ws, "pending@acme.example")
    create_user(ws, "set@acme.example", tenant="acme", role="owner", password=PASSWORD)
    create_user(ws, "gone@acme.example", tenant="acme", role="owner", password=PASSWORD)
    disable_user(ws, "gone@acme.example")
    states = {u["email"]: u["state"] for u in list_users(ws, now=NOW + 1)}
    assert states == {
        "pending@acme.example": "link pending",
        "set@acme.example": "active",
        "gone@acme.example": "disabled",
    }
    ws.role = "engineer"
    with pytest.raises(PermissionDenied):
        list_users(ws)
    with pytest.raises(PermissionDenied):
        issue_link(ws, "set@acme.example")
