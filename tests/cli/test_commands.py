"""The command line: every command documented with an example; bad input → one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer

from datawheel.cli.main import app


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        if isinstance(command, click.Group):
            found += _commands(command, path)
        else:
            found.append(path)
    return found


COMMANDS = _commands(typer.main.get_command(app))


def _run(*args: str, cwd: Path | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "datawheel", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.mark.e2e
def test_help_when_run_then_lists_the_core_commands():
    result = _run("--help")
    assert result.returncode == 0
    for name in ("init", "demo", "run", "status", "serve", "loop", "models", "audit"):
        assert name in result.stdout


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_command_when_help_then_ends_with_an_example(path):
    group = typer.main.get_command(app)
    command = group
    for name in path:
        command = command.commands[name]
    text = (command.help or "").strip()
    assert text.splitlines()[-1].startswith("Example: datawheel"), path


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        # unknown key → the key path and a suggestion
        (
            "name: p\ndata: {source: data/adult.csv.gz, target: income}\ntrain: {epoch: 3}\n",
            "train.epoch",
        ),
        # wrong type → the key and the value
        (
            "name: p\ndata: {source: data/adult.csv.gz, target: income}\ntrain: {epochs: lots}\n",
            "train.epochs",
        ),
        # missing source file → the file
        ("name: p\ndata: {source: data/missing.csv, target: income}\n", "missing.csv"),
        # a target column that is not in the data → the column and what exists
        ("name: p\ndata: {source: data/adult.csv.gz, target: salary}\n", "salary"),
    ],
)
def test_run_when_project_file_broken_then_exit_2_one_line(tmp_path: Path, yaml_text, expected):
    assert _run("init", str(tmp_path)).returncode == 0
    (tmp_path / "datawheel.yaml").write_text(yaml_text)
    result = _run("run", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and expected in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.e2e
def test_init_when_run_then_key_0600_gitignored_and_never_printed(tmp_path: Path):
    result = _run("init", str(tmp_path / "p"))
    assert result.returncode == 0
    key_file = tmp_path / "p" / "datawheel.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "datawheel.key" in (tmp_path / "p" / ".gitignore").read_text()
    assert key_file.read_text().strip() not in result.stdout + result.stderr
    again = _run("init", str(tmp_path / "p"))
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.e2e
def test_status_when_no_project_then_exit_2_with_hint(tmp_path: Path):
    result = _run("status", cwd=tmp_path)
    assert result.returncode == 2 and "datawheel init" in result.stderr


@pytest.mark.e2e
def test_models_and_audit_when_trained_project_then_listed_and_verified(trained_project: Path):
    listing = _run("models", "list", cwd=trained_project.parent)
    assert listing.returncode == 0 and "champion" in listing.stdout
    audit = _run("audit", "verify", cwd=trained_project.parent)
    assert audit.returncode == 0 and "verifies" in audit.stdout


@pytest.mark.e2e
def test_audit_verify_when_chain_edited_then_exit_1(project_copy: Path):
    import sqlite3

    db = project_copy.parent / ".datawheel" / "datawheel.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit SET details = '{}' WHERE seq = 2")
    result = _run("audit", "verify", cwd=project_copy.parent)
    assert result.returncode == 1
    assert "entry 2" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--bogus"], "No such option: --bogus"),
        (["serve", "--port", "99999"], "Invalid value for '--port'"),
        (["serve", "--workers", "0"], "Invalid value for '--workers'"),
        (["status", "extra-arg"], "unexpected extra argument"),
    ],
)
def test_usage_error_when_options_are_wrong_then_exit_2_with_usage_not_internal_error(
    tmp_path: Path, args: list[str], message: str
):
    done = _run(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message.lower() in done.stderr.lower()
    assert "Internal error" not in done.stderr
