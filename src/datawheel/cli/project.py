"""Project commands: init, run, status, demo."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    EncodingOption,
    JsonOption,
    WorkspaceOption,
    authorized,
    console,
    load_project,
    print_json,
    print_primary,
)
from datawheel.i18n.catalog import N_, translate


def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new project.")] = Path("."),
    example: Annotated[str, typer.Option(help="Bundled example to start from.")] = "income",
    source: Annotated[
        Path | None, typer.Option("--from", help="Your own table (.csv .parquet .jsonl).")
    ] = None,
    target: Annotated[str | None, typer.Option(help="With --from: the column to predict.")] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="With --from: the data-subject column.")
    ] = None,
    time_column: Annotated[
        str | None, typer.Option("--time", help="With --from: a timestamp column.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing datawheel.yaml.")] = False,
    encoding: EncodingOption = None,
) -> None:
    """Scaffold a project: a commented datawheel.yaml, sample data, and a fresh secret key.

    With --from FILE --target COL the project is written for your own table: column roles,
    PII rules and the task are inferred from a sample, each with a comment saying why.
    The key goes to datawheel.key (mode 0600, git-ignored); DATAWHEEL_KEY overrides it.

    Example: datawheel init churn --from customers.csv --target churned --id customer_id
    """
    from datawheel.project.scaffold import init_project

    if source is not None:
        _init_from(directory, source, target, id_column, time_column, force, encoding)
        return
    if target or id_column or time_column:
        raise typer.BadParameter("--target, --id and --time go with --from FILE")
    project_file = init_project(directory, example=example, force=force)
    console.print(f"Created {project_file} with sample data and a secret key (datawheel.key).")
    console.print(f"Next: cd {directory} && datawheel run")


def _init_from(
    directory: Path,
    source: Path,
    target: str | None,
    id_column: str | None,
    time_column: str | None,
    force: bool,
    encoding: str | None = None,
) -> None:
    from datawheel.project.scaffold_from import init_from_file

    if not target:
        raise typer.BadParameter("--from needs --target COL (the column to predict)")
    project_file, summary = init_from_file(
        directory, source, target=target, id_column=id_column, time_column=time_column,
        force=force, encoding=encoding or "auto",
    )  # fmt: skip
    console.print(f"Created {project_file} for {source} ({summary['rows']:,} rows): "
                  f"task {summary['task']}, and a secret key (datawheel.key).")  # fmt: skip
    for column, rule in summary["privacy"].items():
        console.print(f"  privacy: {column} → {rule}")
    for column, why in summary["leaks"].items():
        console.print(f"  [yellow]ignored as a likely leak of the target:[/] {column} ({why})")
    console.print(f"Next: cd {directory} && datawheel run")


@authorized("train")
def run(
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    encoding: EncodingOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the pipeline: ingest → clean → anonymize → split → train → evaluate → register.

    --encoding overrides the project's data.encoding for this run.

    Example: datawheel run -c datawheel.yaml
    """
    project = load_project(config, workspace)
    if encoding is not None:
        from datawheel.io import check_encoding

        check_encoding(encoding)
        project.config.data.encoding = encoding
    with console.status("starting…") as status:
        report = project.run(on_stage=lambda s: status.update(f"{s}…"))
    if as_json:
        print_json(report.to_dict())
        return
    _print_run(report)


