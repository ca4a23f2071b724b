"""Images and audio over HTTP: base64 JSON fields and multipart uploads on a real server, 413 and
422 with the field, explanations with heatmaps, the OpenAPI schema, and what the log keeps."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from datawheel.config import PlanConfig
from datawheel.project.pipeline import Project
from datawheel.project.scaffold import write_key_and_gitignore
from datawheel.registry.versions import register_model
from datawheel.serve.app import create_app
from datawheel.serve.background import BackgroundServer
from datawheel.serve.tenants import create_key, create_tenant
from datawheel.store.db import predictions
from datawheel.train.trainer import train_classifier
from train._media import FEATURES, MODEL, TRAIN, frame, png, wav

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROJECT = """\
name: media
data: {source: data/rows.parquet, target: label, images: [photo], audio: [voice]}
model: {kind: mlp, image_size: 12, audio_seconds: 0.25, media_dim: 8, hidden: [16]}
serve: {max_media_bytes: 4096, max_body_bytes: 262144}
"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A small fusion model (3 epochs) shared by the servers of this module."""
    return train_classifier(
        frame(96, seed=1), frame(32, seed=2), features=FEATURES, target="label",
        model_config=MODEL, train_config=TRAIN.model_copy(update={"epochs": 3}), progress=False,
    ).model  # fmt: skip


def _serve(root: Path, project_text: str, model: Any) -> tuple[BackgroundServer, str, Any]:
    """The model registered as champion of a project in ``root``, served on 127.0.0.1."""
    (root / "datawheel.yaml").write_text(project_text)
    write_key_and_gitignore(root)
    (root / "data").mkdir()
    frame(8, seed=3).write_parquet(root / "data" / "rows.parquet")
    project = Project.load(root / "datawheel.yaml")
    ws = project.open_workspace()
    register_model(ws, model, dataset_id="ds_test", eval_dataset_id=None, metrics={},
                   fairness={})  # fmt: skip
    plans = {"pro": PlanConfig(requests_per_minute=1_000_000, monthly_quota=1_000_000)}
    create_tenant(ws, "acme", plan="pro", plans=list(plans))
    key = create_key(ws, tenant="acme").secret
    config = project.config.model_copy(deep=True)
    config.serve = config.serve.model_copy(update={"plans": plans})
    running = BackgroundServer(create_app(config, project.open_workspace(actor="api"))).start()
    return running, key, ws


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, trained: Any
) -> Iterator[tuple[BackgroundServer, str]]:
    """A fusion model, registered as champion, served by uvicorn on 127.0.0.1."""
    running, key, ws = _serve(tmp_path_factory.mktemp("media"), PROJECT, trained)
    yield running, key
    running.stop()
    ws.close()


@pytest.fixture
def client(server: tuple[BackgroundServer, str]) -> Iterator[httpx.Client]:
    running, key = server
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=running.url, headers=headers, timeout=30) as http:
        yield http


def test_predict_when_base64_json_then_probabilities_and_missing_photo_still_predicted(
    client: httpx.Client,
) -> None:
    rows = [{"x": 0.1, "photo": b64(png(0)), "voice": b64(wav(1))},
            {"x": 0.1, "photo": None, "voice": "data:audio/wav;base64," + b64(wav(1))},
            {"x": 0.1}]  # fmt: skip
    answer = client.post("/v1/predict", json={"rows": rows})
    assert answer.status_code == 200, answer.text
    predictions_ = answer.json()["predictions"]
    assert len(predictions_) == 3
    assert all(abs(sum(p["probabilities"].values()) - 1) < 1e-5 for p in predictions_)


def test_predict_when_multipart_then_same_answer_as_base64(client: httpx.Client) -> None:
    as_json = client.post(
        "/v1/predict",
        json={"rows": [{"x": 0.4, "photo": b64(png(2)), "voice": b64(wav(0))},
                       {"x": -1.0, "photo": b64(png(1)), "voice": b64(wav(1))}]},
    ).json()  # fmt: skip
    as_form = client.post(
        "/v1/predict",
        data={"x": "0.4", "rows.1.x": "-1.0"},
        files={"photo": ("a.png", png(2), "image/png"), "voice": ("a.wav", wav(0), "audio/wav"),
               "rows[1].photo": ("b.png", png(1), "image/png"),
               "rows.1.voice": ("b.wav", wav(1), "audio/wav")},
    )  # fmt: skip
    assert as_form.status_code == 200, as_form.text
    for a, b in zip(as_json["predictions"], as_form.json()["predictions"], strict=True):
        assert a["label"] == b["label"]
        assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-6)


