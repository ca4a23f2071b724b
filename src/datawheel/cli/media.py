"""Media commands: check the image and audio columns of a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from datawheel.cli.common import (
    DEFAULT_CONFIG,
    EncodingOption,
    JsonOption,
    authorized,
    console,
    print_json,
)

media_app = typer.Typer(
    help="Images and audio in tables: check that every file decodes.\n\n"
    "Example: datawheel media check data.csv --images photo --audio voice",
    no_args_is_help=True,
)


def _columns(value: str | None) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()] if value else []


@media_app.command("check")
@authorized("scan")
def media_check(
    source: Annotated[Path, typer.Argument(help="Input table: .csv, .parquet or .jsonl.")],
    images: Annotated[
        str | None, typer.Option("--images", help="Image columns, comma-separated.")
    ] = None,
    audio: Annotated[
        str | None, typer.Option("--audio", help="Audio columns, comma-separated.")
    ] = None,
    config: Annotated[
        Path,
        typer.Option(
            "--config", "-c", help="Project file: its data.images, data.audio and clean.media."
        ),
    ] = DEFAULT_CONFIG,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Where bad files are listed (default: FILE.media-rejects.csv)."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when any file is rejected.")
    ] = False,
    encoding: EncodingOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decode every image and clip; count bad files by reason and list them in a side file.

    Values may be paths (relative to the table's folder), bytes, base64 or data: URIs. The
    columns come from --images/--audio, else from the project file's data: section.

    Example: datawheel media check data.csv --images photo --audio voice --strict
    """
    from datawheel.config import MediaCleanConfig, load_config
    from datawheel.data.media.check import check_media_file

    clean, named_images, named_audio = MediaCleanConfig(), _columns(images), _columns(audio)
    if config.is_file():
        project = load_config(config, check_source=False)
        clean = project.clean.media
        if not (named_images or named_audio):
            named_images, named_audio = project.data.images, project.data.audio
    elif config != DEFAULT_CONFIG:
        from datawheel.errors import ConfigError

        raise ConfigError("project file not found", where=str(config), hint="check -c")
    result = check_media_file(
        source,
        images=named_images,
        audio=named_audio,
        config=clean,
        rejects=rejects,
        encoding=encoding or "auto",
    )
    if as_json:
        print_json(
            {
                "rows": result.rows,
                "columns": result.scan.summary(),
                "rejects_file": str(result.rejects_file) if result.rejects_file else None,
            }
        )
    else:
        console.print(f"{result.rows:,} rows · {result.seconds:.2f} s")
        print_media(result.scan.summary(), result.rejects_file)
    if strict and not result.ok:
        raise typer.Exit(1)


def print_media(summary: dict[str, Any], rejects_file: Any = None) -> None:
    """One line per media column: files checked, absent, rejected by reason, clips cut."""
    for column, entry in summary.items():
        if not isinstance(entry, dict):
            continue
        rejected = entry.get("rejected", {})
        bad = ", ".join(f"{reason} {n:,}" for reason, n in rejected.items()) or "none"
        line = (
            f"{column} ({entry['kind']}): {entry['checked']:,} ok · {entry['absent']:,} empty "
            f"cells · rejected: {bad}"
        )
        if entry.get("cut"):
            line += f" · {entry['cut']:,} clips cut to the length limit"
        console.print(line)
    if summary.get("rows_dropped"):
        console.print(f"rows dropped for a bad file: {summary['rows_dropped']:,}")
    if rejects_file:
        console.print(f"bad files listed in {rejects_file}")


def register(app: typer.Typer) -> None:
    app.add_typer(media_app, name="media")
