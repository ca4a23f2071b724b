"""A text project on the network (``model.kind: mlp``): the words that decide the label reach
`datawheel explain`, `/v1/explain` and the model card — not one number for the whole text."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from datawheel.cli.main import main
from datawheel.project.evaluation import evaluate_model
from datawheel.project.pipeline import Project
from datawheel.secret import KEY_FILE, generate_key_file
from datawheel.serve.app import create_app
from datawheel.serve.background import BackgroundServer
from datawheel.serve.tenants import create_key, create_tenant
from train._text_corpus import refund_reviews

pytestmark = pytest.mark.slow

ROW = {"message": "my parcel arrived today, refund the box", "length": 7.0}


@pytest.fixture(scope="module")
def reviews_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reviews")
    refund_reviews(500, seed=0).write_csv(root / "reviews.csv")
    generate_key_file(root / KEY_FILE)
    config = {
        "name": "reviews",
        "data": {"source": "reviews.csv", "target": "label", "text": ["message"]},
        "model": {"kind": "mlp", "hidden": [32], "dropout": 0.0, "text_buckets": 256},
        "train": {"epochs": 12, "batch_size": 32, "lr": 0.01, "device": "cpu"},
    }
    (root / "datawheel.yaml").write_text(yaml.safe_dump(config))
    report = Project.load(root / "datawheel.yaml").run()
    assert report.family == "mlp" and report.stage == "champion"
    return root / "datawheel.yaml"


def _top_word(tokens: dict) -> str:
    return max(tokens["values"], key=lambda pair: abs(pair[1]))[0]


def test_explain_command_when_mlp_text_then_words_per_row(
    reviews_project: Path, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(ROW) + "\n")
    out = tmp_path / "explained.jsonl"
    main(["explain", str(rows), "-o", str(out), "-c", str(reviews_project)])  # no SystemExit
    entry = json.loads(out.read_text())
    tokens = entry["tokens"]["message"]
    assert entry["label"] == "yes" and _top_word(tokens) == "refund"
    assert len(tokens["values"]) == 7  # every word of the review has its own value
    assert sum(v for _, v in tokens["values"]) + tokens["rest"] == pytest.approx(
        entry["values"]["message"]
    )


def test_api_explain_when_mlp_text_then_words_in_the_answer(reviews_project: Path) -> None:
    project = Project.load(reviews_project)
    with project.open_workspace() as ws:
        create_tenant(ws, "acme", plan="pro", plans=list(project.config.serve.plans))
        key = create_key(ws, tenant="acme")
    server = BackgroundServer(create_app(project.config, project.open_workspace(actor="api")))
    server.start()
    try:
        headers = {"Authorization": f"Bearer {key.secret}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            answer = client.post("/v1/explain", json={"rows": [ROW]})
    finally:
        server.stop()
    assert answer.status_code == 200, answer.text
    tokens = answer.json()["explanations"][0]["tokens"]["message"]
    assert tokens["method"] == "integrated_gradients" and _top_word(tokens) == "refund"


def test_model_card_when_mlp_text_then_words_section(reviews_project: Path) -> None:
    project = Project.load(reviews_project)
    card = reviews_project.parent / "card.html"
    with project.open_workspace() as ws:
        evaluate_model(project, ws, report=card)
    html = card.read_text(encoding="utf-8")
    assert "Words in message" in html
    assert ">refund<" in html  # the deciding word is drawn among the chart's labels
