"""``datawheel users create``: a one-time password printed, or one read from standard input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from datawheel.console.accounts import sign_in
from datawheel.store.workspace import Workspace

pytestmark = pytest.mark.slow  # each runs the command line in a fresh interpreter


def _users(project: Path, *args: str, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, "-m", "datawheel", "users", "create", *args, "-c", str(project)],
        capture_output=True,
        text=True,
        input=stdin,
        env=os.environ,
        timeout=300,
    )


def test_users_create_when_run_then_prints_a_password_that_signs_in(project_copy: Path):
    made = _users(project_copy, "ops@team.example", "--tenant", "operators", "--role", "admin")
    assert made.returncode == 0, made.stderr
    password = re.search(r"One-time password.*: (\S+)", made.stdout.replace("\n", " ")).group(1)
    piped = _users(
        project_copy,
        "eng@team.example",
        "--tenant",
        "operators",
        "--role",
        "engineer",
        "--password-stdin",
        stdin="a password from stdin\n",
    )
    assert piped.returncode == 0 and "One-time" not in piped.stdout
    with Workspace.open(project_copy.parent / ".datawheel", key_dir=project_copy.parent) as ws:
        assert sign_in(ws, "ops@team.example", password, client="t").user.role == "admin"
        assert sign_in(ws, "eng@team.example", "a password from stdin", client="t").user


def test_users_create_when_role_wrong_then_one_line_and_exit_2(project_copy: Path):
    bad = _users(project_copy, "x@team.example", "--tenant", "operators", "--role", "owner")
    assert bad.returncode == 2
    assert "role 'owner' is not a role for operators" in bad.stderr
    assert "Traceback" not in bad.stderr
