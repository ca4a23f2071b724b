"""Evaluation commands: evaluate (metrics, fairness, the model card) and explain (SHAP, LIME)."""

from __future__ import annotations

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


@authorized("read")
def evaluate(
    model: Annotated[str, typer.Argument(help="Version id, number or 'champion'.")] = "champion",
    data: Annotated[
        Path | None,
        typer.Option(help="Labelled rows to score (.csv .parquet .jsonl); default: held-out set."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write the model card (HTML) to this file.")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    encoding: EncodingOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score a model version: metrics with 95% intervals, the baseline, fairness per group.

    Without --data it uses the version's held-out test split; a --data file is anonymized with
    the project's privacy rules first. --report writes the model card.

    Example: datawheel evaluate champion --report card.html
    """
    from datawheel.project.evaluation import evaluate_model

    project = load_project(config, workspace)
    with project.open_workspace() as ws:
        result = evaluate_model(
            project, ws, model=model, data=data, report=report, encoding=encoding
        )
    if as_json:
        print_json(result.to_dict())
        return
    _print_evaluation(result)


def _print_evaluation(result: Any) -> None:
    print_primary(result.primary, result.warnings)
    metrics = Table(title=f"{result.model_version} on {result.data} ({result.rows} rows)")
    for column in ("metric", "value", "95% CI"):
        metrics.add_column(column, justify="right" if column != "metric" else "left")
    for name in ("accuracy", "balanced_accuracy", "f1", "precision", "recall", "macro_f1",
                 "roc_auc", "log_loss", "brier", "ece", "rmse", "mae", "r2"):  # fmt: skip
        value = result.metrics.get(name)
        if value is None:
            continue
        low_high = result.intervals.get(name)
        note = result.interval_notes.get(name, "")
        ci = f"[{low_high[0]:.4g}, {low_high[1]:.4g}]" if low_high else note
        metrics.add_row(name, f"{value:.4g}", ci)
    console.print(metrics)
    baseline = result.metrics.get("baseline")
    if isinstance(baseline, dict):
        console.print(f"mean baseline ({baseline['value']:.4g}): rmse {baseline['rmse']:.4g} · "
                      f"mae {baseline['mae']:.4g}")  # fmt: skip
    if result.split:
        console.print(f"split: {result.split.get('description', '')}")
    if not result.fairness:
        reason = result.fairness_gate.get("reason") or "no sensitive columns declared"
        console.print(f"fairness: not measurable — {reason}")
        return
    groups = Table(title="fairness by group")
    for column in ("column", "group", "n", "selection", "TPR", "FPR", "accuracy"):
        groups.add_column(column, justify="left" if column in ("column", "group") else "right")
    gaps = Table(title="fairness gaps")
    for column in ("column", "DP difference", "DP ratio", "EO difference"):
        gaps.add_column(column, justify="left" if column == "column" else "right")
    for column, entry in result.fairness.items():
        for i, (group, s) in enumerate(entry["groups"].items()):
            groups.add_row(column, group, str(s["n"]), f"{s['selection_rate']:.3f}",
                           f"{s['tpr']:.3f}", f"{s['fpr']:.3f}", f"{s['accuracy']:.3f}",
                           end_section=i == len(entry["groups"]) - 1)  # fmt: skip
        ratio = entry["demographic_parity_ratio"]
        gaps.add_row(column, f"{entry['demographic_parity_difference']:.3f}",
                     "—" if ratio is None else f"{ratio:.3f}",
                     f"{entry['equalized_odds_difference']:.3f}")  # fmt: skip
    console.print(groups)
    console.print(gaps)
    gated = result.fairness_gate.get("text", "")
    console.print(f"gated fairness gap (equalized odds): {gated}")
    if result.report_path:
        console.print(f"model card: {result.report_path}")


@authorized("read")
def explain(
    paths: Annotated[
        list[str], typer.Argument(metavar="[MODEL] INPUT", help="Model version, then the rows.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON lines to write.")],
    method: Annotated[str, typer.Option(help="shap (exact or sampled) or lime.")] = "shap",
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    encoding: EncodingOption = None,
) -> None:
    """Explain each input row: one JSON line {"index", "label", "base_value", "values"}.

    base_value + sum(values) = the model's probability of label (the predicted class).
    Rows are anonymized with the project's privacy rules before the model sees them.

    Example: datawheel explain champion rows.csv -o explanations.jsonl --method shap
    """
    from datawheel.errors import UsageError
    from datawheel.project.evaluation import explain_file

    if len(paths) not in (1, 2):
        raise UsageError(
            f"expected [MODEL] INPUT, got {len(paths)} arguments",
            hint="datawheel explain champion rows.csv -o out.jsonl",
        )
    model, input_path = (paths[0], paths[1]) if len(paths) == 2 else ("champion", paths[0])
    project = load_project(config, workspace)
    with project.open_workspace() as ws:
        count = explain_file(
            project, ws, input_path, output, model=model, method=method, encoding=encoding
        )
    console.print(f"Explained {count} rows → {output}")


def register(app: typer.Typer) -> None:
    app.command()(evaluate)
    app.command()(explain)
