"""One card builder: `evaluate --report`, `export` and a bare bundle all draw the same card."""

from __future__ import annotations

from pathlib import Path

import pytest

from datawheel.evaluate.card import model_card_html
from datawheel.project.evaluation import evaluate_model
from datawheel.project.pipeline import Project
from datawheel.registry.version_card import version_card_html
from datawheel.registry.version_export import export_version
from datawheel.registry.versions import get_version, load_version_model
from datawheel.store.datasets import load_frame

pytest.importorskip("onnxruntime", reason="needs the `export` extra")


def _headings(html: str) -> list[str]:
    return [part.split("</h2>")[0] for part in html.split("<h2>")[1:]]


def test_export_version_when_holdout_recorded_then_bundle_card_is_the_evaluated_card(
    trained_project: Path, tmp_path: Path
) -> None:
    project = Project.load(trained_project)
    with project.open_workspace() as ws:
        export_version(ws, "champion", tmp_path / "bundle", config=project.config)
        evaluated = evaluate_model(project, ws, report=tmp_path / "card.html")
        version = get_version(ws, "champion")
        model = load_version_model(ws, version)
        holdout = load_frame(ws, version.eval_dataset_id)
        direct = version_card_html(ws, version, model, holdout, config=project.config,
                                   source=f"dataset {version.eval_dataset_id}")  # fmt: skip
    exported = (tmp_path / "bundle" / "model_card.html").read_text(encoding="utf-8")
    report = (tmp_path / "card.html").read_text(encoding="utf-8")
    # the same sections in the same order; export adds its license, evaluate its SHAP chart
    assert _headings(exported) == [*_headings(direct), "License"]
    assert [h for h in _headings(report) if h != "Feature importance"] == _headings(direct)
    for html in (exported, report):
        assert "Confusion matrix" in html and "1994 US census data" in html
        assert f"{project.config.name} {version.id}" in html
    assert evaluated.model_version == version.id


def test_export_bundle_when_no_evaluation_then_card_from_the_one_builder(
    trained_project: Path, tmp_path: Path
) -> None:
    from datawheel.train.export import BUNDLE_LICENSE_NOTE, export_bundle

    with Project.load(trained_project).open_workspace() as ws:
        model = load_version_model(ws, get_version(ws, "champion"))
    export_bundle(model, tmp_path / "bare")
    card = (tmp_path / "bare" / "model_card.html").read_text(encoding="utf-8")
    assert card == model_card_html(
        model_id=model.version or "",
        classes=model.classes,
        inputs=model.input_schema,
        license_note=BUNDLE_LICENSE_NOTE,
    )
