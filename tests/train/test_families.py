"""The tree and linear families: exact Shapley values against shap, round trips, text words."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from datawheel.config import ModelConfig, TrainConfig
from datawheel.evaluate.explain_design import design_attributions
from datawheel.train import FeatureColumns, TrainedModel
from datawheel.train.families import fit_family
from datawheel.train.task import infer_task

shap = pytest.importorskip("shap")


def _frame(n: int = 600, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = rng.choice(["x", "y", "z"], n)
    words = rng.choice(["great fun", "awful plot", "fine", "great cast awful ending"], n)
    value = (
        2 * a
        + (b == "x") * 1.5
        + np.char.count(words.astype(str), "great")
        - (np.char.count(words.astype(str), "awful"))
        + rng.normal(scale=0.3, size=n)
    )
    a_missing = pl.Series("a", a).scatter(np.flatnonzero(rng.random(n) < 0.1), None)
    return pl.DataFrame(
        {"a": a_missing, "b": b, "review": words, "value": value,
         "label": np.where(value > 0.5, "yes", "no"),
         "tier": np.where(value > 2, "high", np.where(value > 0, "mid", "low"))},
        strict=False,
    )  # fmt: skip


def _fit(
    family: str, target: str, task: str, text: bool = False
) -> tuple[TrainedModel, pl.DataFrame]:
    frame = _frame()
    features = FeatureColumns(numeric=["a"], categorical=["b"], text=["review"] if text else [])
    result = fit_family(
        family, frame.head(400), frame.slice(400, 100), features=features, target=target,
        task=task, model_config=ModelConfig(), train_config=TrainConfig(epochs=2),
    )  # fmt: skip
    return result.model, frame.tail(100)


@pytest.mark.parametrize(
    ("family", "target", "task"),
    [
        ("gbm", "label", "binary"),  # TreeSHAP on the log-odds
        ("gbm", "tier", "multiclass"),  # one margin per class
        ("gbm", "value", "regression"),  # on the value
        ("linear", "label", "binary"),  # closed form, logistic
        ("linear", "tier", "multiclass"),
        ("linear", "value", "regression"),  # closed form, ridge
    ],
)
def test_design_attributions_when_family_then_match_shap_and_add_up(
    family: str, target: str, task: str
) -> None:
    model, rows = _fit(family, target, task)
    parts = design_attributions(model, rows)
    network = model.network
    x = network.matrix(*model.transform(rows), None)
    margins = network.margin(x)  # [n, K']
    index = (
        np.zeros(len(rows), int) if task == "regression"
        else np.array([model.classes.index(lab) for lab in parts["labels"]])
    )  # fmt: skip
    if task == "binary":
        explained = np.where(index == 1, margins[:, 0], -margins[:, 0])
    else:
        explained = margins[np.arange(len(rows)), index if task == "multiclass" else 0]
    # base value + sum of the column values = the explained margin
    np.testing.assert_allclose(parts["base"] + parts["values"].sum(axis=1), explained, atol=1e-6)
    dense = np.asarray(x.todense())
    if family == "gbm":
        explainer = shap.TreeExplainer(network.booster)
        oracle = np.asarray(explainer.shap_values(dense))
    else:
        background = network.reference[None, :]  # the training mean (0 for text: empty)
        explainer = shap.LinearExplainer((network.coef, network.intercept), background)
        oracle = np.asarray(explainer.shap_values(dense))
    # shap's layouts: [n, w] for one margin, [n, w, K] (or [K, n, w]) for several
    if oracle.ndim == 3 and oracle.shape[0] != len(rows):
        oracle = np.moveaxis(oracle, 0, -1)
    if oracle.ndim == 3 and oracle.shape[-1] == 1:
        oracle = oracle[..., 0]
    if oracle.ndim == 3:
        oracle = oracle[np.arange(len(rows)), :, index]
    elif task == "binary":
        oracle = oracle * np.where(index == 1, 1.0, -1.0)[:, None]
    owner = network.design.owner()
    per_column = np.stack([oracle[:, owner == p].sum(axis=1) for p in range(owner.max() + 1)], 1)
    np.testing.assert_allclose(parts["values"], per_column, atol=1e-6)


@pytest.mark.parametrize("family", ["gbm", "linear"])
def test_trained_model_when_family_round_trips_then_same_outputs(family: str) -> None:
    model, rows = _fit(family, "label", "binary", text=True)
    loaded = TrainedModel.from_bytes(model.to_bytes())
    np.testing.assert_allclose(loaded.predict_proba(rows), model.predict_proba(rows))
    assert loaded.family == family and loaded.reads_text


@pytest.mark.parametrize("family", ["gbm", "linear"])
def test_explain_when_text_column_then_words_and_rest_add_up_to_its_value(family: str) -> None:
    model, rows = _fit(family, "label", "binary", text=True)
    for entry in model.explain(rows.head(20)):
        tokens = entry["tokens"]["review"]
        words = {w for w, _ in tokens["values"]}
        assert words, "a review's words get values"
        total = sum(v for _, v in tokens["values"]) + tokens["rest"]
        assert total == pytest.approx(entry["values"]["review"], abs=1e-6)
        assert entry["scale"] == "log_odds"


def test_explain_when_linear_text_then_words_move_the_label_their_way() -> None:
    model, _rows = _fit("linear", "label", "binary", text=True)
    explained = model.explain([{"a": 0.0, "b": "y", "review": "great fun"}], label="yes")[0]
    values = dict(explained["tokens"]["review"]["values"])
    assert values["great"] > 0  # "great" adds to the value, so to "yes"
    awful = model.explain([{"a": 0.0, "b": "y", "review": "awful plot"}], label="yes")[0]
    assert dict(awful["tokens"]["review"]["values"])["awful"] < 0


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"], "binary"),  # strings
        ([0, 1, 1, 0], "binary"),  # 0/1 integers are classes
        ([1, 2, 3, 4, 5], "multiclass"),  # a 1-5 rating
        ([0.5, 1.25, 3.0], "regression"),  # fractions
        (list(range(100)), "regression"),  # many integers: a quantity
    ],
)
def test_infer_task_when_target_values_then_task(values: list, task: str) -> None:
    assert infer_task(pl.Series("y", values)) == task


@pytest.mark.slow
def test_mlp_when_regression_then_predicts_in_target_units() -> None:
    model, rows = _fit("mlp", "value", "regression")
    predicted = model.predict_values(rows)
    truth = rows["value"].to_numpy()
    assert np.sqrt(np.mean((predicted - truth) ** 2)) < truth.std()  # beats the mean
    entry = model.explain(rows.head(3).to_dicts())[0]
    assert entry["label"] is None
    assert entry["base_value"] + sum(entry["values"].values()) == pytest.approx(
        float(model.predict_values(rows.head(1))[0]), abs=1e-4
    )


@pytest.mark.slow
@pytest.mark.e2e  # runs the bundle's predict.py in a process of its own
@pytest.mark.parametrize(
    ("family", "target", "task"),
    [("gbm", "label", "binary"), ("linear", "tier", "multiclass"), ("gbm", "value", "regression"),
     ("linear", "value", "regression")],
)  # fmt: skip
def test_export_when_family_then_bundle_predict_py_matches_the_model(
    family: str, target: str, task: str, tmp_path
) -> None:
    import json
    import subprocess
    import sys

    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxmltools")
    from datawheel.train.export import export_bundle

    model, rows = _fit(family, target, task, text=True)
    if task == "regression":
        model.extras["interval"] = {"coverage": 0.9, "halfwidth": 1.5}
    report = export_bundle(model, tmp_path / "bundle", holdout=rows)
    assert report.max_abs_diff is not None and report.max_abs_diff < 1e-5
    sample = rows.head(20).drop(["value", "label", "tier"]).to_dicts()
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in sample))
    done = subprocess.run(
        [sys.executable, str(tmp_path / "bundle" / "predict.py"), str(tmp_path / "rows.jsonl")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    expected = model.predict_output(rows.head(20))
    if task == "regression":
        got = np.array([line["value"] for line in lines])
        np.testing.assert_allclose(got, expected[:, 0], rtol=1e-5, atol=1e-4)
        assert lines[0]["interval"][1] - lines[0]["interval"][0] == pytest.approx(3.0)
    else:
        got = np.array([[line["probabilities"][c] for c in model.classes] for line in lines])
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_card_words_when_linear_text_model_then_section_ranks_its_words() -> None:
    from datawheel.evaluate.card_sections import word_importance, words_section

    model, rows = _fit("linear", "label", "binary", text=True)
    words = word_importance(model.explain(rows, label="yes"))
    assert words["review"]["great"] > 0 > words["review"]["awful"]
    section = words_section(words, "log-odds")
    assert section is not None and "great" in section.body_html


@pytest.mark.slow
@pytest.mark.e2e  # runs the bundle's predict.py in a process of its own
def test_export_when_mlp_regression_then_onnx_gives_values_not_probabilities(tmp_path) -> None:
    import json
    import subprocess
    import sys

    pytest.importorskip("onnxruntime")
    from datawheel.train.export import export_bundle

    model, rows = _fit("mlp", "value", "regression")
    model.extras["interval"] = {"coverage": 0.9, "halfwidth": 2.0}
    report = export_bundle(model, tmp_path / "bundle", holdout=rows)
    assert report.max_abs_diff is not None and report.max_abs_diff < 1e-4
    sample = rows.head(5).drop(["value", "label", "tier", "review"]).to_dicts()
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in sample))
    done = subprocess.run(
        [sys.executable, str(tmp_path / "bundle" / "predict.py"), str(tmp_path / "rows.jsonl")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    values = [json.loads(line)["value"] for line in done.stdout.splitlines()]
    np.testing.assert_allclose(values, model.predict_values(rows.head(5)), rtol=1e-4, atol=1e-4)
