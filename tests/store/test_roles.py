"""Roles are enforced in the library: an analyst can neither reveal nor export subject data."""

from __future__ import annotations

import polars as pl
import pytest

from datawheel.errors import PermissionDenied, UsageError
from datawheel.privacy.erasure import erase_subject, export_subject
from datawheel.privacy.operators import decrypt_value, encrypt_value
from datawheel.privacy.reveal import reveal_frame
from datawheel.store.roles import ACTIONS, allowed, check, role_from_env

# (role, actions it may take); every other action is refused
TABLE = [
    ("admin", set(ACTIONS)),  # everything, including the subject- and key-level actions
    ("engineer", {"read", "scan", "anonymize", "train", "promote", "serve"}),
    ("analyst", {"read", "scan"}),  # read-only
    ("service", {"read", "serve"}),  # the customer's systems
]


@pytest.mark.parametrize(("role", "may"), TABLE)
def test_roles_when_action_then_allowed_exactly_as_the_table_says(role, may):
    for action in ACTIONS:
        assert allowed(role, action) == (action in may), action


def test_check_when_refused_then_error_names_role_and_action():
    with pytest.raises(PermissionDenied, match=r"role 'analyst' may not reveal.*admin"):
        check("analyst", "reveal")


@pytest.mark.parametrize(("role", "action"), [("root", "read"), ("admin", "fly")])
def test_check_when_unknown_role_or_action_then_usage_error(role, action):
    with pytest.raises(UsageError):
        check(role, action)


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "admin"), ("analyst", "analyst"), (" engineer ", "engineer")]
)
def test_role_from_env_when_set_or_not_then_role(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("DATAWHEEL_ROLE", raising=False)
    else:
        monkeypatch.setenv("DATAWHEEL_ROLE", value)
    assert role_from_env() == expected


@pytest.mark.parametrize("role", ["engineer", "analyst", "service"])
def test_privileged_calls_when_not_admin_then_denied_before_anything(workspace, role):
    token = encrypt_value(workspace.secret_key(), "123-45-6789", column="ssn")
    workspace.role = role
    with pytest.raises(PermissionDenied):
        decrypt_value(workspace.secret_key(), token, column="ssn", role=role)
    with pytest.raises(PermissionDenied, match="reveal"):
        reveal_frame(workspace, pl.DataFrame({"ssn": [token]}))
    with pytest.raises(PermissionDenied, match="subject export"):
        export_subject(workspace, "P1", id_column="pid")
    with pytest.raises(PermissionDenied, match="erase"):
        erase_subject(workspace, "P1", id_column="pid")
    workspace.role = "admin"
    out, report = reveal_frame(workspace, pl.DataFrame({"ssn": [token]}))
    assert out["ssn"][0] == "123-45-6789" and report.cells == {"ssn": 1}
