"""Every command is checked against `store.roles`' table before it does anything: a refused
role exits 2 with one line, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import typer
from sqlalchemy import func, select

from datawheel.cli.main import app, main
from datawheel.project.pipeline import Project
from datawheel.serve.tenants import create_tenant
from datawheel.store.db import api_keys, audit, datasets, tenants
from datawheel.store.roles import ACTIONS, KEYLESS, PERMISSIONS, ROLES

# Commands that need no role: they create a project of their own (its key file makes the
# caller its owner).
UNCHECKED = {("init",), ("demo",)}


def _commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple, click.Command]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        if hasattr(command, "commands"):  # a group (typer may ship its own click)
            found += _commands(command, path)
        else:
            found.append((path, command))
    return found


COMMANDS = [(p, c) for p, c in _commands(typer.main.get_command(app)) if p not in UNCHECKED]


def _action(command: click.Command) -> str | None:
    return getattr(command.callback, "action", None)


def _dummy_args(command: click.Command) -> list[str]:
    """Values for every required parameter: the check must refuse before they are looked at."""
    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        value = "1"  # reads as a number, a name or a path alike
        if param.param_type_name == "argument":
            args.append(value)
        else:
            args += [param.opts[0], value]
    return args


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_every_command_when_listed_then_maps_to_one_action():
    for path, command in COMMANDS:
        assert _action(command) in ACTIONS, f"`datawheel {' '.join(path)}` has no action"


REFUSALS = [
    (path, role)
    for path, command in COMMANDS
    for role in (*ROLES, None)
    if (role is None and _action(command) not in KEYLESS)
    or (role is not None and role not in PERMISSIONS[_action(command)])
]


@pytest.mark.parametrize(
    ("path", "role"), REFUSALS, ids=[f"{' '.join(p)}-{r}" for p, r in REFUSALS]
)
def test_command_when_role_may_not_then_exit_2_before_anything(
    path, role, tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # a project file but no datawheel.key here: not the owner
    (tmp_path / "datawheel.yaml").write_text("name: x\n", encoding="utf-8")
    monkeypatch.delenv("DATAWHEEL_KEY", raising=False)
    if role is None:
        monkeypatch.delenv("DATAWHEEL_ROLE", raising=False)
    else:
        monkeypatch.setenv("DATAWHEEL_ROLE", role)
    command = dict(COMMANDS)[path]
    code, out, err = _cli(capsys, *path, *_dummy_args(command))
    assert code == 2, (out, err)
    assert err.startswith("Error: ") and err.count("\n") == 1
    assert "no role" in err if role is None else f"role '{role}' may not" in err
    assert [p.name for p in tmp_path.iterdir()] == ["datawheel.yaml"]  # nothing written


def _count(project_file: Path, table, where=None) -> int:
    ws = Project.load(project_file).open_workspace(role="admin")
    try:
        stmt = select(func.count()).select_from(table)
        if where is not None:
            stmt = stmt.where(where)
        with ws.engine.connect() as conn:
            return conn.execute(stmt).scalar()
    finally:
        ws.close()


def test_keys_create_when_analyst_asks_for_admin_key_then_refused_and_nothing_minted(
    project_copy: Path, monkeypatch, capsys
):
    ws = Project.load(project_copy).open_workspace()
    create_tenant(ws, "acme", plan="pro", plans=["pro"])
    ws.close()
    before = (_count(project_copy, api_keys), _count(project_copy, audit))
    monkeypatch.setenv("DATAWHEEL_ROLE", "analyst")
    code, out, err = _cli(
        capsys, "keys", "create", "--tenant", "acme", "--role", "admin", "-c", project_copy
    )
    assert code == 2 and "role 'analyst' may not keys" in err
    assert "dw_" not in out + err
    assert (_count(project_copy, api_keys), _count(project_copy, audit)) == before


@pytest.mark.parametrize("argv", [["run"], ["train"], ["tune", "--trials", "1"]])
def test_training_when_analyst_then_refused_before_any_dataset_is_written(
    project_copy: Path, monkeypatch, capsys, argv
):
    before = _count(project_copy, datasets)
    monkeypatch.setenv("DATAWHEEL_ROLE", "analyst")
    code, _, err = _cli(capsys, *argv, "-c", project_copy)
    assert code == 2 and "may not train" in err
    assert _count(project_copy, datasets) == before


def test_command_when_no_project_and_no_role_then_says_there_is_no_project(
    tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATAWHEEL_ROLE", raising=False)
    code, _, err = _cli(capsys, "status")
    assert code == 2 and "project file not found" in err and "datawheel init" in err


def test_tenants_create_when_owner_without_role_then_allowed(
    project_copy: Path, monkeypatch, capsys
):
    monkeypatch.delenv("DATAWHEEL_ROLE", raising=False)
    monkeypatch.delenv("DATAWHEEL_KEY", raising=False)
    code, _, err = _cli(capsys, "tenants", "create", "acme", "--plan", "pro", "-c", project_copy)
    assert code == 0, err
    assert _count(project_copy, tenants, tenants.c.name == "acme") == 1
