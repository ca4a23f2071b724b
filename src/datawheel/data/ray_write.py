"""Writing a Ray dataset (blocks in row order, each a run of rows) without its ``_dw_``
columns: to a file through this process, or to a folder of Parquet parts named by their first
row, written by the cluster, with ``_datawheel.json`` last. Tasks' statistics (``_dw_note``)
come back beside the rows."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import polars as pl
import pyarrow as pa

from datawheel.data.ray_io import MANIFEST, NOTE, PART, ROW, Table
from datawheel.errors import DataError, UsageError

__all__ = ["Written", "check_output", "write_lines", "write_rows"]


@dataclass
class Written:
    """What ``write_rows`` wrote: rows, and the ``_dw_note`` strings the tasks attached (their
    statistics, one per block)."""

    rows: int = 0
    notes: list[str] = field(default_factory=list)


def write_rows(
    dataset: Any,
    output: Table,
    *,
    progress: Callable[[str, int, int | None], None] | None = None,
    total: int | None = None,
) -> Written:
    """Write ``dataset`` (blocks in row order, each a run of rows) without its ``_dw_`` columns
    (the row number, notes)."""
    note = progress or (lambda stage, done, count: None)
    if output.folder:
        note("writing", 0, total)
        written = _write_folder(dataset, output)
        note("writing", written.rows, written.rows)
        return written
    from datawheel.data.stream import TableWriter

    buffer = _Upload() if output.remote else None
    written = Written()
    name = Path(urlparse(output.location).path).name if output.remote else output.path
    with TableWriter(name, sink=buffer) as writer:
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            frame, notes = _payload(batch)
            writer.write(frame)
            written.rows += frame.height
            written.notes += notes
            note("writing", written.rows, total)
    if buffer is not None:
        with output.filesystem.open_output_stream(output.path) as stream:
            stream.write(buffer.getvalue())
    return written


def write_lines(
    dataset: Any,
    output: Table,
    *,
    progress: Callable[[str, int, int | None], None] | None = None,
    total: int | None = None,
) -> Written:
    """Write the ``line`` column of ``dataset`` (in row order), one line each, as one file."""
    from datawheel.atomic import AtomicFile

    if output.folder:
        raise UsageError(
            "this output is one file of JSON lines",
            where=output.location,
            hint="name a .jsonl file",
        )
    note = progress or (lambda stage, done, count: None)
    written = Written()
    sink: Any = _Upload() if output.remote else AtomicFile(output.path)
    stream = sink if output.remote else sink.file
    try:
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            lines = batch["line"].to_pylist()
            stream.write("".join(f"{line}\n" for line in lines).encode("utf-8"))
            written.rows += len(lines)
            note("writing", written.rows, total)
    except BaseException:
        if not output.remote:
            sink.abort()
        raise
    if output.remote:
        with output.filesystem.open_output_stream(output.path) as remote:
            remote.write(sink.getvalue())
    else:
        sink.commit()
    return written


def _payload(batch: pa.Table) -> tuple[pl.DataFrame, list[str]]:
    """A block's data columns as a frame, and its notes (a block whose rows were all dropped
    carries its note on a row numbered -1, which is not data)."""
    notes = []
    if NOTE in batch.column_names:
        notes = [n for n in batch[NOTE].to_pylist() if n is not None]
        batch = batch.filter(pa.compute.greater_equal(batch[ROW], 0))
    data = batch.drop_columns([c for c in batch.column_names if c.startswith("_dw_")])
    frame = pl.from_arrow(data)
    assert isinstance(frame, pl.DataFrame)
    return frame, notes


class _Upload(io.BytesIO):
    """The bytes of a file bound for the object store (writers close their sink; this stays
    readable until the upload)."""

    def close(self) -> None:
        pass


def check_output(table: Table, source: Table) -> None:
    """Refuse an output that is the input, or a folder that already holds files."""
    import pyarrow.fs as pafs

    if table.path == source.path and type(table.filesystem) is type(source.filesystem):
        raise DataError("the output would overwrite the input", where=table.location)
    if table.folder:
        infos = table.filesystem.get_file_info(pafs.FileSelector(table.path, allow_not_found=True))
        if infos:
            raise DataError(
                "the output folder is not empty",
                where=table.location,
                hint="remove it or choose another folder",
            )


def _write_folder(dataset: Any, output: Table) -> Written:
    output.filesystem.create_dir(output.path, recursive=True)
    results = dataset.map_batches(
        _WritePart(output.filesystem, output.path, output.remote),
        batch_format="pyarrow",
        batch_size=None,
    ).take_all()
    parts = sorted(
        ({"name": r["name"], "rows": r["rows"]} for r in results if r["name"]), key=_by_name
    )
    rows = sum(p["rows"] for p in parts)
    manifest = json.dumps({"rows": rows, "parts": parts}, indent=1).encode()
    _put(output.filesystem, f"{output.path}/{MANIFEST}", manifest, output.remote)
    return Written(rows, [n for r in results for n in json.loads(r["notes"])])


def _by_name(part: dict[str, Any]) -> str:
    return str(part["name"])


class _WritePart:
    """One block to one Parquet part named by its first row."""

    def __init__(self, filesystem: Any, folder: str, remote: bool):
        self.filesystem, self.folder, self.remote = filesystem, folder, remote

    def __call__(self, block: pa.Table) -> pa.Table:
        frame, notes = _payload(block.sort_by(ROW))
        if frame.height == 0:
            return pa.table(
                {"name": [None], "rows": [0], "notes": [json.dumps(notes)]}, schema=_WRITTEN
            )
        first = int(pa.compute.min(block[ROW]).as_py())
        first = max(first, 0)
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        name = PART.format(first)
        _put(self.filesystem, f"{self.folder}/{name}", buffer.getvalue(), self.remote)
        return pa.table(
            {"name": [name], "rows": [frame.height], "notes": [json.dumps(notes)]},
            schema=_WRITTEN,
        )


_WRITTEN = pa.schema([("name", pa.string()), ("rows", pa.int64()), ("notes", pa.string())])


def _put(filesystem: Any, path: str, data: bytes, remote: bool) -> None:
    """One whole object or file: a PUT in a bucket, an atomic rename on a disk."""
    if remote:
        with filesystem.open_output_stream(path) as stream:
            stream.write(data)
    else:
        from datawheel.atomic import atomic_write

        atomic_write(Path(path), data)
