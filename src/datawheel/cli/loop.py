"""Loop commands: feedback stats, feedback accuracy, loop."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    JsonOption,
    WorkspaceOption,
    authorized,
    console,
    load_project,
    open_workspace,
    print_json,
)

feedback_app = typer.Typer(
    help="Customer feedback.\n\nExample: datawheel feedback stats --by issue", no_args_is_help=True
)

WindowOption = Annotated[
    str | None,
    typer.Option("--window", help='Only feedback newer than this, e.g. "7d", "24h".'),
]


def _trend(row: dict[str, Any]) -> str:
    if row["trend"] is None:
        return "new" if row["last_7d"] else "—"
    return f"{row['trend']:+.0%}"


@feedback_app.command("stats")
@authorized("read")
def feedback_stats_cmd(
    by: Annotated[Literal["issue", "model", "tenant"], typer.Option(help="Group by.")] = "issue",
    window: WindowOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Feedback counts, shares and the 7-day trend per issue, model version or tenant.

    Example: datawheel feedback stats --by model --window 30d
    """
    from datawheel.loop.feedback import feedback_stats

    with open_workspace(config, workspace) as ws:
        rows = feedback_stats(ws, by=by, window=window)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"feedback by {by}" + (f" (last {window})" if window else ""))
    for column in (by, "count", "share", "labeled", "mean rating", "last 7 d", "prev 7 d", "trend"):
        table.add_column(column)
    for r in rows:
        rating = "—" if r["mean_rating"] is None else f"{r['mean_rating']:.2f}"
        table.add_row(
            str(r["group"]),
            str(r["count"]),
            f"{r['share']:.1%}",
            str(r["labeled"]),
            rating,
            str(r["last_7d"]),
            str(r["previous_7d"]),
            _trend(r),
        )
    console.print(table)


@feedback_app.command("accuracy")
@authorized("read")
def feedback_accuracy_cmd(
    window: WindowOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Live accuracy of each model version on labeled feedback, with a 95 % Wilson interval.

    Example: datawheel feedback accuracy --window 7d
    """
    from dataclasses import asdict

    from datawheel.loop.feedback import live_accuracy
    from datawheel.registry.versions import list_versions

    with open_workspace(config, workspace) as ws:
        rows = [asdict(live_accuracy(ws, v.id, window=window)) for v in list_versions(ws)]
    if as_json:
        print_json(rows)
        return
    table = Table(title="live accuracy" + (f" (last {window})" if window else ""))
    for column in ("version", "labels", "accuracy", "95 % interval"):
        table.add_column(column)
    for r in rows:
        known = r["accuracy"] is not None
        table.add_row(
            r["model_version"],
            str(r["labeled"]),
            f"{r['accuracy']:.4f}" if known else "—",
            f"[{r['low']:.4f}, {r['high']:.4f}]" if known else "—",
        )
    console.print(table)


class _Stopped(BaseException):
    """Raised by the signal handler to abandon a turn in progress (its transactions roll back)."""


def _print_report(report: Any) -> None:
    for note in report.recovered:
        console.print(f"[yellow]recovered:[/] {note}")
    console.print(
        f"{report.reason}"
        + (f" → {report.challenger}: [bold]{report.decision}[/]" if report.decision else "")
    )
    for tenant, why in report.excluded.get("tenants", {}).items():
        console.print(f"  · feedback of tenant {tenant} left out: {why}")
    for reason in report.reasons:
        console.print(f"  · {reason}")


@authorized("train")
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

    SIGTERM or Ctrl-C stops cleanly: a turn in progress is abandoned (its run is marked failed,
    the champion keeps serving) and the command exits.

    Example: datawheel loop --interval 3600
    """
    from datawheel.loop.runner import run_once

    if once == (interval is not None):
        raise typer.BadParameter("pass exactly one of --once or --interval SECONDS")
    project = load_project(config, workspace)
    stop = threading.Event()
    busy = threading.Event()

    def on_signal(*_: Any) -> None:
        stop.set()
        if busy.is_set():
            busy.clear()
            raise _Stopped

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        while not stop.is_set():
            with project.open_workspace(actor="loop") as ws:
                busy.set()
                try:
                    with console.status("loop: checking…"):
                        report = run_once(ws, project.config, force=force)
                finally:
                    busy.clear()
            if as_json:
                print_json(report.to_dict())
            else:
                _print_report(report)
            if interval is None or stop.wait(interval):
                break
    except _Stopped:
        console.print("loop: stopped; the turn in progress was abandoned")
        if interval is None:
            raise typer.Exit(1) from None
        return
    if stop.is_set():
        console.print("loop: stopped")


def register(app: typer.Typer) -> None:
    app.add_typer(feedback_app, name="feedback")
    app.command()(loop)