def _print_run(report: Any) -> None:
    table = Table(title=f"{report.project}: model {report.model_version} ({report.stage})")
    table.add_column("stage")
    table.add_column("rows out", justify="right")
    table.add_column("seconds", justify="right")
    for stage, seconds in report.timings.items():
        table.add_row(stage, str(report.rows.get(stage, "")), f"{seconds:.2f}")
    console.print(table)
    if report.split:
        console.print(f"split: {report.split.get('description', '')}")
    print_primary(report.primary, report.warnings)
    m = report.metrics
    if "rmse" in m:
        base = m.get("baseline", {})
        console.print(
            f"{report.task} ({report.family}): rmse {m['rmse']:.4g} · mae {m['mae']:.4g} · "
            f"r2 {m['r2']:.4f} · mean baseline rmse {base.get('rmse', float('nan')):.4g}"
        )
    else:
        auc = "—" if m.get("roc_auc") is None else f"{m['roc_auc']:.4f}"
        console.print(
            f"{report.task} ({report.family}): accuracy {m['accuracy']:.4f} · balanced accuracy "
            f"{m['balanced_accuracy']:.4f} · f1 {m['f1']:.4f} · roc_auc {auc}"
        )
    if report.fairness_gate:
        console.print(f"fairness gap: {report.fairness_gate['text']}")
    _print_selection(report.selection)
    gate = report.gate
    if gate:
        verdict = "promoted to champion" if gate["decision"] == "promote" else "kept as archived"
        console.print(f"gate vs champion {gate['champion']}: {gate['decision']} — {verdict}")
        for reason in gate["reasons"]:
            console.print(f"  {reason}")
    if not report.primary.get("beats_baseline", True):
        console.print(f"[bold red]{report.model_version} stays a {report.stage}: gate failed[/]")
    dropped = report.cleaning.get("dropped", {})
    if dropped:
        console.print("rows removed: " + ", ".join(f"{k} {v}" for k, v in dropped.items()))
    if getattr(report, "media", None):
        from datawheel.cli.media import print_media

        print_media(report.media, report.media.get("rejects_file"))


def _print_selection(selection: dict[str, Any]) -> None:
    if not selection:
        return
    table = Table(title=f"model.kind auto: validation {selection['metric']} (95 % interval)")
    for column in ("family", selection["metric"], "interval", "gap to best", "seconds", ""):
        table.add_column(column)
    for c in selection["candidates"]:
        table.add_row(
            c["family"],
            f"{c['value']:.4f}",
            f"[{c['low']:.4f}, {c['high']:.4f}]",
            f"{c['gap_to_best']:+.4f} [{c['gap_low']:+.4f}, {c['gap_high']:+.4f}]",
            f"{c['seconds']:.2f}",
            "chosen" if c["chosen"] else "",
        )
    console.print(table)
    console.print(selection["reason"])


