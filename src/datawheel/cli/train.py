"""Training commands: train (one process or torchrun DDP), export, tune."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

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


@authorized("train")
def train(
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    device: Annotated[
        str | None, typer.Option(help="auto | cpu | cuda | mps (default: train.device).")
    ] = None,
    precision: Annotated[
        str | None, typer.Option(help="auto | fp32 | bf16 | fp16 (default: train.precision).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the checkpoint of an interrupted run.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar with live metrics.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Run the pipeline with checkpoints: ingest → clean → anonymize → split → train → register.

    Under torchrun (torchrun --nproc-per-node N -m datawheel train) every process trains its
    share of each batch; rank 0 alone writes datasets, checkpoints, the run and the version.

    Example: datawheel train --device cpu --precision fp32 --resume
    """
    from datawheel.cli.project import _print_run
    from datawheel.errors import UsageError
    from datawheel.train.distributed import dist_info, shutdown_distributed

    for name, value, allowed in (
        ("--device", device, ("auto", "cpu", "cuda", "mps")),
        ("--precision", precision, ("auto", "fp32", "bf16", "fp16")),
    ):
        if value is not None and value not in allowed:
            raise UsageError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    project = load_project(config, workspace)
    if device:
        project.config.train.device = device
    if precision:
        project.config.train.precision = precision
    try:
        report = project.run(
            progress=progress and not as_json,
            on_stage=None if as_json else lambda s: console.print(f"[dim]{s}…[/]"),
            resume=resume,
        )
    finally:
        main = dist_info().is_main
        shutdown_distributed()
    if report is None or not main:
        return
    if as_json:
        print_json(report.to_dict())
        return
    _print_run(report)


@authorized("export")
def export(
    model: Annotated[str, typer.Argument(help="Version id, number or stage.")] = "champion",
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the bundle.")] = Path(
        "export"
    ),
    int8: Annotated[
        bool, typer.Option("--int8", help="Also write a dynamically quantized int8 ONNX model.")
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export a model version as a portable bundle that predicts without datawheel.

    The folder holds the ONNX model, the preprocessing as JSON, predict.py (onnxruntime + numpy
    only), model.pt, the model card and the LICENSE.

    Example: datawheel export champion -o bundle --int8
    """
    from datawheel.registry.version_export import export_version

    project_config = load_project(config, workspace).config if config.is_file() else None
    with open_workspace(config, workspace) as ws:
        report = export_version(ws, model, output, int8=int8, config=project_config)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(f"Exported to {report.directory}: {', '.join(report.files)}")
    console.print(f"ONNX {report.onnx_bytes / 1024:.1f} KiB", end="")
    if report.int8_bytes is not None:
        console.print(
            f" · int8 {report.int8_bytes / 1024:.1f} KiB (ratio {report.size_ratio:.2f})", end=""
        )
    console.print()
    if report.accuracy_torch is not None:
        line = (
            f"held-out rows {report.rows} · max |ONNX − torch| {report.max_abs_diff:.2e} · "
            f"accuracy {report.accuracy_torch:.4f}"
        )
        if report.accuracy_int8 is not None:
            change = report.accuracy_int8 - report.accuracy_torch
            line += f" · int8 accuracy {report.accuracy_int8:.4f} ({change:+.4f})"
        console.print(line)
    console.print(f"Try: python {report.directory}/predict.py rows.jsonl")


@authorized("train")
def tune(
    trials: Annotated[int, typer.Option("--trials", help="Trainings to try.", min=1)] = 20,
    config: ConfigOption = DEFAULT_CONFIG,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search learning rate, width, dropout and weight decay with Optuna (extra `tune`).

    The best settings go to the tuned file datawheel.yaml names (its `tuned` key), else to
    datawheel.tuned.yaml, and the key is added; train, run and the loop then use them.

    Example: datawheel tune --trials 20
    """
    project = load_project(config, workspace)

    def show(outcome: dict[str, Any]) -> None:
        if not as_json:
            params = ", ".join(f"{k}={v:.4g}" for k, v in outcome["params"].items())
            console.print(
                f"trial {outcome['trial']}: {outcome['status']} · val loss "
                f"{outcome['val_loss']:.4f} · val acc {outcome['val_accuracy']:.4f} · {params}"
            )

    report = project.tune(trials=trials, on_trial=show)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"best: val loss {report.best_val_loss:.4f} · val acc {report.best_val_accuracy:.4f} "
        f"→ {report.path}"
    )
    if report.referenced:
        console.print(f"added `tuned: {Path(report.path).name}` to {project.path.name}")


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(export)
    app.command()(tune)
