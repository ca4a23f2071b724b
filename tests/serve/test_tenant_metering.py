"""What the console reads from the serving path, through a real server: each tenant's errors
per day (4xx and 5xx once the key is known), when each key was last used, and plans made in
the console serving their limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from datawheel.serve.plans import plan_names, save_plan
from datawheel.serve.tenants import set_plan
from datawheel.store.db import api_key_usage, tenants, usage

from .conftest import ROW


def _tenant_id(api, name: str) -> str:
    with api.ws.engine.connect() as conn:
        return conn.execute(sa.select(tenants.c.id).where(tenants.c.name == name)).scalar_one()


def _counts(api, tenant: str) -> dict[str, tuple[int, int, int]]:
    with api.ws.engine.connect() as conn:
        rows = conn.execute(sa.select(usage).where(usage.c.tenant_id == _tenant_id(api, tenant)))
        return {r.endpoint: (r.requests, r.client_errors, r.server_errors) for r in rows}


def test_errors_when_requests_refused_then_counted_per_tenant_and_endpoint(api):
    with api.client("acme") as acme, api.client("analyst") as analyst:
        assert acme.post("/v1/predict", json={"rows": [ROW]}).status_code == 200
        assert acme.post("/v1/predict", json={"rows": [{**ROW, "age": "x"}]}).status_code == 422
        assert acme.post("/v1/predict", content=b"{not json").status_code == 400
        assert analyst.post("/v1/predict", json={"rows": [ROW]}).status_code == 403  # role
        missing = {"prediction_id": "f" * 32, "label": ">50K"}
        assert acme.post("/v1/feedback", json=missing).status_code == 404
    with api.client("globex") as globex:
        headers = {"Authorization": "Bearer dw_nobody_nothing"}  # whose? nobody's: not counted
        assert globex.post("/v1/predict", json={"rows": [ROW]}, headers=headers).status_code == 401
    api.flush()
    assert _counts(api, "acme") == {"predict": (1, 3, 0), "feedback": (0, 1, 0)}
    assert _counts(api, "globex") == {}


def test_last_used_when_a_key_calls_then_recorded_once_per_cache_period(api):
    auth = api.service().auth
    told: list[str] = []
    queue = auth.on_use
    auth.on_use = lambda key_id, at: (told.append(key_id), queue(key_id, at))
    with api.client("acme") as acme:
        for _ in range(5):
            assert acme.post("/v1/predict", json={"rows": [ROW]}).status_code == 200
    api.flush()
    with api.ws.engine.connect() as conn:
        used = dict(
            conn.execute(sa.select(api_key_usage.c.key_id, api_key_usage.c.last_used_at)).all()
        )
    assert told == [api.keys["acme"].id]  # one check against the database in the cache's ttl
    assert set(used) == {api.keys["acme"].id}  # the other keys never called
    at = datetime.fromisoformat(used[api.keys["acme"].id])
    assert datetime.now(UTC) - timedelta(hours=1) < at <= datetime.now(UTC)


def test_plan_when_made_in_the_console_then_its_limits_are_served(make_api):
    api = make_api(auth_cache_seconds=0.0)
    config = api.project.config.model_copy(deep=True)
    config.serve = config.serve.model_copy(update={"plans": {}})  # the plan exists only here
    save_plan(api.ws, config, "trial", {"requests_per_minute": 1000, "monthly_quota": 3})
    set_plan(api.ws, "globex", "trial", plans=plan_names(api.ws, config))
    with api.client("globex") as globex:
        assert globex.post("/v1/predict", json={"rows": [ROW] * 3}).status_code == 200
        refused = globex.post("/v1/predict", json={"rows": [ROW]})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "quota_exceeded"
    api.flush()
    assert _counts(api, "globex")["predict"] == (1, 1, 0)  # the refusal is the tenant's error