@authorized("read")
def status(
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show model versions, stages, live accuracy from feedback, drift, and alerts.

    Example: datawheel status
    """
    from datawheel.project.status import project_status

    project = load_project(config, workspace)
    with project.open_workspace() as ws:
        state = project_status(ws, project.config, project_file=project.path)
    if as_json:
        print_json(state)
        return
    _print_versions(project.config.name, state)
    _print_drift(state["drift"])
    shadow = state["shadow"]
    if shadow:
        console.print(f"shadow {shadow['shadow']}: " + "; ".join(shadow["reasons"]))
    if state["retraining"]:
        console.print(f"retraining now: run {state['retraining']}")
    if state["tuned"]:
        values = ", ".join(f"{k}={v}" for k, v in state["tuned"]["values"].items())
        console.print(f"tuned settings from {state['tuned']['file']}: {values or 'none'}")
    for alert in map(translate, state["alerts"]):  # worded in project.alerts, in the catalog
        console.print(f"[yellow]alert:[/] {alert}")
    if not state["alerts"]:
        console.print("no alerts")


def _live_cell(version: dict[str, Any], live: float | None, *, mixed: bool) -> str:
    if live is None:
        return "—"
    rmse = version["live_metric"] == "rmse"
    shown = f"{live:.4g}" if rmse else f"{live:.4f}"
    return f"{version['live_metric']} {shown}" if mixed else shown


def _live_interval(version: dict[str, Any], low: float | None, high: float | None) -> str:
    if version["live_value"] is None or low is None or high is None:
        return "—"
    if version["live_metric"] == "rmse":
        return f"[{low:.4g}, {high:.4g}]"
    return f"[{low:.3f}, {high:.3f}]"


def _print_versions(name: str, state: dict[str, Any]) -> None:
    window = state["versions"][0]["live_window"] if state["versions"] else ""
    # one live metric names the column; a task change across versions (classification and
    # regression) names it in each cell instead
    live_metrics = {v["live_metric"] for v in state["versions"]}
    live_metric = live_metrics.pop() if len(live_metrics) == 1 else "metric"
    compared = state.get("compared_on") or {}
    metric = compared.get("metric") or "primary metric"
    same = f"{metric} on the same {compared.get('rows', 0):,} rows" if compared else metric
    table = Table(title=f"{name}: model versions")
    for column in (
        "version",
        "stage",
        same,
        "95 % interval",
        "fairness gap",
        N_(f"live {live_metric} ({window})"),
        "95 % interval",
        "labels",
        "created",
    ):
        table.add_column(column)
    for v in state["versions"]:
        live = v["live_value"]
        low, high = v["live_interval"]
        score = v.get("compared") or {}
        value = score.get("value")
        if value is None:
            shown, interval = "—", score.get("note", "")
        else:
            shown = f"{value:.4f}"
            interval = (
                f"[{score['low']:.3f}, {score['high']:.3f}]"
                if score.get("low") is not None
                else score.get("interval", "")
            )
        gap = score.get("fairness_gap", v.get("fairness_gap"))
        table.add_row(
            v["id"],
            v["stage"],
            shown,
            interval,
            "n/m" if gap is None else f"{gap:.4f}",
            _live_cell(v, live, mixed=live_metric == "metric"),
            _live_interval(v, low, high),
            str(v["labeled"]),
            v["created_at"][:19],
        )
    console.print(table)
    if compared:
        console.print(
            f"scored on {compared['dataset']} ({compared['of']}'s evaluation rows); fairness gap: "
            f"equalized odds over groups with >= {state.get('min_group_size', 30)} positives / "
            "negatives (gates.min_group_size); n/m = not measurable"
        )
    if state.get("split"):
        console.print(f"champion's split: {state['split'].get('description', '')}")


def _print_drift(drift: dict[str, Any]) -> None:
    if not drift or not drift.get("features"):
        return
    judged = "" if drift["judged"] else " — too few to judge"
    table = Table(
        title=f"drift of {drift['version']}: training vs last {drift['recent']} requests{judged}"
    )
    for column in ("feature", "kind", "PSI", "test", "p-value", ""):
        table.add_column(column)
    for f in drift["features"]:
        table.add_row(
            f["feature"],
            f["kind"],
            f"{f['psi']:.3f}",
            f"{f['test']} {f['statistic']:.3g}",
            f"{f['p_value']:.2g}",
            f"[red]PSI > {f.get('threshold', drift['threshold']):g}, p < {f.get('alpha', 0):.1g}[/]"
            if f["drifted"]
            else "",
        )
    console.print(table)
    console.print(
        "drifted = PSI above loop.drift_psi_above AND a p-value (chi², KS) below the "
        "per-feature level: small windows need larger changes"
    )


def demo(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace", help="Folder for the demo project (default: a new temp folder)."
        ),
    ] = None,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Keep the API running afterwards; prints its URL and a key."),
    ] = False,
    traffic: Annotated[int, typer.Option(help="Customer rows to send.", min=50)] = 1500,
    epochs: Annotated[int | None, typer.Option(help="Override train.epochs.", min=1)] = None,
    report_file: Annotated[
        Path, typer.Option("--report", help="Where to write the HTML report.", show_default=True)
    ] = Path("demo-report.html"),
) -> None:
    """Run the whole loop on bundled census data: train, serve, feedback, retrain, gate, promote.

    Writes demo-report.html in the current folder (--report moves it).

    Example: datawheel demo --workspace /tmp/dw-demo
    """
    from datawheel.cli.demo_print import print_demo
    from datawheel.project.demo import run_demo

    with console.status("demo: starting…") as status:
        report, server = run_demo(
            workspace,
            traffic_rows=traffic,
            epochs=epochs,
            keep_serving=serve,
            on_stage=lambda s: status.update(s),
            report_file=report_file.resolve(),
        )
    print_demo(console, report)
    if server is None:
        return
    console.print(f"\nServing at [bold]{server.url}[/] — docs at {server.url}/docs")
    console.print(f"API key (shown once): [bold]{report.api_key}[/]")
    console.print(
        f"Try: curl -s {server.url}/v1/predict -H 'Authorization: Bearer "
        f"{report.api_key}' -H 'Content-Type: application/json' "
        '-d \'{"rows": [{"age": 50, "sex": "Female"}]}\''
    )
    console.print("Press Ctrl-C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(run)
    app.command()(status)
    app.command()(demo)
