"""Data commands: clean and dedup, over files of any size (streamed in batches)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    EncodingOption,
    EngineOption,
    RayAddressOption,
    authorized,
    console,
    err_console,
)

InputArg = Annotated[
    str,
    typer.Argument(
        help="Input table: .csv .parquet .jsonl, optionally .gz; with --engine ray also a "
        "folder of Parquet parts, local or s3://BUCKET/PREFIX."
    ),
]
OutputOption = Annotated[
    str, typer.Option("--output", "-o", help="Output table; the format follows the extension.")
]
OnBadLinesOption = Annotated[
    str,
    typer.Option(
        help="A malformed line: 'error' stops and names it; 'skip' counts it and copies it to "
        "the bad-lines file."
    ),
]
BadLinesOption = Annotated[
    Path | None,
    typer.Option("--bad-lines", help="Where skipped lines go (default: OUTPUT.bad-lines.csv)."),
]
BatchOption = Annotated[int, typer.Option(help="Rows per streamed batch.")]


@authorized("prepare")
def clean(
    input_path: InputArg,
    output: OutputOption,
    config: Annotated[
        Path, typer.Option("--config", "-c", help="Project file (its clean: and data: sections).")
    ] = DEFAULT_CONFIG,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML data-quality report here.")
    ] = None,
    encoding: EncodingOption = None,
    on_bad_lines: OnBadLinesOption = "error",
    bad_lines: BadLinesOption = None,
    batch_rows: BatchOption = 100_000,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Clean a table: exact and near duplicates, missing values, outliers, rules.

    Uses the clean: section of the project file when there is one (roles from its data:
    section); otherwise the defaults, with column roles inferred and no target. Image and
    audio columns (data.images, data.audio) are decoded and checked; bad files are listed in
    OUTPUT.media-rejects.csv and duplicate files removed.

    Example: datawheel clean data/raw.csv -o data/clean.parquet --report quality.html
    """
    from datawheel.config import CleanConfig, load_config
    from datawheel.data.engines import check_engine, local_path

    on_ray = check_engine(engine) == "ray"
    if on_ray and report is not None:
        from datawheel.errors import UsageError

        raise UsageError(
            "--report is written by the local engine",
            where="--engine ray",
            hint="drop --report, or run the local engine on a sample for the report",
        )
    clean_config, data, pii, blur = CleanConfig(), None, [], False
    if config.is_file():
        project = load_config(config, check_source=False)
        clean_config, data, pii = project.clean, project.data, list(project.privacy.columns)
        blur = project.privacy.images.faces == "blur"
    elif config != DEFAULT_CONFIG:
        from datawheel.errors import ConfigError

        raise ConfigError("project file not found", where=str(config), hint="check -c")
    common: dict[str, Any] = {
        "config": clean_config,
        "data": data,
        "pii_columns": pii,
        "batch_rows": batch_rows,
        "encoding": encoding or (data.encoding if data is not None else "auto"),
        "on_bad_lines": _on_bad_lines(on_bad_lines),
        "bad_lines_path": bad_lines or _side_file(output),
    }
    if on_ray and "://" in output and bad_lines is None:
        common["bad_lines_path"] = None  # a side file beside a bucket output: only if asked
    with progress_bar() as progress:
        if on_ray:
            from datawheel.data.ray_clean import clean_file_on_ray

            result = clean_file_on_ray(
                input_path, output, address=ray_address, progress=progress, **common
            )
        else:
            from datawheel.data.clean_file import clean_file

            result = clean_file(
                local_path(input_path),
                local_path(output, what="--output"),
                report=report,
                progress=progress,
                blur_faces=blur,
                **common,
            )
    for line in result.type_issues.values():
        err_console.print(f"[yellow]warning:[/] mixed types in {line}")
    s = result.stats
    console.print(
        f"rows in {s.rows_in:,} · rows out {s.rows_out:,} · {result.seconds:.2f} s → {output}"
    )
    _print_removed(s.dropped)
    if result.read.bad_lines_path:
        console.print(f"malformed lines copied to {result.read.bad_lines_path}")
    if result.media is not None:
        from datawheel.cli.media import print_media

        print_media(result.media.summary(), result.media_rejects)
    if result.report:
        console.print(f"report: {result.report}")


