"""The registry: first version is champion, promotion archives the old one, rollback restores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datawheel.errors import NotFoundError, UsageError
from datawheel.project.pipeline import Project
from datawheel.registry.versions import (
    get_version,
    list_versions,
    load_model,
    promote,
    register_model,
    rollback,
    set_stage,
)
from datawheel.store.audit import entries


def _ws(project_file: Path):
    return Project.load(project_file).open_workspace()


def test_first_version_when_registered_then_champion(trained_project: Path):
    with _ws(trained_project) as ws:
        assert get_version(ws, "champion").id == "v1"
        assert get_version(ws, "1").id == "v1"


def test_promote_and_rollback_when_second_version_then_stages_follow(project_copy: Path):
    with _ws(project_copy) as ws:
        v1 = get_version(ws, "v1")
        model = load_model("v1", workspace=ws.root)
        v2 = register_model(
            ws,
            model,
            dataset_id=v1.dataset_id,
            eval_dataset_id=None,
            metrics={"accuracy": 0.5},
            fairness={},
        )
        assert v2.stage == "challenger"
        promote(ws, v2.id)
        assert {v.id: v.stage for v in list_versions(ws)} == {"v1": "archived", "v2": "champion"}
        rollback(ws)
        assert get_version(ws, "champion").id == "v1"
        assert get_version(ws, "v2").stage == "archived"
        actions = [e.action for e in entries(ws.engine)]
        assert actions.count("model.stage") >= 4
        assert ws.verify_audit().ok


def test_promote_when_tainted_then_refused(project_copy: Path):
    with _ws(project_copy) as ws:
        v1 = get_version(ws, "v1")
        model = load_model("v1", workspace=ws.root)
        v2 = register_model(
            ws, model, dataset_id=v1.dataset_id, eval_dataset_id=None, metrics={}, fairness={}
        )
        set_stage(ws, v2.id, "tainted", reason="test")
        with pytest.raises(UsageError, match="tainted"):
            promote(ws, v2.id)


def test_get_version_when_unknown_then_not_found_with_hint(trained_project: Path):
    with _ws(trained_project) as ws, pytest.raises(NotFoundError, match="models list"):
        get_version(ws, "v99")


def test_load_model_when_champion_then_predicts_rows(trained_project: Path):
    model = load_model("champion", workspace=trained_project.parent / ".datawheel")
    row = {
        "age": 50,
        "workclass": "Private",
        "education": "Bachelors",
        "education_num": 13,
        "marital_status": "Married-civ-spouse",
        "occupation": "Exec-managerial",
        "relationship": "Husband",
        "race": "White",
        "sex": "Male",
        "capital_gain": 0,
        "capital_loss": 0,
        "hours_per_week": 50,
        "native_country": "United-States",
    }
    proba = model.predict_proba([row])
    assert proba.shape == (1, 2) and abs(float(proba.sum()) - 1) < 1e-5
    assert model.predict([row])[0] in model.classes


def test_load_model_when_rows_are_dicts_polars_or_pandas_then_same_answers(trained_project: Path):
    import pandas as pd

    from datawheel.io import read_table

    model = load_model("champion", workspace=trained_project.parent / ".datawheel")
    data = trained_project.parent / "data" / "adult.csv.gz"
    frame = read_table(data).head(8).select(list(model.input_schema))
    rows = frame.to_dicts()
    as_pandas = pd.DataFrame(rows)
    expected = model.predict_proba(rows)
    for given in (frame, as_pandas):
        np.testing.assert_allclose(model.predict_proba(given), expected, rtol=1e-6)
        assert model.predict(given) == model.predict(rows)
    assert model.explain(as_pandas.head(2)) == model.explain(rows[:2])
