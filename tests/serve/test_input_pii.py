"""A model input field that no privacy rule covers and that receives PII: warned once, in the
logs and in `datawheel status`, without the value."""

from __future__ import annotations

import logging

from datawheel.project.status import project_status
from datawheel.serve.input_pii import input_pii_warnings
from waiting import wait_until

from .conftest import ROW

LEAK = "John Smith, john.smith@example.com"


def _wait_for_warning(api, field: str) -> dict:
    def recorded() -> dict | None:
        api.flush()
        return input_pii_warnings(api.ws.engine).get(field)

    return wait_until(recorded, what=f"a warning about {field!r}")


def test_input_field_when_pii_arrives_then_warned_once_in_logs_and_status(api, caplog):
    caplog.set_level(logging.WARNING, logger="datawheel.serve.input_pii")
    service = api.service()
    assert "occupation" in service.input_pii.fields  # categorical, no privacy rule
    assert "email" not in service.input_pii.fields  # pseudonymized before the model sees it
    with api.client() as client:
        assert client.post("/v1/predict", json={"rows": [ROW]}).status_code == 200
        bad = {**ROW, "occupation": LEAK}
        assert client.post("/v1/predict", json={"rows": [bad]}).status_code == 200
        seen = _wait_for_warning(api, "occupation")
        assert "EMAIL" in seen["types"] and seen["model_version"] == "v1"
        worse = {**ROW, "occupation": "call 415-555-0132"}
        assert client.post("/v1/explain", json={"rows": [worse]}).status_code == 200
    api.flush()
    warnings = [r for r in caplog.records if "occupation" in r.getMessage()]
    assert len(warnings) == 1
    assert LEAK not in caplog.text and "john.smith" not in caplog.text  # never the value
    assert "occupation" not in service.input_pii.fields  # no more scanning for it
    status = project_status(api.ws, api.project.config)
    assert any("'occupation'" in a and "privacy.columns" in a for a in status["alerts"])


def test_input_field_when_known_categories_only_then_nothing_scanned(api, monkeypatch):
    import datawheel.privacy.scan as scan

    calls = []
    monkeypatch.setattr(scan, "scan_pii", lambda texts, **kw: calls.append(texts) or [])
    with api.client() as client:
        for _ in range(3):
            assert client.post("/v1/predict", json={"rows": [ROW]}).status_code == 200
    api.flush()
    assert calls == []  # every categorical value was seen in training
    assert input_pii_warnings(api.ws.engine) == {}
