"""Feedback trust: poisoned tenants (pure rule), erased subjects and tainted versions excluded."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import insert

from datawheel.config import LoopConfig
from datawheel.loop.retrain import base_dataset, prepare_retrain_data
from datawheel.loop.trust import TenantAgreement, suspicious_tenants, tenant_agreement
from datawheel.registry.versions import get_version, load_version_model, register_model, set_stage
from datawheel.store.datasets import load_frame, save_dataset
from datawheel.store.db import erased_subjects

from .helpers import NOW, income_rows, iso, serve_and_label

POLICY = LoopConfig(poison_min_labels=30, poison_max_drop=0.25)


def _a(tenant: str, agreement: float, labels: int = 100) -> TenantAgreement:
    return TenantAgreement(tenant, labels, labels, agreement)


@pytest.mark.parametrize(
    ("agreements", "dropped"),
    [
        ([_a("A", 0.85), _a("B", 0.50)], {"B"}),  # two tenants, one at chance level
        ([_a("A", 0.85), _a("B", 0.70)], set()),  # a shifted population, not poison
        ([_a("A", 0.9), _a("B", 0.88), _a("C", 0.86), _a("D", 0.45)], {"D"}),  # MAD outlier
        ([_a("A", 0.9), _a("B", 0.5, labels=10)], set()),  # too few labels to judge B
        ([_a("A", 0.9)], set()),  # nobody to compare with
    ],
)
def test_suspicious_tenants_when_case_then_outliers_dropped(agreements, dropped):
    assert set(suspicious_tenants(agreements, POLICY)) == dropped


def test_tenant_agreement_when_confident_rows_then_judged_on_them():
    rows = [
        {"tenant_id": "A", "label": "x", "served_label": "x", "confidence": 0.95},
        {"tenant_id": "A", "label": "y", "served_label": "x", "confidence": 0.95},
        {"tenant_id": "A", "label": "y", "served_label": "x", "confidence": 0.55},  # unsure
    ]
    (a,) = tenant_agreement(rows)
    assert (a.labels, a.judged_on, a.agreement) == (3, 2, 0.5)


def test_prepare_retrain_data_when_subject_erased_then_absent_everywhere(loop_env):
    ws, config = loop_env.ws, loop_env.project.config
    records = serve_and_label(ws, config, income_rows(2000, 2200), labels="true")
    v1 = get_version(ws, "v1")
    base = load_frame(ws, base_dataset(ws, v1))
    gone = {records[0]["subject"], records[1]["subject"], base["person_id"][0]}
    with ws.engine.begin() as conn:
        conn.execute(insert(erased_subjects), [{"subject": s, "erased_at": iso(NOW)} for s in gone])
    data = prepare_retrain_data(ws, config, v1)
    for frame in (data.train, data.val, data.eval, data.feedback_holdout):
        assert not set(frame["person_id"].to_list()) & gone
    assert data.excluded["erased_feedback_rows"] == 2
    assert data.excluded["erased_base_rows"] == 1
    assert data.train.height == base.height - 1 + data.feedback_rows


def test_prepare_retrain_data_when_newer_version_tainted_then_base_is_the_champions(loop_env):
    ws, config = loop_env.ws, loop_env.project.config
    v1 = get_version(ws, "v1")
    poisoned = save_dataset(
        ws,
        pl.DataFrame({"person_id": ["x"]}),
        name="train+feedback",
        kind="train",
        encrypted=True,
        stats={"base_train": "ds_gone", "val": "-", "test": "-"},
    )
    v2 = register_model(
        ws,
        load_version_model(ws, v1),
        dataset_id=poisoned.id,
        eval_dataset_id=None,
        metrics={},
        fairness={},
    )
    set_stage(ws, v2.id, "tainted", reason="trained on an erased subject")
    assert base_dataset(ws, v1).id == v1.dataset_id
    data = prepare_retrain_data(ws, config, get_version(ws, "champion"))
    assert data.train_record.stats["base_train"] == v1.dataset_id
    assert "x" not in data.train["person_id"].to_list()
    with pytest.raises(Exception, match="tainted"):
        base_dataset(ws, get_version(ws, v2.id))
