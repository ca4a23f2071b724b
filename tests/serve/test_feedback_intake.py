"""/v1/feedback under a real server: every free-text field scrubbed, a closed vocabulary when
configured, and the same path for another tenant's prediction as for an unknown id."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from datawheel.store.db import feedback

from .conftest import ROW


def _prediction(api, tenant: str = "acme") -> str:
    with api.client(tenant) as client:
        return client.post("/v1/predict", json={"rows": [ROW]}).json()["predictions"][0]["id"]


def test_feedback_when_issue_holds_pii_then_stored_scrubbed(api):
    pid = _prediction(api)
    with api.client() as client:
        response = client.post(
            "/v1/feedback",
            json={"prediction_id": pid, "issue": "call 415-555-0132 or ada@example.com"},
        )
    assert response.status_code == 201
    with api.ws.engine.connect() as conn:
        stored = conn.execute(sa.select(feedback.c.issue)).scalar_one()
    assert "415-555-0132" not in stored and "ada@example.com" not in stored
    assert "[PHONE]" in stored and "[EMAIL]" in stored


def test_feedback_when_issue_vocabulary_configured_then_other_values_422(make_api):
    api = make_api(feedback_issues=["wrong_prediction", "slow"])
    pid = _prediction(api)
    with api.client() as client:
        refused = client.post("/v1/feedback", json={"prediction_id": pid, "issue": "John Smith"})
        accepted = client.post("/v1/feedback", json={"prediction_id": pid, "issue": "slow"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "issue"
    assert "slow, wrong_prediction" in refused.json()["error"]["message"]
    assert accepted.status_code == 201


def test_feedback_when_other_tenants_or_unknown_id_then_same_answer_by_the_same_queries(api):
    theirs = _prediction(api, "acme")
    api.flush()  # its log row is written: only the lookups are left to observe
    engine = api.service().ws.engine
    statements: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(_conn, _cursor, statement, _params, _context, _many):
        if statement.startswith("SELECT") and "predictions" in statement:
            statements.append(statement)

    answers = []
    for pid in (theirs, "f" * len(theirs)):
        statements.clear()
        with api.client("globex") as client:
            response = client.post("/v1/feedback", json={"prediction_id": pid, "label": ">50K"})
        answers.append((response.status_code, re.sub(pid, "ID", response.text), list(statements)))
    sa.event.remove(engine, "before_cursor_execute", record)
    assert answers[0] == answers[1]
    assert answers[0][0] == 404 and len(answers[0][2]) == 2  # looked up twice, alike


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_feedback_when_wrong_content_type_then_415(api, content_type):
    with api.client() as client:
        response = client.post(
            "/v1/feedback",
            content=b'{"prediction_id": "x"}',
            headers={"Content-Type": content_type},
        )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_feedback_when_json_with_charset_then_accepted(api):
    pid = _prediction(api)
    with api.client() as client:
        response = client.post(
            "/v1/feedback",
            content=f'{{"prediction_id": "{pid}"}}'.encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
    assert response.status_code == 201
