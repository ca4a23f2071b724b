"""``datawheel users``: a one-time sign-up link printed (or a password read from standard
input), a new link, the list, disabling — each in a fresh interpreter, as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from datawheel.console.accounts import sign_in
from datawheel.console.invites import complete_signup
from datawheel.errors import Unauthenticated
from datawheel.store.workspace import Workspace

pytestmark = pytest.mark.slow  # each runs the command line in a fresh interpreter

LINK = re.compile(r"https?://\S+/console/signup/(\S+)")


def _users(project: Path, *args: str, stdin: str | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "datawheel", "users", *args, "-c", str(project)],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def _ws(project: Path) -> Workspace:
    return Workspace.open(project.parent / ".datawheel", key_dir=project.parent)


def test_users_create_when_run_then_prints_a_link_that_sets_the_password_once(project_copy):
    made = _users(
        project_copy,
        "create",
        "ops@team.example",
        "--tenant",
        "operators",
        "--role",
        "admin",
        env={"DATAWHEEL_CONSOLE_URL": "https://console.acme.example"},
    )
    assert made.returncode == 0, made.stderr
    assert "https://console.acme.example/console/signup/" in made.stdout
    token = LINK.search(made.stdout).group(1)
    with _ws(project_copy) as ws:
        with pytest.raises(Unauthenticated):  # no password works before the link is used
            sign_in(ws, "ops@team.example", "", client="t")
        complete_signup(ws, token, "a password chosen by the user")
        assert sign_in(ws, "ops@team.example", "a password chosen by the user", client="t").user
        with pytest.raises(Unauthenticated, match="unknown, used or expired"):
            complete_signup(ws, token, "a second password, refused")


def test_users_create_when_password_on_stdin_then_no_link(project_copy):
    piped = _users(
        project_copy,
        "create",
        "eng@team.example",
        "--tenant",
        "operators",
        "--role",
        "engineer",
        "--password-stdin",
        stdin="a password from stdin\n",
    )
    assert piped.returncode == 0 and "signup" not in piped.stdout
    with _ws(project_copy) as ws:
        assert sign_in(ws, "eng@team.example", "a password from stdin", client="t").user


def test_users_link_list_disable_when_run_then_each_does_its_part(project_copy):
    made = _users(project_copy, "create", "a@team.example", "--tenant", "operators", "--role",
                  "analyst", "--url", "http://10.0.0.5:8000")  # fmt: skip
    first = LINK.search(made.stdout).group(1)
    again = _users(project_copy, "link", "a@team.example", "--valid-hours", "2")
    assert again.returncode == 0, again.stderr
    second = LINK.search(again.stdout).group(1)
    listed = _users(project_copy, "list")
    assert "a@team.example" in listed.stdout and "link pending" in listed.stdout
    with _ws(project_copy) as ws, pytest.raises(Unauthenticated):
        complete_signup(ws, first, "the first link no longer works")
    assert _users(project_copy, "disable", "a@team.example").returncode == 0
    with _ws(project_copy) as ws, pytest.raises(Unauthenticated):
        complete_signup(ws, second, "a disabled user's link is dead too")
    assert "disabled" in _users(project_copy, "list").stdout


def test_users_create_when_role_wrong_then_one_line_and_exit_2(project_copy: Path):
    bad = _users(project_copy, "create", "x@team.example", "--tenant", "operators", "--role",
                 "owner")  # fmt: skip
    assert bad.returncode == 2
    assert "role 'owner' is not a role for operators" in bad.stderr
    assert "Traceback" not in bad.stderr
