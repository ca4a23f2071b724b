"""Plans made or changed in the console: over the project file's, validated, audited, admin
only — and a tenant's key carries its plan's limits to the serving path."""

from __future__ import annotations

import pytest

from datawheel.config import PlanConfig, ProjectConfig
from datawheel.errors import PermissionDenied, UsageError
from datawheel.serve.plans import plan_book, plan_limits, plan_names, save_plan
from datawheel.serve.tenants import authenticate, create_key, create_tenant, set_plan
from datawheel.store import audit as audit_log


@pytest.fixture
def config() -> ProjectConfig:
    return ProjectConfig.model_validate({"name": "t", "data": {"source": "x.csv", "target": "y"}})


def test_save_plan_when_new_then_in_the_book_and_audited(workspace, config):
    save_plan(workspace, config, "enterprise", {"requests_per_minute": "600", "monthly_quota": 5})
    book = plan_book(workspace, config)
    assert list(book) == ["enterprise", "free", "pro"]  # by monthly quota
    entry = book["enterprise"]
    assert entry.limits == PlanConfig(requests_per_minute=600, monthly_quota=5)
    assert not entry.in_project_file and entry.updated_by == workspace.actor
    audited = audit_log.entries(workspace.engine, action="plan.save")[-1]
    assert audited.target == "enterprise" and audited.details["from"] is None


def test_save_plan_when_changing_a_file_plan_then_overrides_and_keeps_other_limits(
    workspace, config
):
    save_plan(workspace, config, "free", {"monthly_quota": 123})
    limits = plan_limits(workspace, config, "free")
    assert limits == PlanConfig(requests_per_minute=60, monthly_quota=123)
    assert plan_book(workspace, config)["free"].in_project_file
    entry = audit_log.entries(workspace.engine, action="plan.save")[-1]
    assert (
        entry.details["from"]["monthly_quota"] == 10_000
        and entry.details["to"]["monthly_quota"] == 123
    )


@pytest.mark.parametrize(
    ("name", "values", "match"),
    [
        ("gold/1", {"requests_per_minute": 1, "monthly_quota": 1}, "not allowed"),  # a path
        ("", {"requests_per_minute": 1, "monthly_quota": 1}, "not allowed"),
        ("gold", {"requests_per_minute": 0, "monthly_quota": 1}, "requests_per_minute"),
        ("gold", {"requests_per_minute": "many", "monthly_quota": 1}, "requests_per_minute"),
        ("gold", {"requests_per_minute": 5}, "monthly_quota"),  # a new plan needs its quota
        ("free", {"feedback_max_chars": 50_000}, "feedback_max_chars"),
    ],
)
def test_save_plan_when_bad_then_clear_error_and_nothing_saved(
    workspace, config, name, values, match
):
    with pytest.raises(UsageError, match=match):
        save_plan(workspace, config, name, values)
    assert plan_names(workspace, config) == ["free", "pro"]
    assert plan_limits(workspace, config, "free") == config.serve.plans["free"]


def test_save_plan_when_not_admin_then_refused(workspace, config):
    workspace.role = "engineer"
    with pytest.raises(PermissionDenied):
        save_plan(workspace, config, "gold", {"requests_per_minute": 1, "monthly_quota": 1})


def test_authenticate_when_plan_from_the_console_then_the_key_carries_its_limits(workspace, config):
    create_tenant(workspace, "acme", plan="free", plans=plan_names(workspace, config))
    key = create_key(workspace, tenant="acme")
    assert authenticate(workspace, key.secret).limits is None  # serve.plans' own
    save_plan(workspace, config, "gold", {"requests_per_minute": 7, "monthly_quota": 70})
    set_plan(workspace, "acme", "gold", plans=plan_names(workspace, config))
    who = authenticate(workspace, key.secret)
    assert who.plan == "gold" and who.limits == PlanConfig(requests_per_minute=7, monthly_quota=70)
