"""Console accounts on a real database: argon2id hashes, sessions, rotation, expiry, the
sign-in rate limit, and the audit trail with the user's name."""

from __future__ import annotations

import pytest

from datawheel.console.accounts import (
    MAX_FAILURES,
    SESSION_SECONDS,
    as_user,
    can,
    create_user,
    end_session,
    find_session,
    sign_in,
)
from datawheel.errors import NotFoundError, PermissionDenied, Unauthenticated, UsageError
from datawheel.serve.tenants import create_tenant
from datawheel.store import audit as audit_log
from datawheel.store.db import users
from datawheel.store.roles import allowed

PASSWORD = "a long enough password"


@pytest.fixture
def ws(workspace):
    create_tenant(workspace, "acme", plan="free", plans=["free"])
    return workspace


def test_create_user_when_made_then_only_an_argon2id_hash_is_stored_and_audited(ws):
    create_user(ws, "Ana@Acme.Example", tenant="acme", role="owner", password=PASSWORD)
    with ws.engine.connect() as conn:
        row = conn.execute(users.select()).one()
    assert row.email == "ana@acme.example"
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    entry = audit_log.entries(ws.engine, action="user.create")[-1]
    assert entry.target == "ana@acme.example" and entry.details["role"] == "owner"


def test_create_user_when_no_password_given_then_a_link_and_no_password_works(ws):
    _id, invite = create_user(ws, "dev@acme.example", tenant="acme", role="developer")
    assert invite is not None and len(invite.token) >= 40
    assert invite.url("https://c.example/").startswith("https://c.example/console/signup/")
    with pytest.raises(Unauthenticated):  # not even an empty one
        sign_in(ws, "dev@acme.example", "", client="c")
    entry = audit_log.entries(ws.engine, action="user.create")[-1]
    assert entry.details["with"] == "sign-up link" and invite.token not in str(entry.details)


@pytest.mark.parametrize(
    ("email", "tenant", "role", "password", "error"),
    [
        ("not-an-address", "acme", "owner", PASSWORD, UsageError),
        ("a@acme.example", "acme", "admin", PASSWORD, UsageError),  # operator role, customer
        ("a@acme.example", "operators", "owner", PASSWORD, UsageError),
        ("a@acme.example", "nobody", "owner", PASSWORD, NotFoundError),
        ("a@acme.example", "acme", "owner", "short", UsageError),
    ],
)
def test_create_user_when_input_is_wrong_then_a_clear_error(
    ws, email, tenant, role, password, error
):
    with pytest.raises(error):
        create_user(ws, email, tenant=tenant, role=role, password=password)


def test_create_user_when_email_taken_then_refused(ws):
    create_user(ws, "a@acme.example", tenant="acme", role="owner", password=PASSWORD)
    with pytest.raises(UsageError, match="already exists"):
        create_user(ws, "A@acme.example", tenant="operators", role="admin", password=PASSWORD)


def test_sign_in_when_repeated_then_each_session_is_new_and_expires(ws):
    create_user(ws, "a@acme.example", tenant="acme", role="owner", password=PASSWORD)
    first = sign_in(ws, "a@acme.example", PASSWORD, client="c", now=1000.0)
    second = sign_in(ws, "a@acme.example", PASSWORD, client="c", now=1000.0)
    assert first.token != second.token and first.csrf != second.csrf
    found = find_session(ws, first.token, now=1001.0)
    assert found is not None and found.user.tenant == "acme"
    assert find_session(ws, first.token, now=1000.0 + SESSION_SECONDS + 1) is None
    assert find_session(ws, "forged", now=1001.0) is None


def test_sign_out_when_done_then_the_token_is_worthless(ws):
    create_user(ws, "a@acme.example", tenant="acme", role="owner", password=PASSWORD)
    session = sign_in(ws, "a@acme.example", PASSWORD, client="c")
    end_session(ws, session)
    assert find_session(ws, session.token) is None
    actors = {e.actor for e in audit_log.entries(ws.engine)}
    assert "user:a@acme.example" in actors


def test_sign_in_when_wrong_too_often_then_refused_even_with_the_right_password(ws):
    create_user(ws, "a@acme.example", tenant="acme", role="owner", password=PASSWORD)
    for _ in range(MAX_FAILURES):
        with pytest.raises(Unauthenticated):
            sign_in(ws, "a@acme.example", "wrong password!", client="c", now=5000.0)
    with pytest.raises(PermissionDenied, match="too many"):
        sign_in(ws, "a@acme.example", PASSWORD, client="other", now=5001.0)
    later = sign_in(ws, "a@acme.example", PASSWORD, client="c", now=5000.0 + 16 * 60)
    assert later.user.email == "a@acme.example"


def test_sign_in_when_tenant_deactivated_then_refused(ws):
    from sqlalchemy import update

    from datawheel.store.db import tenants

    create_user(ws, "a@acme.example", tenant="acme", role="owner", password=PASSWORD)
    session = sign_in(ws, "a@acme.example", PASSWORD, client="c")
    with ws.engine.begin() as conn:
        conn.execute(update(tenants).values(active=False))
    assert find_session(ws, session.token) is None
    with pytest.raises(Unauthenticated):
        sign_in(ws, "a@acme.example", PASSWORD, client="c")


def test_roles_when_checked_then_customers_never_operate_and_analysts_never_promote(ws):
    create_user(ws, "o@acme.example", tenant="acme", role="owner", password=PASSWORD)
    create_user(ws, "an@team.example", tenant="operators", role="analyst", password=PASSWORD)
    create_user(ws, "en@team.example", tenant="operators", role="engineer", password=PASSWORD)
    owner, analyst, engineer = (
        sign_in(ws, e, PASSWORD, client="c").user
        for e in ("o@acme.example", "an@team.example", "en@team.example")
    )
    assert can(owner, "keys") and can(owner, "customer") and not can(owner, "operate")
    assert not can(owner, "promote") and not can(analyst, "promote") and can(engineer, "promote")
    assert can(engineer, "train") and not can(analyst, "train") and not can(owner, "train")
    assert not any(can(u, a) for u in (owner, analyst, engineer) for a in ("tenants", "users"))
    assert can(analyst, "operate") and not can(analyst, "customer")
    assert as_user(ws, engineer).actor == "user:en@team.example"
    customer = as_user(ws, owner)  # its console role, scoped to its tenant: no workspace action
    assert customer.role == "owner" and customer.tenant_id == owner.tenant_id
    assert not any(allowed("owner", a) for a in ("read", "train", "keys", "promote", "erase"))
    assert ws.actor != "user:en@team.example"  # the shared workspace is untouched
