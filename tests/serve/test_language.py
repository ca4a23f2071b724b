"""API error messages in the language Accept-Language asks for; codes stay English."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("accept", "message"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "缺少 API 密钥（提示：请发送 Authorization: Bearer <key>）"),
        ("en-US,en;q=0.9", "missing API key (hint: send Authorization: Bearer <key>)"),
        (None, "missing API key (hint: send Authorization: Bearer <key>)"),  # the server's
    ],
)
def test_error_when_accept_language_then_message_in_that_language_code_english(
    api, accept, message
) -> None:
    headers = {"Accept-Language": accept} if accept else {}
    response = httpx.post(f"{api.url}/v1/predict", json={"rows": []}, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "unauthenticated", "message": message}


def test_error_when_chinese_and_bad_row_then_field_named_and_message_chinese(api) -> None:
    with api.client() as client:
        response = client.post(
            "/v1/predict",
            json={"rows": [{"age": 41}]},
            headers={"Accept-Language": "zh-CN"},
        )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"].startswith("缺少必填字段：") and "sex" in error["message"]
