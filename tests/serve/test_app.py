"""The API over a real uvicorn server on 127.0.0.1: auth, predictions, feedback, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from datawheel.pipeline import Project
from datawheel.serve.app import create_app
from datawheel.serve.server import BackgroundServer
from datawheel.serve.tenants import create_key, create_tenant, revoke_key
from datawheel.store.db import feedback, predictions

ROW = {
    "person_id": "P999",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "555-010-9999",
    "address": "1 Main St",
    "ssn": "123-45-6789",
    "age": 41,
    "workclass": "Private",
    "education": "Masters",
    "education_num": 14,
    "marital_status": "Never-married",
    "occupation": "Prof-specialty",
    "relationship": "Not-in-family",
    "race": "White",
    "sex": "Female",
    "capital_gain": 0,
    "capital_loss": 0,
    "hours_per_week": 45,
    "native_country": "United-States",
}


@pytest.fixture
def api(project_copy: Path) -> Iterator[dict]:
    project = Project.load(project_copy)
    ws = project.open_workspace()
    plans = list(project.config.serve.plans)
    create_tenant(ws, "acme", plan="pro", plans=plans)
    create_tenant(ws, "globex", plan="free", plans=plans)
    keys = {"acme": create_key(ws, tenant="acme"), "globex": create_key(ws, tenant="globex")}
    server = BackgroundServer(create_app(project.config, project.open_workspace())).start()
    try:
        yield {"url": server.url, "keys": keys, "ws": ws}
    finally:
        server.stop()
        ws.close()


def _client(api: dict, tenant: str = "acme") -> httpx.Client:
    key = api["keys"][tenant].secret
    return httpx.Client(base_url=api["url"], headers={"Authorization": f"Bearer {key}"})


def test_predict_when_valid_key_then_label_probabilities_and_logged_without_pii(api):
    with _client(api) as client:
        response = client.post("/v1/predict", json={"rows": [ROW, {**ROW, "age": 60}]})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "v1" and len(body["predictions"]) == 2
    first = body["predictions"][0]
    assert first["label"] in first["probabilities"]
    assert abs(sum(first["probabilities"].values()) - 1) < 1e-5
    with api["ws"].engine.connect() as conn:
        logged = conn.execute(sa.select(predictions.c.features, predictions.c.subject)).all()
    stored = repr([tuple(r) for r in logged])
    for raw in ("Ada Lovelace", "ada@example.com", "123-45-6789", "P999", "1 Main St"):
        assert raw not in stored
    assert logged[0].subject.startswith("SUBJECT_")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),  # no key
        ({"Authorization": "Bearer nonsense"}, 401),  # malformed
        ({"Authorization": "Bearer dw_000000000000_wrong"}, 401),  # unknown
    ],
)
def test_predict_when_bad_credentials_then_401(api, headers, status):
    response = httpx.post(f"{api['url']}/v1/predict", json={"rows": [ROW]}, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == "unauthenticated"


def test_predict_when_key_revoked_then_401(api):
    revoke_key(api["ws"], api["keys"]["acme"].id)
    with _client(api) as client:
        assert client.post("/v1/predict", json={"rows": [ROW]}).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),  # malformed JSON
        (b'{"rows": []}', 422, "rows"),  # no rows
        (b'{"rows": [{"age": 41}]}', 422, "sex"),  # missing fields: the first one is named
        (b'{"rows": "x"}', 422, "rows"),  # wrong type
        (b'{"rowz": []}', 422, None),  # unknown key
    ],
)
def test_predict_when_bad_body_then_4xx_with_json_error(api, body, status, field):
    with _client(api) as client:
        response = client.post(
            "/v1/predict", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"]
    if field:
        assert field in (error.get("field") or "") + error["message"]


def test_feedback_when_own_prediction_then_201_and_stored(api):
    with _client(api) as client:
        prediction = client.post("/v1/predict", json={"rows": [ROW]}).json()["predictions"][0]
        response = client.post(
            "/v1/feedback",
            json={
                "prediction_id": prediction["id"],
                "label": ">50K",
                "issue": "wrong_prediction",
                "rating": 2,
            },
        )
    assert response.status_code == 201
    with api["ws"].engine.connect() as conn:
        row = conn.execute(sa.select(feedback)).one()
    assert row.label == ">50K" and row.prediction_id == prediction["id"]


def test_feedback_when_other_tenants_prediction_then_404(api):
    with _client(api, "acme") as client:
        prediction = client.post("/v1/predict", json={"rows": [ROW]}).json()["predictions"][0]
    with _client(api, "globex") as client:
        response = client.post(
            "/v1/feedback", json={"prediction_id": prediction["id"], "label": ">50K"}
        )
    assert response.status_code == 404


def test_feedback_when_unknown_label_then_422_names_classes(api):
    with _client(api) as client:
        prediction = client.post("/v1/predict", json={"rows": [ROW]}).json()["predictions"][0]
        response = client.post(
            "/v1/feedback", json={"prediction_id": prediction["id"], "label": "rich"}
        )
    assert response.status_code == 422
    assert ">50K" in response.json()["error"]["message"]


def test_healthz_when_up_then_ok(api):
    assert httpx.get(f"{api['url']}/healthz").json() == {"status": "ok"}


def test_predict_when_champion_promoted_then_served_live_without_restart(api):
    from datawheel.registry import get_version, load_model, promote, register_model

    ws = api["ws"]
    v1 = get_version(ws, "v1")
    v2 = register_model(
        ws,
        load_model("v1", workspace=ws.root),
        dataset_id=v1.dataset_id,
        eval_dataset_id=None,
        metrics={},
        fairness={},
    )
    with _client(api) as client:
        assert client.post("/v1/predict", json={"rows": [ROW]}).json()["model_version"] == "v1"
        promote(ws, v2.id)
        seen = set()
        for _ in range(40):  # the server re-reads the registry every 0.5 s
            response = client.post("/v1/predict", json={"rows": [ROW]})
            assert response.status_code == 200
            seen.add(response.json()["model_version"])
            if "v2" in seen:
                break
            import time

            time.sleep(0.05)
    assert "v2" in seen
