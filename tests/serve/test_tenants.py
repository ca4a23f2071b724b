"""Tenants and API keys: only the admin manages them, a key works only if it was minted with
the secret key, keys expire, tenants can be deactivated or moved to another plan."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from datawheel.errors import NotFoundError, PermissionDenied, Unauthenticated, UsageError
from datawheel.serve.tenants import (
    AuthCache,
    authenticate,
    create_key,
    create_tenant,
    deactivate_tenant,
    list_keys,
    set_plan,
    sign_legacy_keys,
)
from datawheel.store import credentials
from datawheel.store.audit import entries
from datawheel.store.db import api_keys, audit, now_iso, tenants

PLANS = ["free", "pro"]
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def acme(workspace):
    create_tenant(workspace, "acme", plan="free", plans=PLANS)
    return workspace


def _count(ws, table) -> int:
    with ws.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def _insert_raw_key(ws, *, role: str, tenant: str = "acme", mac: str | None = None) -> str:
    """A key row as someone with database write access but no secret key would write it."""
    key_id = secrets.token_hex(6)
    secret = f"dw_{key_id}_{secrets.token_urlsafe(24)}"
    with ws.engine.begin() as conn:
        tenant_id = conn.execute(sa.select(tenants.c.id).where(tenants.c.name == tenant)).scalar()
        conn.execute(
            sa.insert(api_keys).values(id=key_id, tenant_id=tenant_id, role=role,
                                       key_hash=credentials.key_digest(secret),
                                       created_at=now_iso(), key_mac=mac)
        )  # fmt: skip
    return secret


@pytest.mark.parametrize("role", ["engineer", "analyst", "service", None])
def test_key_management_when_not_admin_then_refused_before_anything(acme, role):
    acme.role = role
    before = (_count(acme, api_keys), _count(acme, tenants), _count(acme, audit))
    with pytest.raises(PermissionDenied):
        create_key(acme, tenant="acme", role="admin")
    with pytest.raises(PermissionDenied):
        create_tenant(acme, "globex", plan="free", plans=PLANS)
    with pytest.raises(PermissionDenied):
        deactivate_tenant(acme, "acme")
    with pytest.raises(PermissionDenied):
        set_plan(acme, "acme", "pro", plans=PLANS)
    with pytest.raises(PermissionDenied):
        list_keys(acme)
    assert (_count(acme, api_keys), _count(acme, tenants), _count(acme, audit)) == before


def test_create_key_when_admin_then_it_authenticates_and_is_audited(acme):
    key = create_key(acme, tenant="acme", role="service")
    who = authenticate(acme, key.secret)
    assert (who.key_id, who.tenant, who.role, who.expires) == (key.id, "acme", "service", None)
    created = entries(acme.engine, action="key.create")[-1]
    assert created.target == key.id and created.details["role"] == "service"
    assert created.actor.endswith("/admin via cli")


def test_key_row_when_written_without_the_secret_key_then_refused(acme):
    forged = _insert_raw_key(acme, role="admin", mac="0" * 64)
    with pytest.raises(Unauthenticated):
        authenticate(acme, forged)


@pytest.mark.parametrize(
    ("column", "value"), [("role", "admin"), ("tenant_id", "t_other"), ("expires_at", None)]
)
def test_key_row_when_edited_in_the_database_then_refused(acme, column, value):
    create_tenant(acme, "other", plan="free", plans=PLANS)
    key = create_key(acme, tenant="acme", role="service", expires="2099-12-31")
    if column == "tenant_id":
        with acme.engine.connect() as conn:
            value = conn.execute(sa.select(tenants.c.id).where(tenants.c.name == "other")).scalar()
    with acme.engine.begin() as conn:
        conn.execute(sa.update(api_keys).where(api_keys.c.id == key.id).values({column: value}))
    with pytest.raises(Unauthenticated):
        authenticate(acme, key.secret)


def test_legacy_keys_when_first_seen_with_the_key_then_signed_once(acme):
    old = _insert_raw_key(acme, role="service")  # minted by a datawheel before key MACs
    assert sign_legacy_keys(acme) != []
    assert authenticate(acme, old).role == "service"
    later = _insert_raw_key(acme, role="admin")  # slipped in afterwards: never signed
    assert sign_legacy_keys(acme) == []
    with pytest.raises(Unauthenticated):
        authenticate(acme, later)
    statuses = {k.role: k.status for k in list_keys(acme)}
    assert statuses == {"service": "active", "admin": "unsigned"}


def test_expiry_when_day_passed_then_refused_and_cached_verdict_too(acme):
    key = create_key(acme, tenant="acme", expires="2026-06-30", now=NOW)
    end = datetime(2026, 7, 1, tzinfo=UTC).timestamp()
    assert authenticate(acme, key.secret, now=end - 1).key_id == key.id
    with pytest.raises(Unauthenticated, match="expired"):
        authenticate(acme, key.secret, now=end)
    wall = [end - 1]
    cache = AuthCache(acme, ttl=3600, clock=lambda: 0.0, wall=lambda: wall[0])
    assert cache.authenticate(key.secret).key_id == key.id
    wall[0] = end
    with pytest.raises(Unauthenticated, match="expired"):
        cache.authenticate(key.secret)


@pytest.mark.parametrize(("expires", "message"), [("2026-05-31", "past"), ("31/12/2026", "YYYY")])
def test_expiry_when_past_or_malformed_then_usage_error(acme, expires, message):
    with pytest.raises(UsageError, match=message):
        create_key(acme, tenant="acme", expires=expires, now=NOW)


def test_list_keys_when_mixed_then_status_of_each_and_tenant_filter(acme):
    create_tenant(acme, "globex", plan="pro", plans=PLANS)
    active = create_key(acme, tenant="acme", role="service")
    revoked = create_key(acme, tenant="acme", role="analyst")
    from datawheel.serve.tenants import revoke_key

    revoke_key(acme, revoked.id)
    expiring = create_key(
        acme, tenant="globex", expires=(datetime.now(UTC) + timedelta(days=1)).date()
    )
    listed = {k.id: k for k in list_keys(acme)}
    assert listed[active.id].status == "active" and listed[revoked.id].status == "revoked"
    later = datetime.now(UTC) + timedelta(days=3)
    assert {k.id: k.status for k in list_keys(acme, now=later)}[expiring.id] == "expired"
    assert [k.id for k in list_keys(acme, tenant="globex")] == [expiring.id]
    with pytest.raises(NotFoundError):
        list_keys(acme, tenant="nobody")


def test_deactivate_tenant_when_done_then_its_keys_refused_and_audited(acme):
    key = create_key(acme, tenant="acme")
    deactivate_tenant(acme, "acme")
    with pytest.raises(Unauthenticated):
        authenticate(acme, key.secret)
    assert entries(acme.engine, action="tenant.deactivate")[-1].details == {"name": "acme"}
    with pytest.raises(UsageError, match="already"):
        deactivate_tenant(acme, "acme")
    with pytest.raises(UsageError, match="deactivated"):
        create_key(acme, tenant="acme")


def test_set_plan_when_known_plan_then_keys_carry_it_and_audited(acme):
    key = create_key(acme, tenant="acme")
    assert set_plan(acme, "acme", "pro", plans=PLANS) == "free"
    assert authenticate(acme, key.secret).plan == "pro"
    change = entries(acme.engine, action="tenant.set_plan")[-1].details
    assert change == {"name": "acme", "from": "free", "to": "pro"}
    with pytest.raises(UsageError, match="unknown plan"):
        set_plan(acme, "acme", "gold", plans=PLANS)
