"""``datawheel.Client`` and ``AsyncClient`` against a real server: calls, typed errors with the
API's code and field, and retries that wait as ``Retry-After`` says."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from datawheel.client import ApiError, AsyncClient, Client


@pytest.fixture(scope="module")
def api(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    import shutil

    from datawheel.config import PlanConfig, load_config
    from datawheel.registry.versions import champion
    from datawheel.serve.app import create_app
    from datawheel.serve.background import BackgroundServer
    from datawheel.serve.tenants import create_key, create_tenant
    from datawheel.store.workspace import Workspace

    root = tmp_path_factory.mktemp("client") / "income"
    shutil.copytree(trained_project.parent, root)
    config = load_config(root / "datawheel.yaml", check_source=False)
    config.serve.plans["tiny"] = PlanConfig(requests_per_minute=60, monthly_quota=1_000_000)
    ws = Workspace.open(root / ".datawheel", key_dir=root, actor="api")
    plans = list(config.serve.plans)
    create_tenant(ws, "acme", plan="pro", plans=plans)
    create_tenant(ws, "slow", plan="tiny", plans=plans)
    keys = {
        "service": create_key(ws, tenant="acme", role="service").secret,
        "analyst": create_key(ws, tenant="acme", role="analyst").secret,
        "tiny": create_key(ws, tenant="slow", role="service").secret,
    }
    schema = champion(ws).input_schema
    row = {name: (40 if kind == "number" else "Private") for name, kind in schema.items()}
    with BackgroundServer(create_app(config, ws)) as server:
        yield {"url": server.url, "keys": keys, "row": row}
    ws.close()


def test_client_when_predicting_explaining_and_giving_feedback_then_answers_typed_json(api):
    with Client(api["url"], api["keys"]["service"]) as client:
        answer = client.predict([api["row"], api["row"]])
        why = client.explain([api["row"]])
        feedback_id = client.feedback(answer["predictions"][0]["id"], issue="slow", rating=4)
    assert len(answer["predictions"]) == 2 and answer["model_version"] == "v1"
    assert set(why["explanations"][0]["values"]) == set(api["row"])
    assert feedback_id
    with Client(api["url"], api["keys"]["analyst"]) as client:
        usage = client.usage()
    assert usage["tenant"] == "acme" and usage["endpoints"]["predict"]["rows"] >= 2


def test_client_when_a_field_is_wrong_then_api_error_carries_code_and_field(api):
    number = next(k for k, v in api["row"].items() if v == 40)
    with Client(api["url"], api["keys"]["service"]) as client, pytest.raises(ApiError) as caught:
        client.predict([{**api["row"], number: "forty"}])
    assert caught.value.status == 422
    assert caught.value.field == f"rows.0.{number}"
    assert caught.value.code


def test_client_when_key_is_wrong_or_role_too_small_then_401_and_403(api):
    with Client(api["url"], "dw_nope_nope") as client, pytest.raises(ApiError) as caught:
        client.predict([api["row"]])
    assert caught.value.status == 401
    with Client(api["url"], api["keys"]["service"]) as client, pytest.raises(ApiError) as caught:
        client.usage()
    assert caught.value.status == 403


def test_client_when_rate_limited_then_waits_as_retry_after_says_and_succeeds(api):
    statuses: list[int] = []
    with Client(api["url"], api["keys"]["tiny"]) as client:
        client._http.event_hooks["response"] = [lambda r: statuses.append(r.status_code)]
        for _ in range(61):  # the bucket holds 60: at least one call meets a 429 and retries
            assert client.predict([api["row"]])["predictions"]
    assert 429 in statuses and statuses[-1] == 200


def test_client_when_wait_would_be_too_long_then_raises_with_retry_after(api):
    client = Client(api["url"], api["keys"]["tiny"], max_wait=0.0)
    with client, pytest.raises(ApiError) as caught:
        for _ in range(70):
            client.predict([api["row"]])
    assert caught.value.status == 429 and caught.value.code == "rate_limited"
    assert caught.value.retry_after and caught.value.retry_after >= 1


def test_async_client_when_used_then_same_answers(api):
    async def run() -> tuple[dict, dict]:
        async with AsyncClient(api["url"], api["keys"]["service"]) as client:
            return await asyncio.gather(client.predict([api["row"]]), client.explain([api["row"]]))

    predicted, explained = asyncio.run(run())
    assert predicted["predictions"][0]["label"] and explained["explanations"]
