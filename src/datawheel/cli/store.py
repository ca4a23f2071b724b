"""Store commands: audit verify."""

from __future__ import annotations

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
    """Recompute the keyed chain and check its head file; exit 1 if an entry was edited,
    forged, inserted or deleted.

    Example: datawheel audit verify
    """
    from datawheel.store.audit import LEGACY

    with open_workspace(config, workspace) as ws:
        report = ws.verify_audit()
    if report.ok:
        console.print(f"audit chain verifies: {report.entries} entries")
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


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
