"""``datawheel users``: accounts for the web console (``datawheel serve`` mounts it at /console)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    WorkspaceOption,
    authorized,
    console,
    load_project,
)

users_app = typer.Typer(
    help="Console accounts: operators and customers' people.\n\n"
    "Example: datawheel users create ana@acme.example --tenant acme --role owner",
    no_args_is_help=True,
)


@users_app.command("create")
@authorized("users")
def users_create(
    email: Annotated[str, typer.Argument(help="The user's e-mail address (their sign-in name).")],
    tenant: Annotated[
        str, typer.Option(help="The customer tenant, or 'operators' for the team itself.")
    ],
    role: Annotated[
        str,
        typer.Option(help="owner or developer (a tenant); admin, engineer or analyst (operators)."),
    ],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Create a console user. Without --password-stdin a random password is made and printed
    once; only its argon2id hash is stored.

    Example: datawheel users create ana@acme.example --tenant acme --role owner
    """
    from datawheel.console.accounts import create_user

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    with load_project(config, workspace).open_workspace() as ws:
        _user_id, made = create_user(ws, email, tenant=tenant, role=role, password=password)
    console.print(f"Created {email.strip().lower()} ({role}, {tenant}).")
    if not password_stdin:
        console.print(f"One-time password (shown once, sign in at /console/login): {made}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