def test_predict_when_multipart_rows_part_then_files_fill_the_named_row(
    client: httpx.Client,
) -> None:
    answer = client.post(
        "/v1/predict",
        data={"rows": json.dumps([{"x": 0.0}, {"x": 1.0}])},
        files={"rows.1.photo": ("p.png", png(0), "image/png")},
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 2


@pytest.mark.parametrize(
    ("field", "value", "status", "code"),
    [
        ("photo", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, 422, "invalid_input"),  # truncated PNG
        ("photo", b"%PDF-1.4 not an image", 422, "invalid_input"),  # a PDF: unsupported
        ("voice", b"RIFF\x10\0\0\0WAVEfmt ", 422, "invalid_input"),  # a cut WAV header
        ("photo", png(0, side=200, fmt="BMP")[:5000], 413, "payload_too_large"),  # > 4096 bytes
    ],
)
def test_predict_when_media_bad_then_4xx_naming_the_field_never_500(
    client: httpx.Client, field: str, value: bytes, status: int, code: str
) -> None:
    rows = [{"x": 0.0, "photo": b64(png(0)), "voice": b64(wav(0))}, {"x": 0.0, field: b64(value)}]
    answer = client.post("/v1/predict", json={"rows": rows})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["field"] == f"rows.1.{field}"
    upload = client.post("/v1/predict", files={field: ("f.bin", value, "application/octet-stream")},
                         data={"x": "0"})  # fmt: skip
    assert upload.status_code == status, upload.text
    assert upload.json()["error"]["field"] == f"rows.0.{field}"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rows": [{"x": 0.0, "photo": 12}]}, "rows.0.photo"),  # not base64 text
        ({"rows": [{"x": 0.0, "photo": "not base64 at all!"}]}, "rows.0.photo"),
    ],
)
def test_predict_when_media_field_not_a_file_then_422(
    client: httpx.Client, body: dict, field: str
) -> None:
    answer = client.post("/v1/predict", json=body)
    assert answer.status_code == 422 and answer.json()["error"]["field"] == field


def test_predict_when_multipart_broken_then_400_not_500(client: httpx.Client) -> None:
    answer = client.post(
        "/v1/predict",
        content=b"--x\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--x--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "malformed_json"


def test_explain_when_image_row_then_modalities_heatmap_png_and_segments(
    client: httpx.Client,
) -> None:
    from PIL import Image

    answer = client.post(
        "/v1/explain", files={"photo": ("p.png", png(0), "image/png"),
                              "voice": ("v.wav", wav(1), "audio/wav")}, data={"x": "0.5"}
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    (explanation,) = answer.json()["explanations"]
    assert set(explanation["values"]) == {"tabular", "image", "audio"}
    heat = Image.open(io.BytesIO(base64.b64decode(explanation["heatmaps"]["photo"])))
    assert heat.format == "PNG" and heat.size == (160, 160)
    assert len(explanation["segments"]["voice"]) == 10


def test_openapi_when_media_model_then_base64_fields_and_multipart_body(
    client: httpx.Client,
) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body
    form = body["multipart/form-data"]["schema"]["properties"]
    assert form["photo"]["format"] == "binary" and form["voice"]["format"] == "binary"
    row = spec["components"]["schemas"]["PredictRow"]["properties"]
    photo = next(s for s in row["photo"]["anyOf"] if s.get("type") == "string")
    assert photo["format"] == "byte" and photo["contentEncoding"] == "base64"


def test_log_when_media_served_then_digest_kept_never_the_file(
    client: httpx.Client, server: tuple[BackgroundServer, str]
) -> None:
    import hashlib

    photo = png(3)
    answer = client.post("/v1/predict", json={"rows": [{"x": 3.0, "photo": b64(photo)}]})
    prediction_id = answer.json()["predictions"][0]["id"]
    service = server[0].app.state.service
    service.writer.flush()
    with service.ws.engine.connect() as conn:
        row = conn.execute(
            select(predictions.c.features).where(predictions.c.id == prediction_id)
        ).scalar_one()
    logged = row if isinstance(row, dict) else json.loads(row)
    assert logged["photo"] == {"sha256": hashlib.sha256(photo).hexdigest(), "bytes": len(photo)}
    assert b64(photo) not in json.dumps(logged)


def test_predict_when_concurrent_media_requests_then_each_gets_its_own_answer(
    client: httpx.Client, server: tuple[BackgroundServer, str]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    bodies = [
        {"rows": [{"x": 0.3 * i - 1.0, "photo": b64(png(i % 4)), "voice": b64(wav(i % 2))}]}
        for i in range(12)
    ]
    alone = [client.post("/v1/predict", json=b).json()["predictions"][0] for b in bodies]
    running, key = server
    headers = {"Authorization": f"Bearer {key}"}

    def post(body: dict) -> dict:
        with httpx.Client(base_url=running.url, headers=headers, timeout=30) as http:
            return http.post("/v1/predict", json=body).json()["predictions"][0]

    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(post, bodies))
    for a, b in zip(alone, together, strict=True):
        assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-6)


def test_predict_when_faces_blurred_then_bad_files_still_413_and_422_with_the_field(
    tmp_path: Path, trained: Any
) -> None:
    blurring = PROJECT + "privacy: {images: {faces: blur}}\n"
    running, key, ws = _serve(tmp_path, blurring, trained)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=running.url, headers=headers, timeout=30) as http:
            ok = {"x": 0.0, "photo": b64(png(0)), "voice": b64(wav(0))}
            cases = [
                (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, 422),  # truncated
                (png(0, side=200, fmt="BMP")[:5000], 413),  # over serve.max_media_bytes
            ]
            for value, status in cases:
                answer = http.post(
                    "/v1/predict", json={"rows": [ok, {"x": 0.0, "photo": b64(value)}]}
                )
                assert answer.status_code == status, answer.text
                assert answer.json()["error"]["field"] == "rows.1.photo"
            assert http.post("/v1/predict", json={"rows": [ok]}).status_code == 200
    finally:
        running.stop()
        ws.close()
