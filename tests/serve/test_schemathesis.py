"""Property-based API testing: schemathesis generates requests from /openapi.json, valid and
not, and no answer may be a 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis (test-only)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402

EXAMPLES = 30  # per operation and generation mode


def test_api_when_generated_requests_then_never_5xx(make_api):
    api = make_api(max_rows_per_request=5)  # small generated bodies keep /v1/explain quick
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    headers = {"Authorization": f"Bearer {api.keys['admin'].secret}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/predict", "/v1/explain", "/v1/feedback"}
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def check(case) -> None:
                response = case.call(base_url=api.url, headers=headers, timeout=30)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.operation.label}: {response.status_code} {response.text}"
                    )

            try:
                check()
            except Unsatisfiable:  # nothing invalid to send (a GET without parameters)
                assert mode == schemathesis.GenerationMode.NEGATIVE
    assert not failures, failures[:5]
