"""The model card page brings metrics, fairness and charts together."""

from __future__ import annotations

import re

import numpy as np
import pytest

from datawheel.evaluate import classification_metrics, fairness_report, model_card_html


def _card(gate: float | None, *, classes=("no", "yes"), **extra) -> str:
    rng = np.random.default_rng(0)
    n = 400
    k = len(classes)
    proba = rng.dirichlet(np.ones(k), size=n)
    group = rng.choice(["F", "M"], size=n)
    # the model over-selects group M, so the selection-rate gap is large
    proba[group == "M"] = np.eye(k)[-1] * 0.9 + 0.1 / k
    y = rng.choice(list(classes), size=n).tolist()
    pred = np.array(classes)[proba.argmax(axis=1)].tolist()
    metrics = classification_metrics(y, proba, classes)
    fairness = fairness_report(y, pred, {"sex": group}, positive=classes[-1])
    return model_card_html(
        model_id="income-v7<x>",
        metrics=metrics,
        fairness=fairness,
        y_true=y,
        proba=proba,
        classes=list(classes),
        positive=classes[-1] if k == 2 else None,
        data_summary={"rows": n, "source": "adult.csv"},
        gates={"max_fairness_gap": gate} if gate is not None else None,
        intended_use="Ranking applications for review.",
        limitations="Trained on <1994> census data.",
        **extra,
    )


def test_model_card_when_gap_exceeds_gate_then_rows_flagged() -> None:
    page = _card(gate=0.1)
    assert "income-v7&lt;x&gt;" in page  # model id shown, escaped
    assert 'class="flag"' in page
    assert "FAIL" in page
    assert "Calibration" in page and "Confusion matrix" in page
    assert "&lt;1994&gt;" in page


def test_model_card_when_gate_loose_then_nothing_flagged() -> None:
    page = _card(gate=1.0)
    assert 'class="flag"' not in page and "FAIL" not in page


def test_model_card_when_history_and_importance_then_charts_added() -> None:
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val_acc": 0.5 + e / 20}
               for e in range(1, 6)]  # fmt: skip
    page = _card(gate=None, history=history, importance={"age": 0.3, "hours": -0.1})
    assert "Training" in page and "Feature importance" in page
    assert re.findall(r"https?://", re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)) == []


@pytest.mark.parametrize("classes", [("a", "b", "c")])  # multiclass: no calibration section
def test_model_card_when_multiclass_then_renders_without_calibration(classes) -> None:
    page = _card(gate=0.1, classes=classes)
    assert "<h2>Calibration</h2>" not in page and "<h2>Metrics</h2>" in page


def test_model_card_when_not_evaluated_then_says_so_and_lists_inputs_and_license() -> None:
    page = model_card_html(
        model_id="v3",
        classes=["<=50K", ">50K"],
        inputs={"age": "number", "workclass": "string"},
        license_note="Apache-2.0 (see LICENSE).",
    )
    assert "Not evaluated" in page and "none recorded" in page
    for heading in ("Overview", "Inputs", "Metrics", "Intended use", "Limitations", "License"):
        assert f"<h2>{heading}</h2>" in page
    assert "workclass" in page and "&gt;50K" in page
    assert "Confusion matrix" not in page and "Calibration" not in page