@authorized("prepare")
def dedup(
    input_path: InputArg,
    output: OutputOption,
    text_field: Annotated[
        str | None, typer.Option("--text-field", help="The text column compared.")
    ] = None,
    images: Annotated[
        str | None,
        typer.Option("--images", help="Image columns compared instead (comma-separated)."),
    ] = None,
    audio: Annotated[
        str | None,
        typer.Option("--audio", help="Audio columns compared instead (comma-separated)."),
    ] = None,
    max_distance: Annotated[
        int, typer.Option(help="Images: the most pHash bits (of 64) two copies differ in.")
    ] = 6,
    threshold: Annotated[
        float, typer.Option(help="Jaccard similarity of shingle sets at which rows match.")
    ] = 0.8,
    exact_only: Annotated[
        bool, typer.Option("--exact-only", help="Only texts equal after normalization.")
    ] = False,
    clusters: Annotated[
        Path | None,
        typer.Option(help='Write {"index": i, "cluster": c} per input row (JSON lines).'),
    ] = None,
    encoding: EncodingOption = None,
    on_bad_lines: OnBadLinesOption = "error",
    bad_lines: BadLinesOption = None,
    batch_rows: BatchOption = 100_000,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Remove duplicate rows by one text column: the first row of each cluster is kept.

    Exact duplicates match after NFKC, case and whitespace folding; near duplicates by MinHash
    + LSH on word (or, for Chinese, character) 5-grams, verified on the shingle sets.
    With --images/--audio instead, rows are compared by their files: the same content, or
    images whose perceptual hashes differ in at most --max-distance bits.

    Example: datawheel dedup docs.jsonl -o unique.jsonl --text-field text --clusters c.jsonl
    """
    if images or audio:
        _dedup_media(
            input_path, output, text_field, images, audio, max_distance, exact_only, clusters,
            encoding, on_bad_lines, bad_lines, engine,
        )  # fmt: skip
        return
    if text_field is None:
        from datawheel.errors import UsageError

        raise UsageError(
            "name the column to compare",
            hint="--text-field F, or --images COL / --audio COL for files",
        )
    from datawheel.data.engines import check_engine, local_path

    if check_engine(engine) == "ray":
        from datawheel.data.ray_engine import dedup_file_on_ray

        if exact_only:
            from datawheel.errors import UsageError

            raise UsageError(
                "--exact-only works with the local engine only",
                where="--engine ray",
                hint="drop it, or use --engine local",
            )
        with progress_bar() as progress:
            stats = dedup_file_on_ray(
                input_path,
                output,
                text=text_field,
                threshold=threshold,
                address=ray_address,
                encoding=encoding or "auto",
                clusters=clusters,
                progress=progress,
            )
        console.print(
            f"rows in {stats.rows_in:,} · exact {stats.exact_duplicates:,} · near "
            f"{stats.near_duplicates:,} · kept {stats.kept:,} · {stats.seconds:.2f} s on Ray "
            f"→ {output}"
        )
        return
    from datawheel.data.dedup_file import dedup_file

    with progress_bar() as progress:
        result = dedup_file(
            local_path(input_path),
            local_path(output, what="--output"),
            text=text_field,
            threshold=threshold,
            exact_only=exact_only,
            clusters=clusters,
            batch_rows=batch_rows,
            encoding=encoding or "auto",
            on_bad_lines=_on_bad_lines(on_bad_lines),
            bad_lines_path=bad_lines or _side_file(output),
            progress=progress,
        )
    s = result.stats
    console.print(
        f"rows in {s.rows_in:,} · exact {s.exact_duplicates:,} · near {s.near_duplicates:,} · "
        f"kept {s.kept:,} · {s.seconds:.2f} s → {output}"
    )
    removed = {"exact_duplicate": s.exact_duplicates, "near_duplicate": s.near_duplicates}
    _print_removed({**removed, "bad_line": result.read.bad_lines})
    if result.read.bad_lines_path:
        console.print(f"malformed lines copied to {result.read.bad_lines_path}")


def _dedup_media(
    input_path: str,
    output: str,
    text_field: str | None,
    images: str | None,
    audio: str | None,
    max_distance: int,
    exact_only: bool,
    clusters: Path | None,
    encoding: str | None,
    on_bad_lines: str,
    bad_lines: Path | None,
    engine: str,
) -> None:
    from datawheel.cli.media import print_media
    from datawheel.data.engines import local_only, local_path
    from datawheel.data.media.dedup_file import dedup_media_file
    from datawheel.errors import UsageError

    local_only(engine, "dedup --images/--audio")
    if text_field is not None:
        raise UsageError(
            "compare by a text column or by files, not both in one run",
            hint="run dedup twice, or `datawheel clean` with the project file for both",
        )
    if not 0 <= max_distance <= 24:
        raise UsageError(f"--max-distance must be between 0 and 24, got {max_distance}")
    with progress_bar() as progress:
        result = dedup_media_file(
            local_path(input_path),
            local_path(output, what="--output"),
            images=[c.strip() for c in (images or "").split(",") if c.strip()],
            audio=[c.strip() for c in (audio or "").split(",") if c.strip()],
            max_distance=max_distance,
            exact_only=exact_only,
            clusters=clusters,
            encoding=encoding or "auto",
            on_bad_lines=_on_bad_lines(on_bad_lines),
            bad_lines_path=bad_lines or _side_file(output),
            progress=progress,
        )
    console.print(
        f"rows in {result.rows_in:,} · kept {result.kept:,} · {result.seconds:.2f} s → {output}"
    )
    _print_removed({**result.dropped, "bad_line": result.read.bad_lines})
    print_media(result.scan.summary(), result.rejects_file)


def _on_bad_lines(value: str) -> Any:
    if value not in ("error", "skip"):
        from datawheel.errors import UsageError

        raise UsageError(f"--on-bad-lines must be 'error' or 'skip', got {value!r}")
    return value


def _side_file(output: str) -> Path:
    return Path(output).with_name(Path(output).name + ".bad-lines.csv")


def _print_removed(dropped: dict[str, int]) -> None:
    shown = {k: v for k, v in dropped.items() if v}
    if shown:
        console.print("rows removed: " + ", ".join(f"{k} {v:,}" for k, v in shown.items()))
    else:
        console.print("rows removed: none")


@contextmanager
def progress_bar() -> Iterator[Any]:
    """A rich progress bar per stage (shown on a terminal only), as a progress callback."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    with bar:
        yield update


def register(app: typer.Typer) -> None:
    app.command()(clean)
    app.command()(dedup)
