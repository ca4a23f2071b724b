"""Store commands: audit verify."""

from __future__ import annotations

import typer

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    WorkspaceOption,
    console,
    open_workspace,
)

audit_app = typer.Typer(
    help="The tamper-evident audit log.\n\nExample: datawheel audit verify", no_args_is_help=True
)


@audit_app.command("verify")
def audit_verify(config: ConfigOption = DEFAULT_CONFIG, workspace: WorkspaceOption = None) -> None:
    """Recompute the hash chain; exit 1 if an entry was edited, inserted or deleted.

    Example: datawheel audit verify
    """
    from datawheel.store.audit import verify

    with open_workspace(config, workspace) as ws:
        report = verify(ws.engine)
    if report.ok:
        console.print(f"audit chain verifies: {report.entries} entries")
        return
    typer.echo(f"Error: audit chain broken at entry {report.seq}: {report.problem}", err=True)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
