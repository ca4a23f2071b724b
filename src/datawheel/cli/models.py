"""Model and run commands: models list/show/promote/rollback, runs list/show."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    JsonOption,
    WorkspaceOption,
    authorized,
    console,
    open_workspace,
    print_json,
)

models_app = typer.Typer(
    help="Model versions and their stages.\n\nExample: datawheel models list", no_args_is_help=True
)
runs_app = typer.Typer(
    help="Tracked training runs.\n\nExample: datawheel runs list", no_args_is_help=True
)


@models_app.command("list")
@authorized("read")
def models_list(
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """List model versions with stage and held-out metrics.

    Example: datawheel models list --json
    """
    from datawheel.registry.versions import list_versions

    with open_workspace(config, workspace) as ws:
        versions = list_versions(ws)
    if as_json:
        print_json([asdict(v) for v in versions])
        return
    table = Table(title="model versions")
    columns = ("version", "stage", "primary (own test set)", "baseline", "fairness gap",
               "DP ε", "train set", "created")  # fmt: skip
    for column in columns:
        table.add_column(column, no_wrap=column in ("version", "stage"))
    for v in versions:
        dp = v.metrics.get("privacy")
        primary = v.metrics.get("primary") or {}
        value = primary.get("value", v.metrics.get("accuracy"))
        metric = primary.get("metric", "accuracy")
        baseline = primary.get("baseline")
        gap = v.metrics.get("fairness_gap")
        table.add_row(
            v.id,
            v.stage,
            "—" if value is None else f"{metric} {value:.4f}",
            "—" if baseline is None else (
                f"{baseline:.3f} " + ("beaten" if primary.get("beats_baseline") else "NOT beaten")
            ),
            "n/m" if gap is None else f"{gap:.4f}",
            f"{dp['epsilon']:.2f}" if dp else "—",
            v.dataset_id,
            v.created_at[:19],
        )  # fmt: skip
    console.print(table)
    console.print(
        "Each version's own test set differs: compare versions on the same rows with "
        "`datawheel status`. Fairness gap: equalized odds over groups with >= "
        "gates.min_group_size positives / negatives (see `models show`); n/m = not measurable."
    )


@models_app.command("show")
@authorized("read")
def models_show(
    model: Annotated[str, typer.Argument(help="Version id, number or 'champion'.")],
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Show one version: metrics, fairness, input schema, lineage.

    Example: datawheel models show champion
    """
    from datawheel.registry.versions import get_version

    with open_workspace(config, workspace) as ws:
        print_json(asdict(get_version(ws, model)))


@models_app.command("promote")
@authorized("promote")
def models_promote(
    model: Annotated[str, typer.Argument(help="Version to make champion.")],
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Make a version the champion now (running servers switch live); audited.

    Example: datawheel models promote v2
    """
    from datawheel.registry.versions import promote

    with open_workspace(config, workspace) as ws:
        version = promote(ws, model, reason="promoted by hand")
    console.print(f"{version.id} is now the champion.")


@models_app.command("rollback")
@authorized("promote")
def models_rollback(
    config: ConfigOption = DEFAULT_CONFIG, workspace: WorkspaceOption = None
) -> None:
    """Restore the previous champion at once; audited.

    Example: datawheel models rollback
    """
    from datawheel.registry.versions import rollback

    with open_workspace(config, workspace) as ws:
        version = rollback(ws, reason="rollback by hand")
    console.print(f"Rolled back: {version.id} is the champion again.")


@runs_app.command("list")
@authorized("read")
def runs_list(
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """List training runs.

    Example: datawheel runs list
    """
    from datawheel.store.runs import list_runs

    with open_workspace(config, workspace) as ws:
        runs = list_runs(ws)
    if as_json:
        print_json([asdict(r) for r in runs])
        return
    table = Table(title="runs")
    for column in ("run", "kind", "status", "accuracy", "epochs", "seconds", "device", "started"):
        table.add_column(column)
    for r in runs:
        table.add_row(
            r.id,
            r.kind,
            r.status,
            f"{r.metrics.get('accuracy', 0):.4f}",
            str(len(r.history)),
            f"{r.metrics.get('seconds', 0):.1f}",
            str(r.environment.get("device", "")),
            r.started_at[:19],
        )
    console.print(table)


@runs_app.command("show")
@authorized("read")
def runs_show(
    run: Annotated[str, typer.Argument(help="Run id.")],
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
) -> None:
    """Show a run: parameters, per-epoch history, metrics, environment.

    Example: datawheel runs show run_0123456789ab
    """
    from datawheel.store.runs import get_run

    with open_workspace(config, workspace) as ws:
        print_json(asdict(get_run(ws, run)))


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.add_typer(runs_app, name="runs")
