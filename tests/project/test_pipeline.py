"""The pipeline's guards: roles; augmentation reaches training only; no leakage between the
splits (subjects, copies, time, fitted values); class imbalance; the trivial baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from datawheel.cli.main import app
from datawheel.errors import PermissionDenied
from datawheel.io import write_table
from datawheel.project.evaluation import evaluate_model
from datawheel.project.pipeline import Project
from datawheel.registry.versions import gate_history, list_versions, load_model, promote, rollback
from datawheel.secret import KEY_FILE, generate_key_file
from datawheel.store.datasets import get_dataset, load_frame


@pytest.mark.parametrize("role", ["analyst", "service"])
def test_run_when_role_may_not_train_then_permission_denied(project_copy: Path, monkeypatch, role):
    monkeypatch.setenv("DATAWHEEL_ROLE", role)
    with pytest.raises(PermissionDenied, match=f"role '{role}' may not train"):
        Project.load(project_copy).run()


def test_promote_when_analyst_then_permission_denied(project_copy: Path):
    with Project.load(project_copy).open_workspace(role="analyst") as ws:
        with pytest.raises(PermissionDenied):
            promote(ws, "v1")
        with pytest.raises(PermissionDenied):
            rollback(ws)


def test_run_when_augment_copies_then_only_training_split_grows(project_copy: Path):
    text = project_copy.read_text()
    project_copy.write_text(
        text.replace("rules: []", "rules: []\n  augment: {copies: 1, numeric_noise: 0.05}")
    )
    project = Project.load(project_copy)
    report = project.run()
    with project.open_workspace() as ws:
        train = get_dataset(ws, report.datasets["train"])
        val = get_dataset(ws, report.datasets["val"])
        test = get_dataset(ws, report.datasets["test"])
    assert train.rows == 2 * report.rows["split"] == report.rows["augment"]
    assert val.rows + test.rows + report.rows["split"] == report.rows["anonymize"]


# -- leakage, imbalance and the baseline, on small synthetic projects ----------------------


def _project(directory: Path, frame: pl.DataFrame, **data: object) -> Path:
    """A project over ``frame`` (target ``y``) with a fresh key; ``data`` adds data.* keys."""
    directory.mkdir(parents=True, exist_ok=True)
    generate_key_file(directory / KEY_FILE)
    write_table(frame, directory / "data.csv")
    config = {
        "name": "synthetic",
        "data": {"source": "data.csv", "target": "y", **data},
        "clean": {"outliers": {"method": "iqr", "factor": 1.5, "action": "clip"}},
        "train": {"epochs": 6, "batch_size": 64, "lr": 0.01, "seed": 0},
    }
    (directory / "datawheel.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return directory / "datawheel.yaml"


def _subjects_frame(n_subjects: int = 400, seed: int = 0, *, minority: float = 0.3,
                    signal: float = 2.0) -> pl.DataFrame:  # fmt: skip
    """Three rows per subject; x carries the label (``signal``), with gaps and outliers."""
    rng = np.random.default_rng(seed)
    person = np.repeat([f"P{i}" for i in range(n_subjects)], 3)
    n = person.size
    y = rng.random(n) < minority
    x = rng.normal(size=n) + signal * y
    x[rng.random(n) < 0.1] = np.nan  # gaps
    x[rng.random(n) < 0.02] = 1e4  # outliers
    return pl.DataFrame(
        {
            "person": person,
            "day": rng.integers(0, 400, n),
            "x": x,
            "noise": rng.normal(size=n),
            "kind": rng.choice(["a", "b", "c"], n),
            "y": np.where(y, "yes", "no"),
        }
    ).with_columns(pl.col("x").fill_nan(None))


def _splits(project: Project, report) -> dict[str, pl.DataFrame]:
    ws = project.open_workspace()
    try:
        return {k: load_frame(ws, report.datasets[k]) for k in ("train", "val", "test")}
    finally:
        ws.close()


def test_run_when_subjects_repeat_then_split_by_subject_and_fills_fitted_on_train_only(
    tmp_path: Path,
):
    project = Project.load(_project(tmp_path / "p", _subjects_frame(), id="person"))
    report = project.run()
    parts = _splits(project, report)
    ids = {k: set(f["person"].to_list()) for k, f in parts.items()}
    assert not (ids["train"] & ids["val"] or ids["train"] & ids["test"] or ids["val"] & ids["test"])
    assert report.split["method"] == "grouped" and report.split["group_column"] == "person"
    # the saved splits keep raw values: gaps and outliers reach the model's own preprocessing
    assert parts["test"]["x"].null_count() > 0 and parts["train"]["x"].max() == 1e4
    model = load_model("champion", workspace=project.workspace_dir)
    pre = model.preprocessor
    # fitted on the training rows — with validation too when the chosen tree or linear model
    # was refitted on both — never on the test rows
    fitted_on = (
        [parts["train"], parts["val"]] if model.extras.get("refit_rows") else [parts["train"]]
    )
    train_x = pl.concat(fitted_on)["x"].drop_nulls().to_numpy()
    everything = pl.concat(parts.values())["x"].drop_nulls().to_numpy()
    j = pre.columns.numeric.index("x")
    q1, q3 = np.quantile(train_x, [0.25, 0.75])
    assert pre.upper_[j] == pytest.approx(q3 + 1.5 * (q3 - q1))  # fences: training rows only
    median = np.median(np.clip(train_x, pre.lower_[j], pre.upper_[j]))
    assert pre.fill_[j] == pytest.approx(median)  # the fill: training rows only …
    q1_all, q3_all = np.quantile(everything, [0.25, 0.75])
    assert pre.upper_[j] != pytest.approx(q3_all + 1.5 * (q3_all - q1_all))  # … not all rows
    assert report.cleaning["learned_on"].startswith("training")
    assert model.extras.get("refit_rows", parts["train"].height) < sum(
        f.height for f in parts.values()
    )


def test_run_when_time_column_then_trained_on_the_past_and_time_is_no_feature(tmp_path: Path):
    project = Project.load(_project(tmp_path / "p", _subjects_frame(), id="person", time="day"))
    report = project.run()
    parts = _splits(project, report)
    assert report.split["method"] == "time"
    assert (
        parts["train"]["day"].max()
        < parts["test"].group_by("person").agg(pl.col("day").max())["day"].min()
    )
    model = load_model("champion", workspace=project.workspace_dir)
    assert "day" not in model.input_schema and "person" not in model.input_schema


def test_run_when_copies_filed_under_new_ids_then_one_part_holds_them_and_one_copy_survives(
    tmp_path: Path,
):
    frame = _subjects_frame(300)
    copies = frame.head(60).with_columns(pl.format("COPY{}", pl.col("person")).alias("person"))
    project = Project.load(_project(tmp_path / "p", pl.concat([frame, copies]), id="person"))
    report = project.run()
    assert report.cleaning["dropped"]["exact_duplicate"] >= 60
    parts = _splits(project, report)
    key = ["x", "noise", "kind", "day", "y"]
    seen = [set(f.select(key).rows()) for f in parts.values()]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])


def test_run_when_classes_imbalanced_then_class_weights_make_the_minority_predicted(
    tmp_path: Path,
):
    frame = _subjects_frame(600, seed=1, minority=0.08, signal=1.5)
    project = Project.load(_project(tmp_path / "p", frame, id="person"))
    report = project.run()
    (_, fp), (_, tp) = report.metrics["confusion_matrix"]
    assert tp + fp > 0 and report.metrics["recall"] > 0.3  # not the majority for every row
    assert report.primary["metric"] == "roc_auc" and report.primary["beats_baseline"]
    assert report.stage == "champion" and not report.warnings


def test_run_when_model_cannot_beat_the_baseline_then_loud_failed_gate_and_red_card(
    tmp_path: Path,
):
    frame = _subjects_frame(300, seed=0, minority=0.1, signal=0.0)  # nothing to learn
    path = _project(tmp_path / "p", frame, id="person")
    result = CliRunner().invoke(app, ["run", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "WARNING" in result.output and "does not beat the trivial baseline" in result.output
    project = Project.load(path)
    ws = project.open_workspace()
    try:
        (version,) = list_versions(ws)
        assert version.stage == "challenger"  # never silently the served champion
        (decision,) = gate_history(ws)
        assert decision["decision"] == "reject" and "baseline" in decision["reasons"][0]
        card = tmp_path / "card.html"
        evaluation = evaluate_model(project, ws, model=version.id, report=card)
    finally:
        ws.close()
    assert not evaluation.primary["beats_baseline"] and evaluation.warnings
    assert 'class="alert"' in card.read_text() and "does not beat the trivial baseline" in (
        card.read_text()
    )
