"""Export bundles: ONNX equals torch, predict.py needs only onnxruntime + numpy, int8 is close."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from datawheel.config import ModelConfig, TrainConfig
from datawheel.registry.versions import load_model
from datawheel.train import FeatureColumns, TrainedModel, train_classifier
from datawheel.train.export import export_bundle

from ._synthetic import FEATURES, make_frame
from ._text_corpus import ticket_frame


def _train(
    frame: pl.DataFrame,
    val: pl.DataFrame,
    features: FeatureColumns,
    target: str,
    hidden: tuple[int, ...] = (32,),
) -> TrainedModel:
    return train_classifier(
        frame,
        val,
        features=features,
        target=target,
        model_config=ModelConfig(hidden=list(hidden), dropout=0.0, text_buckets=128),
        train_config=TrainConfig(epochs=4, batch_size=32, lr=0.01),
        progress=False,
    ).model


def _predict_py(python: str, bundle: Path, rows: list[dict], tmp_path: Path) -> np.ndarray:
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    done = subprocess.run(
        [python, str(bundle / "predict.py"), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    spec = json.loads((bundle / "preprocessing.json").read_text())
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return np.array([[line["probabilities"][c] for c in spec["classes"]] for line in lines])


@pytest.fixture(scope="module")
def tabular() -> tuple[TrainedModel, pl.DataFrame]:
    val = make_frame(300, seed=22, missing=0.1)
    return _train(make_frame(800, seed=21, missing=0.1), val, FEATURES, "label"), val


@pytest.mark.parametrize(
    "kind",
    [
        "tabular",  # numerics with missing values + categoricals
        "text",  # hashed n-grams of English and Chinese: predict.py re-implements the hashing
    ],
)
def test_export_when_fp32_then_onnx_and_predict_py_equal_torch(
    kind: str, tabular: tuple[TrainedModel, pl.DataFrame], tmp_path: Path
) -> None:
    if kind == "tabular":
        model, holdout = tabular
    else:
        holdout = ticket_frame(10, seed=4)
        model = _train(
            ticket_frame(30, seed=3), holdout, FeatureColumns(text=["message"]), "intent"
        )
    report = export_bundle(model, tmp_path / "b", holdout=holdout)
    assert report.max_abs_diff is not None and report.max_abs_diff < 1e-5
    rows = holdout.drop(model.target).to_dicts()
    got = _predict_py(sys.executable, tmp_path / "b", rows, tmp_path)
    assert np.abs(got - model.predict_proba(rows)).max() < 1e-5
    again = load_model(str(tmp_path / "b"))  # dw.load_model on an export folder
    assert np.array_equal(again.predict_proba(rows), model.predict_proba(rows))


def test_export_when_int8_then_smaller_and_accuracy_within_two_points(
    tabular: tuple[TrainedModel, pl.DataFrame], tmp_path: Path
) -> None:
    _, holdout = tabular
    # wide enough that int8 weights outweigh the quantization nodes' fixed overhead
    model = _train(make_frame(800, seed=21), holdout, FEATURES, "label", hidden=(256, 128))
    report = export_bundle(model, tmp_path / "b", int8=True, holdout=holdout)
    assert report.size_ratio is not None and report.size_ratio < 0.5
    assert abs(report.accuracy_int8 - report.accuracy_torch) <= 0.02
    spec = json.loads((tmp_path / "b" / "preprocessing.json").read_text())
    assert spec["onnx_model"] == "model.int8.onnx"


@pytest.mark.e2e
@pytest.mark.slow
def test_predict_py_when_fresh_venv_with_only_onnxruntime_and_numpy_then_same_probabilities(
    tabular: tuple[TrainedModel, pl.DataFrame], tmp_path: Path
) -> None:
    model, holdout = tabular
    export_bundle(model, tmp_path / "b")
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "onnxruntime", "numpy"], check=True, timeout=600
    )
    probe = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util as u; print(u.find_spec('torch'), u.find_spec('polars'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.split() == ["None", "None"]  # really without torch and polars
    rows = holdout.drop("label").to_dicts()
    got = _predict_py(python, tmp_path / "b", rows, tmp_path)
    assert np.abs(got - model.predict_proba(rows)).max() < 1e-5


@pytest.mark.parametrize("value", [1e300, "1e999", -2e12, "Infinity"])
def test_predict_py_when_number_overflows_then_exit_2_one_line_no_nan(
    tabular: tuple[TrainedModel, pl.DataFrame], tmp_path: Path, value
) -> None:
    model, holdout = tabular
    export_bundle(model, tmp_path / "b")
    rows = holdout.drop(model.target).head(3).to_dicts()
    column = FEATURES.numeric[0]
    rows[1][column] = value
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(tmp_path / "b" / "predict.py"), str(path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == "" and "NaN" not in done.stderr
    assert done.stderr.count("\n") == 1 and f"row 1, column {column!r}" in done.stderr


def test_export_when_symlinks_planted_in_the_folder_then_never_written_through(
    tabular: tuple[TrainedModel, pl.DataFrame], tmp_path: Path
) -> None:
    model, _ = tabular
    bundle, victim = tmp_path / "b", tmp_path / "victim.txt"
    bundle.mkdir()
    victim.write_text("precious", encoding="utf-8")
    for name in ("model.onnx", "predict.py", "preprocessing.json", "export_report.json"):
        (bundle / name).symlink_to(victim)
    report = export_bundle(model, bundle)
    assert victim.read_text(encoding="utf-8") == "precious"
    for name in ("model.onnx", "predict.py", "preprocessing.json", "export_report.json"):
        assert not (bundle / name).is_symlink() and (bundle / name).is_file(), name
    assert report.directory == str(bundle) and "export_report.json" in report.files
    assert not [p for p in bundle.iterdir() if p.name.startswith(".datawheel-export-")]
