"""Store commands: audit verify, migrate."""

from __future__ import annotations

import os

import typer

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    WorkspaceOption,
    authorized,
    console,
    open_workspace,
)

audit_app = typer.Typer(
    help="The tamper-evident audit log.\n\nExample: datawheel audit verify", no_args_is_help=True
)


@audit_app.command("verify")
@authorized("read")
def audit_verify(config: ConfigOption = DEFAULT_CONFIG, workspace: WorkspaceOption = None) -> None:
    """Recompute the keyed chain and check its head file and, with an s3:// artifact store, the
    heads anchored in the bucket; exit 1 if an entry was edited, forged, inserted or deleted, or
    the log was rolled back.

    Example: datawheel audit verify
    """
    from datawheel.store.audit import LEGACY

    with open_workspace(config, workspace) as ws:
        report = ws.verify_audit()
    if report.ok:
        console.print(f"audit chain verifies: {report.entries} entries")
        if report.remote:
            console.print(f"head anchored in {report.remote}")
        if report.scheme == LEGACY:
            console.print(
                "[yellow]warning:[/] an unkeyed (SHA-256) chain from an older datawheel: "
                "the next change re-chains it under the secret key"
            )
        elif report.entries and not report.anchored:
            console.print(
                "[yellow]warning:[/] no audit head file in the workspace: deleted tail "
                "entries could not be detected"
            )
        return
    typer.echo(f"Error: audit chain broken at entry {report.seq}: {report.problem}", err=True)
    raise typer.Exit(1)


@authorized("migrate")
def migrate(config: ConfigOption = DEFAULT_CONFIG, workspace: WorkspaceOption = None) -> None:
    """Upgrade the workspace database to this release's schema, in one transaction.

    A SQLite workspace upgrades itself when opened. A PostgreSQL database, which servers of the
    older release may share, is upgraded only by this command: stop those servers, run it once,
    start the new release (docs/migrations.md).

    Example: datawheel migrate
    """
    from datawheel.errors import ConfigError
    from datawheel.store.schema_version import migrate_workspace
    from datawheel.store.workspace import DB_URL_ENV, resolve_workspace_dir

    root = resolve_workspace_dir(config.parent.resolve(), workspace)
    db_url = os.environ.get(DB_URL_ENV)
    if not config.is_file() and not root.exists() and not db_url:
        raise ConfigError(
            "no workspace to migrate here",
            where=str(root),
            hint="run inside a project, or pass -c / --workspace",
        )
    change = migrate_workspace(root, db_url=db_url, key_dir=config.parent.resolve())
    if change.before is None:
        console.print(f"Created the database at schema revision {change.after}.")
    elif not change.applied:
        console.print(f"The database is at schema revision {change.after}: nothing to do.")
    else:
        steps = ", ".join(change.applied)
        console.print(f"Upgraded the database from {change.before} to {change.after} ({steps}).")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.command()(migrate)
