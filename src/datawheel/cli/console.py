"""``datawheel users``: accounts for the web console (``datawheel serve`` mounts it at /console)."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    WorkspaceOption,
    authorized,
    console,
    load_project,
)

if TYPE_CHECKING:
    from datawheel.console.accounts import Invite

URL_ENV = "DATAWHEEL_CONSOLE_URL"  # where people reach the console: the links' base
DEFAULT_URL = "http://127.0.0.1:8000"

users_app = typer.Typer(
    help="Console accounts: operators and customers' people.\n\n"
    "Example: datawheel users create ana@acme.example --tenant acme --role owner",
    no_args_is_help=True,
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help=f"The server's address as people reach it, for the link (default: ${URL_ENV}, "
        f"else {DEFAULT_URL}).",
    ),
]
HoursOption = Annotated[
    float, typer.Option("--valid-hours", help="How long the sign-up link works (once).")
]


def _print_link(invite: Invite, url: str | None) -> None:
    base = url or os.environ.get(URL_ENV) or DEFAULT_URL
    until = datetime.fromtimestamp(invite.expires_at, UTC).strftime("%Y-%m-%d %H:%M")
    console.print(f"Sign-up link (works once, until {until} UTC; shown only now):")
    console.print(invite.url(base), soft_wrap=True, highlight=False)


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
    url: UrlOption = None,
    valid_hours: HoursOption = 72.0,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Create a console user. Without --password-stdin it prints a one-time sign-up link
    (stored only as a hash) where the user chooses a password (stored as an argon2id hash).

    Example: datawheel users create ana@acme.example --tenant acme --role owner
    """
    from datawheel.console.accounts import create_user

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    with load_project(config, workspace).open_workspace() as ws:
        _user_id, invite = create_user(
            ws, email, tenant=tenant, role=role, password=password, link_hours=valid_hours
        )
    console.print(f"Created {email.strip().lower()} ({role}, {tenant}).")
    if invite is not None:
        _print_link(invite, url)


@users_app.command("link")
@authorized("users")
def users_link(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
    url: UrlOption = None,
    valid_hours: HoursOption = 72.0,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """A new one-time sign-up link for a user (a lost link, or a forgotten password); their
    earlier unused links stop working.

    Example: datawheel users link ana@acme.example
    """
    from datawheel.console.invites import issue_link

    with load_project(config, workspace).open_workspace() as ws:
        invite = issue_link(ws, email, hours=valid_hours)
    _print_link(invite, url)


@users_app.command("list")
@authorized("users")
def users_list(config: ConfigOption = DEFAULT_CONFIG, workspace: WorkspaceOption = None) -> None:
    """List console users with tenant, role and state (active, link pending, disabled).

    Example: datawheel users list
    """
    from datawheel.console.invites import list_users

    with load_project(config, workspace).open_workspace() as ws:
        rows = list_users(ws)
    table = Table(title="console users")
    for column in ("email", "tenant", "role", "state", "created"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["email"], r["tenant"], r["role"], r["state"], r["created_at"][:16])
    console.print(table)


@users_app.command("disable")
@authorized("users")
def users_disable(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Sign a user out everywhere and refuse their sign-ins and links from now on.

    Example: datawheel users disable ana@acme.example
    """
    from datawheel.console.invites import disable_user

    with load_project(config, workspace).open_workspace() as ws:
        disable_user(ws, email)
    console.print(f"Disabled {email.strip().lower()}.")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
