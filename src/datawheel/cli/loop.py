"""Loop commands: feedback stats, loop."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Literal

import typer
from rich.table import Table

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    JsonOption,
    WorkspaceOption,
    console,
    load_project,
    open_workspace,
    print_json,
)

feedback_app = typer.Typer(
    help="Customer feedback.\n\nExample: datawheel feedback stats --by issue", no_args_is_help=True
)


@feedback_app.command("stats")
def feedback_stats_cmd(
    by: Annotated[Literal["issue", "model", "tenant"], typer.Option(help="Group by.")] = "issue",
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Feedback counts and shares per issue, model version or tenant.

    Example: datawheel feedback stats --by model
    """
    from datawheel.loop.feedback import feedback_stats

    ws = open_workspace(config, workspace)
    try:
        rows = feedback_stats(ws, by=by)
    finally:
        ws.close()
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"feedback by {by}")
    for column in (by, "count", "share", "labeled", "mean rating"):
        table.add_column(column)
    for r in rows:
        rating = "—" if r["mean_rating"] is None else f"{r['mean_rating']:.2f}"
        table.add_row(
            str(r["group"]), str(r["count"]), f"{r['share']:.1%}", str(r["labeled"]), rating
        )
    console.print(table)


def loop(
    once: Annotated[bool, typer.Option("--once", help="One check, then exit.")] = False,
    interval: Annotated[
        float | None,
        typer.Option("--interval", help="Check every SECONDS until SIGTERM or Ctrl-C.", min=1),
    ] = None,
    force: Annotated[bool, typer.Option(help="Retrain even if the policy does not fire.")] = False,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the policy; when it fires, retrain on data + feedback, gate, and promote or reject.

    Example: datawheel loop --once
    """
    from datawheel.loop.runner import run_once

    if once == (interval is not None):
        raise typer.BadParameter("pass exactly one of --once or --interval SECONDS")
    project = load_project(config, workspace)
    stop = threading.Event()
    if interval is not None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    while True:
        ws = project.open_workspace(actor="loop")
        try:
            with console.status("loop: checking…"):
                report = run_once(ws, project.config, force=force)
        finally:
            ws.close()
        if as_json:
            print_json(report.to_dict())
        else:
            console.print(
                f"{report.reason}"
                + (f" → {report.challenger}: [bold]{report.decision}[/]" if report.decision else "")
            )
            for reason in report.reasons:
                console.print(f"  · {reason}")
        if interval is None or stop.wait(interval):
            break


def register(app: typer.Typer) -> None:
    app.add_typer(feedback_app, name="feedback")
    app.command()(loop)
