"""One action table for the CLI, the library and the API; no default admin; fail closed."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from datawheel.errors import PermissionDenied, UsageError
from datawheel.privacy.erasure import erase_subject, export_subject
from datawheel.privacy.operators import decrypt_value, encrypt_value
from datawheel.privacy.reveal import reveal_frame
from datawheel.secret import KEY_FILE, generate_key_file
from datawheel.store.roles import (
    ACTIONS,
    CUSTOMER_ROLES,
    KEYLESS,
    ROLES,
    Identity,
    allowed,
    check,
    resolve_identity,
    role_from_env,
)
from datawheel.store.workspace import Workspace

CONSOLE_CUSTOMER = {"customer", "tenant_keys"}
BUILDS = {"read", "receive", "prepare", "scan", "anonymize", "train", "promote", "export"}
BUILDS |= {"serve", "operate"}
BUILDS |= {"predict", "explain", "models", "usage"}  # and calls the API with its own key

# (role, the actions it may take); every other action is refused. The last row is a caller
# with no role at all: only what touches neither the workspace nor the key.
TABLE = [
    ("admin", set(ACTIONS) - CONSOLE_CUSTOMER),  # all but a tenant's own console pages
    ("engineer", BUILDS),  # builds and ships models
    ("analyst", {"read", "receive", "prepare", "scan", "models", "usage", "operate"}),  # reads
    ("service", {"read", "receive", "serve", "predict", "explain", "feedback"}),  # customers'
    ("owner", {"customer", "tenant_keys"}),  # a tenant's owner in the console: its own keys
    ("developer", {"customer"}),  # a tenant's developer: overview, usage, playground
    (None, set(KEYLESS)),  # no DATAWHEEL_ROLE and not the key file's owner
]


@pytest.mark.parametrize(
    ("role", "action"),
    [(role, action) for role, _ in TABLE for action in ACTIONS],
    ids=[f"{role}-{action}" for role, _ in TABLE for action in ACTIONS],
)
def test_roles_when_action_then_allowed_exactly_as_the_table_says(role, action):
    may = dict(TABLE)[role]
    assert allowed(role, action) == (action in may)
    if action in may:
        check(role, action)
    else:
        with pytest.raises(PermissionDenied):
            check(role, action)


def test_table_when_read_then_covers_every_role():
    assert [r for r, _ in TABLE if r] == [*ROLES, *CUSTOMER_ROLES]


def test_check_when_refused_then_error_names_role_action_and_who_may():
    with pytest.raises(PermissionDenied, match=r"role 'analyst' may not reveal.*admin"):
        check("analyst", "reveal")
    with pytest.raises(PermissionDenied, match=r"no role.*DATAWHEEL_ROLE"):
        check(None, "train")


@pytest.mark.parametrize(("role", "action"), [("root", "read"), ("admin", "fly")])
def test_check_when_unknown_role_or_action_then_usage_error(role, action):
    with pytest.raises(UsageError):
        check(role, action)


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("analyst", "analyst"), (" engineer ", "engineer")]
)
def test_role_from_env_when_set_or_not_then_role_or_none(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("DATAWHEEL_ROLE", raising=False)
    else:
        monkeypatch.setenv("DATAWHEEL_ROLE", value)
    assert role_from_env() == expected


def test_role_from_env_when_unknown_then_usage_error(monkeypatch):
    monkeypatch.setenv("DATAWHEEL_ROLE", "root")
    with pytest.raises(UsageError, match="unknown role 'root'"):
        role_from_env()


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("DATAWHEEL_ROLE", raising=False)
    monkeypatch.delenv("DATAWHEEL_KEY", raising=False)
    return monkeypatch


def test_identity_when_owner_of_key_file_then_admin(tmp_path: Path, clean_env):
    generate_key_file(tmp_path / KEY_FILE)
    assert resolve_identity(tmp_path) == Identity("admin", owner=True)


def test_identity_when_role_declared_then_it_wins_over_ownership(tmp_path: Path, clean_env):
    generate_key_file(tmp_path / KEY_FILE)
    clean_env.setenv("DATAWHEEL_ROLE", "analyst")
    assert resolve_identity(tmp_path) == Identity("analyst")


def test_identity_when_no_key_file_then_no_role(tmp_path: Path, clean_env):
    assert resolve_identity(tmp_path) == Identity(None)


def test_identity_when_key_from_environment_then_not_the_owner(tmp_path: Path, clean_env):
    key = generate_key_file(tmp_path / KEY_FILE)
    clean_env.setenv("DATAWHEEL_KEY", key.to_text())
    assert resolve_identity(tmp_path) == Identity(None)


def test_identity_when_key_file_is_a_link_then_not_the_owner(tmp_path: Path, clean_env):
    generate_key_file(tmp_path / "elsewhere.key")
    os.symlink(tmp_path / "elsewhere.key", tmp_path / KEY_FILE)
    assert resolve_identity(tmp_path).role is None


def test_workspace_when_no_role_then_privileged_calls_refused(tmp_path, secret_key, clean_env):
    ws = Workspace.open(tmp_path / "ws", key=secret_key)
    try:
        assert ws.role is None
        with pytest.raises(PermissionDenied, match="no role"):
            export_subject(ws, "P1", id_column="pid")
    finally:
        ws.close()


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
