"""The API over a real uvicorn server on 127.0.0.1: auth, predictions, feedback, errors, PII."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from datawheel.serve.service import Clocks
from datawheel.serve.tenants import revoke_key
from datawheel.store.db import feedback, predictions

from .conftest import ROW, FakeClock


def test_predict_when_valid_key_then_label_probabilities_and_logged_without_pii(api):
    with api.client() as client:
        response = client.post("/v1/predict", json={"rows": [ROW, {**ROW, "age": 60}]})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "v1" and len(body["predictions"]) == 2
    first = body["predictions"][0]
    assert first["label"] in first["probabilities"]
    assert abs(sum(first["probabilities"].values()) - 1) < 1e-5
    api.flush()
    with api.ws.engine.connect() as conn:
        logged = conn.execute(sa.select(predictions.c.features, predictions.c.subject)).all()
    assert len(logged) == 2
    stored = repr([tuple(r) for r in logged])
    for raw in ("Ada Lovelace", "ada@example.com", "123-45-6789", "P999", "1 Main St"):
        assert raw not in stored
    assert logged[0].subject.startswith("SUBJECT_")


def test_predict_when_unknown_extra_field_then_ignored_and_never_stored(api):
    with api.client() as client:
        response = client.post("/v1/predict", json={"rows": [{**ROW, "notes": "ada@x.org"}]})
    assert response.status_code == 200
    api.flush()
    with api.ws.engine.connect() as conn:
        assert "ada@x.org" not in repr(conn.execute(sa.select(predictions.c.features)).all())


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),  # no key
        ({"Authorization": "Bearer nonsense"}, 401),  # malformed
        ({"Authorization": "Bearer dw_000000000000_wrong"}, 401),  # unknown
    ],
)
def test_predict_when_bad_credentials_then_401(api, headers, status):
    response = httpx.post(f"{api.url}/v1/predict", json={"rows": [ROW]}, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"


def test_predict_when_key_revoked_then_401(api):
    revoke_key(api.ws, api.keys["acme"].id)
    with api.client() as client:
        assert client.post("/v1/predict", json={"rows": [ROW]}).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),  # malformed JSON
        (b"", 400, None),  # empty body
        (b'{"rows": []}', 422, "rows"),  # no rows
        (b'{"rows": [{"age": 41}]}', 422, "sex"),  # missing fields: all are named
        (b'{"rows": "x"}', 422, "rows"),  # wrong type
        (b'{"rowz": []}', 422, "rowz"),  # unknown key
        (b"[1, 2]", 422, None),  # not an object
        (b'{"rows": [7]}', 422, "rows.0"),  # a row that is not an object
        (b'{"rows": [{"age": "41"}]}', 422, "rows.0"),  # a number sent as a string
        (b'{"rows": [{"age": 1e300}]}', 422, "rows.0.age"),  # overflows the model's float32
    ],
)
def test_predict_when_bad_body_then_4xx_with_json_error(api, body, status, field):
    if field == "rows.0" and b"age" in body:  # complete row with a bad age: named exactly
        body = _row_bytes(age="41")
        field = "rows.0.age"
    with api.client() as client:
        response = client.post(
            "/v1/predict", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"]
    if field:
        assert field in (error.get("field") or "") + error["message"]


def _row_bytes(**changes: object) -> bytes:
    import json

    return json.dumps({"rows": [{**ROW, **changes}]}).encode()


def test_predict_when_too_many_rows_then_422_on_rows(make_api):
    api = make_api(max_rows_per_request=3)
    with api.client() as client:
        response = client.post("/v1/predict", json={"rows": [ROW] * 4})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "rows"


def test_predict_when_body_over_limit_then_413_before_parsing(make_api):
    api = make_api(max_body_bytes=4096)
    big = b'{"rows": [' + b" " * 5000 + b"]}"
    with api.client() as client:
        declared = client.post("/v1/predict", content=big)

        def chunks():  # no Content-Length: a chunked body, counted while it is read
            for _ in range(10):
                yield b" " * 1000

        chunked = client.post("/v1/predict", content=chunks())
        feedback_too = client.post("/v1/feedback", content=big)
    for response in (declared, chunked, feedback_too):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"


def test_feedback_when_own_prediction_then_201_and_comment_scrubbed_of_pii(api):
    comment = "Wrong! Call me at 415-555-0132 or write to ada.lovelace@example.com please"
    with api.client() as client:
        prediction = client.post("/v1/predict", json={"rows": [ROW]}).json()["predictions"][0]
        response = client.post(
            "/v1/feedback",
            json={"prediction_id": prediction["id"], "label": ">50K",
                  "issue": "wrong_prediction", "rating": 2, "comment": comment},
        )  # fmt: skip
    assert response.status_code == 201
    with api.ws.engine.connect() as conn:
        row = conn.execute(sa.select(feedback)).one()
    assert row.label == ">50K" and row.prediction_id == prediction["id"]
    assert "415-555-0132" not in row.comment and "ada.lovelace@example.com" not in row.comment
    assert "[EMAIL]" in row.comment and "[PHONE]" in row.comment
    assert row.comment.startswith("Wrong! Call me at")


def test_feedback_when_other_tenants_prediction_then_404(api):
    with api.client("acme") as client:
        prediction = client.post("/v1/predict", json={"rows": [ROW]}).json()["predictions"][0]
    with api.client("globex") as client:
        response = client.post(
            "/v1/feedback", json={"prediction_id": prediction["id"], "label": ">50K"}
        )
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "prediction_id"


def test_feedback_when_unknown_label_then_422_names_classes(api):
    with api.client() as client:
        prediction = client.post("/v1/predict", json={"rows": [ROW]}).json()["predictions"][0]
        response = client.post(
            "/v1/feedback", json={"prediction_id": prediction["id"], "label": "rich"}
        )
    assert response.status_code == 422
    assert ">50K" in response.json()["error"]["message"]


# role → (predict, explain-or-feedback, models, usage) expectations
@pytest.mark.parametrize(
    ("role", "method", "path", "status"),
    [
        ("service", "POST", "/v1/predict", 200),  # services predict
        ("service", "GET", "/v1/models", 403),  # … but do not read
        ("service", "GET", "/v1/usage", 403),
        ("analyst", "POST", "/v1/predict", 403),  # analysts only read
        ("analyst", "POST", "/v1/feedback", 403),
        ("analyst", "GET", "/v1/models", 200),
        ("analyst", "GET", "/v1/usage", 200),
        ("engineer", "POST", "/v1/predict", 200),  # engineers predict and read
        ("engineer", "POST", "/v1/feedback", 403),  # … but do not label
        ("engineer", "GET", "/v1/models", 200),
        ("admin", "POST", "/v1/predict", 200),  # admins do everything
        ("admin", "GET", "/v1/usage", 200),
    ],
)
def test_roles_when_calling_endpoint_then_allowed_or_403(api, role, method, path, status):
    body = {"rows": [ROW]} if path == "/v1/predict" else {"prediction_id": "x", "label": ">50K"}
    with api.client(role) as client:
        response = client.request(method, path, json=body if method == "POST" else None)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["error"]["code"] == "forbidden"


def test_auth_cache_when_key_revoked_then_refused_once_the_ttl_passes(make_api):
    clock = FakeClock()
    api = make_api(clocks=Clocks(monotonic=clock), auth_cache_seconds=5.0)
    with api.client() as client:
        assert client.post("/v1/predict", json={"rows": [ROW]}).status_code == 200
        revoke_key(api.ws, api.keys["acme"].id)
        clock.advance(4.0)  # still inside the cache's TTL: the verdict is remembered
        assert client.post("/v1/predict", json={"rows": [ROW]}).status_code == 200
        clock.advance(1.5)  # past it: the database says revoked
        assert client.post("/v1/predict", json={"rows": [ROW]}).status_code == 401


def test_health_readiness_and_docs(api):
    assert httpx.get(f"{api.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{api.url}/readyz").json()
    assert ready == {"status": "ready", "model_version": "v1"}
    assert httpx.get(f"{api.url}/docs").status_code == 200
    schema = httpx.get(f"{api.url}/openapi.json").json()
    row = schema["components"]["schemas"]["PredictRow"]
    assert {"age", "sex", "hours_per_week"} <= set(row["required"])
    assert "email" in row["properties"] and "email" not in row["required"]


def test_unhandled_error_on_a_framework_route_then_one_json_500_logged_and_counted(api, caplog):
    """The fast lane sits outside FastAPI's error middleware: it must log and count the error
    without answering a second time, so the client gets the JSON 500 FastAPI sent."""

    def boom() -> None:
        raise RuntimeError("a bug in a handler")

    api.servers[0].app.add_api_route("/boom", boom)
    with httpx.Client(base_url=api.url, timeout=10) as client:
        failed = client.get("/boom")
        after = client.get("/healthz")
        metrics = client.get("/metrics").text
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "internal"
    assert after.status_code == 200
    assert 'datawheel_errors_total{code="internal",endpoint="other"} 1.0' in metrics
    assert "a bug in a handler" in caplog.text


def test_openapi_when_read_then_lists_error_answers_and_label_values(api):
    schema = httpx.get(f"{api.url}/openapi.json").json()
    for path in ("/v1/predict", "/v1/explain", "/v1/feedback"):
        answers = schema["paths"][path]["post"]["responses"]
        assert {"400", "401", "403", "413", "415", "422", "429"} <= set(answers), path
        assert "Retry-After" in answers["429"]["headers"]
        assert answers["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorBody"
        )
    for path in ("/v1/models", "/v1/usage"):
        assert {"401", "403", "429"} <= set(schema["paths"][path]["get"]["responses"])
    label = schema["components"]["schemas"]["FeedbackRequest"]["properties"]["label"]
    assert set(label["enum"]) == {"<=50K", ">50K", None}


@pytest.mark.parametrize("path", ["/v1/predict", "/v1/explain"])
def test_predict_when_wrong_content_type_then_415(api, path):
    with api.client() as client:
        response = client.post(path, content=b"rows=1", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
