"""The Ray engine's edges: join the cluster, read a table as a Ray dataset, write one back.

A table is one file (``.csv .jsonl .parquet``, optionally ``.gz``) or a folder of Parquet
parts, local or ``s3://BUCKET/PREFIX`` (endpoint and credentials from the standard
``AWS_ENDPOINT_URL`` / ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``). Parquet is read
on the cluster, one task per row group, each row numbered by its place in the whole input
(``_dw_row``: parts in name order, then rows) — the order every output keeps. A CSV or JSON
lines file is read by this process (its encoding detection and ``data.dtypes``) and handed to
the cluster in blocks. A task that cannot read its part fails naming the part.

Output: a file is streamed from the cluster through this process in row order; a folder gets
one Parquet part per block, named by its first row (``part-000000001234.parquet``) so name
order is row order, and ``_datawheel.json`` (rows and parts) is written last: a folder
without it is an unfinished run.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import polars as pl
import pyarrow as pa

from datawheel.errors import DataError, DatawheelError, MissingDependencyError, UsageError

__all__ = [
    "MANIFEST",
    "NOTE",
    "ROW",
    "RowFilter",
    "RowSet",
    "Rows",
    "Table",
    "Written",
    "check_output",
    "connect",
    "open_table",
    "polars_schema",
    "read_rows",
    "require_ray",
    "row_set",
    "rows_of_batches",
    "rows_of_frame",
    "shuffle_partitions",
    "surface_errors",
    "write_lines",
    "write_rows",
]

ROW = "_dw_row"  # the row's place in the whole input, 0-based
NOTE = "_dw_note"  # a task's statistics for its block (JSON), on the block's first row
MANIFEST = "_datawheel.json"
PART = "part-{:012d}.parquet"
_LOCAL_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": a node on 127.0.0.1 stays there
_FILE_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet")
_PARTITION_BYTES = 256 << 20  # a shuffle partition holds about this much
FOOTERS_HERE = 64  # up to this many parts, this process reads their footers itself


def require_ray() -> Any:
    """Import Ray (with Ray Data), or say which extra brings it."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingDependencyError("ray", "ray", purpose="--engine ray") from None
    return ray


def connect(address: str | None) -> Any:
    """Join the cluster at ``address`` (``HOST:PORT``; ``auto`` or None: ``RAY_ADDRESS``, else a
    one-machine cluster on 127.0.0.1). A cluster on 127.0.0.1 is joined on 127.0.0.1 only.

    The token of a cluster with token auth comes from ``RAY_AUTH_TOKEN`` (Ray reads it)."""
    host = urlparse(f"//{address}").hostname if address and address != "auto" else None
    local = host in {"127.0.0.1", "localhost"} or not (address or os.environ.get("RAY_ADDRESS"))
    if local:
        os.environ.setdefault(_LOCAL_ONLY, "0")  # Ray otherwise reports the outward address
    ray = require_ray()
    if not ray.is_initialized():
        extra = {"_node_ip_address": "127.0.0.1"} if local else {}
        try:
            ray.init(
                address=address,
                log_to_driver=False,
                include_dashboard=False,
                logging_level=logging.WARNING,
                **extra,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UsageError(
                f"cannot join the Ray cluster at {address or 'RAY_ADDRESS'}: {reason}",
                where="--ray-address",
                hint="start it with `ray start --head`, pass its HOST:PORT, and set "
                "RAY_AUTH_TOKEN when the cluster uses token auth",
            ) from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = sys.stderr.isatty()  # Ray's bars, on a terminal
    context.raise_original_map_exception = True  # a task's DataError reaches us as one
    context.execution_options.preserve_order = True  # blocks leave in row order
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray


def shuffle_partitions(ray: Any, nbytes: int) -> int:
    """Partitions of a shuffle: one per CPU of the cluster at least, more for big inputs."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(2, cpus, -(-nbytes // _PARTITION_BYTES))


# -- where a table lives ------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A table the Ray engine reads or writes: one file, or a folder of Parquet parts."""

    location: str  # as given: a path or s3://BUCKET/PREFIX
    path: str  # the filesystem's path (bucket/key for S3, absolute for local)
    filesystem: Any  # pyarrow.fs.FileSystem
    folder: bool

    @property
    def remote(self) -> bool:
        return self.location.startswith("s3://")


def open_table(location: str | os.PathLike[str], *, output: bool = False) -> Table:
    """Resolve ``location``; a folder is an existing folder, a name ending in ``/``, or (for an
    output) a name without a table extension."""
    import pyarrow.fs as pafs

    text = str(location)
    if text.startswith("s3://"):
        filesystem, path = _s3(text)
        info = filesystem.get_file_info(path)
        folder = info.type == pafs.FileType.Directory or text.endswith("/")
    elif "://" in text:
        raise UsageError(
            f"unsupported location {text!r}",
            where=text,
            hint="use a local path or s3://BUCKET/PREFIX",
        )
    else:
        filesystem, path = pafs.LocalFileSystem(), str(Path(text).resolve())
        folder = Path(text).is_dir() or text.endswith("/")
    if not folder and output:
        folder = not _table_suffix(text)
    return Table(text, path.rstrip("/"), filesystem, folder)


def _table_suffix(name: str) -> bool:
    lowered = name.lower().removesuffix(".gz")
    return lowered.endswith(_FILE_SUFFIXES)


def _s3(url: str) -> tuple[Any, str]:
    """pyarrow's S3 filesystem for ``url`` and the bucket/key path in it."""
    import pyarrow.fs as pafs

    parsed = urlparse(url)
    if not parsed.netloc:
        raise UsageError(f"no bucket in {url!r}", where=url, hint="use s3://BUCKET/PREFIX")
    options: dict[str, Any] = {
        "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    }
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        point = urlparse(endpoint)
        options["endpoint_override"] = point.netloc or point.path
        options["scheme"] = point.scheme or "https"
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        # the tasks carry this process's credentials; without them each node uses its own
        options["access_key"] = os.environ["AWS_ACCESS_KEY_ID"]
        options["secret_key"] = os.environ["AWS_SECRET_ACCESS_KEY"]
    return pafs.S3FileSystem(**options), f"{parsed.netloc}{parsed.path}"


def _parts(table: Table) -> list[str]:
    """The Parquet parts of a folder, in name order (the manifest's list when there is one)."""
    import pyarrow.fs as pafs

    filesystem = table.filesystem
    try:
        manifest = _read_bytes(filesystem, f"{table.path}/{MANIFEST}")
        if manifest is not None:
            return [f"{table.path}/{p['name']}" for p in json.loads(manifest)["parts"]]
        infos = filesystem.get_file_info(pafs.FileSelector(table.path, allow_not_found=True))
    except OSError as exc:
        raise DataError(f"cannot list the folder: {exc}", where=table.location) from None
    names = sorted(
        info.path
        for info in infos
        if info.type == pafs.FileType.File
        and info.base_name.endswith(".parquet")
        and not info.base_name.startswith(("_", "."))
    )
    if not names:
        raise DataError(
            "no .parquet parts in the folder",
            where=table.location,
            hint="pass a folder of Parquet files, or one .csv/.jsonl/.parquet file",
        )
    return names


def _read_bytes(filesystem: Any, path: str) -> bytes | None:
    import pyarrow.fs as pafs

    if filesystem.get_file_info(path).type != pafs.FileType.File:
        return None
    with filesystem.open_input_stream(path) as stream:
        return bytes(stream.read())


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """A table on the cluster: the dataset (``_dw_row`` first), its columns, rows and size."""

    dataset: Any
    schema: pa.Schema  # without _dw_row
    count: int
    nbytes: int  # uncompressed, as the footers or the frame say


def read_rows(
    ray: Any,
    table: Table,
    *,
    columns: Sequence[str] | None = None,
    encoding: str = "auto",
    dtypes: Mapping[str, str] | None = None,
    batch_rows: int = 50_000,
) -> Rows:
    """The table as a dataset with ``_dw_row``: Parquet read on the cluster, one task per row
    group; a single CSV/JSON-lines file read here."""
    if not table.folder and not table.path.lower().removesuffix(".gz").endswith(".parquet"):
        return _read_here(ray, table, encoding=encoding, dtypes=dtypes, batch_rows=batch_rows)
    parts = _parts(table) if table.folder else [table.path]
    footers = _footers(ray, parts, table.filesystem)
    schema = _common_schema(footers, parts, table)
    names = [n for n in schema.names if columns is None or n in columns]
    units, offset = [], 0
    for f in footers:
        units.append({"path": parts[f["part"]], "group": f["group"], "offset": offset})
        offset += f["rows"]
    nbytes = sum(f["bytes"] for f in footers)
    if not units:  # every part is empty: one unit still carries the schema
        units = [{"path": parts[0], "group": -1, "offset": 0}]
    reader = _ReadUnit(table.filesystem, names, dict(dtypes or {}), batch_rows)
    dataset = ray.data.from_items(units, override_num_blocks=len(units)).map_batches(
        reader, batch_format="pyarrow", batch_size=1
    )
    typed = _typed(schema.empty_table().select(names), dtypes, table.location)
    return Rows(dataset, typed, offset, nbytes)


def _common_schema(footers: list[dict[str, Any]], parts: list[str], table: Table) -> pa.Schema:
    """The parts' shared schema; a part that differs is named."""
    first: pa.Schema | None = None
    for f in footers:
        schema = pa.ipc.read_schema(pa.py_buffer(f["schema"]))
        if first is None:
            first = schema
        elif not schema.equals(first):
            raise DataError(
                "this part's columns differ from the first part's",
                where=parts[f["part"]],
                hint=f"every part needs the columns {', '.join(first.names)} with the same types",
            )
    if first is None:
        raise DataError("the parts hold no row groups", where=table.location)
    return first


def _footers(ray: Any, parts: list[str], filesystem: Any) -> list[dict[str, Any]]:
    """Each part's row groups (rows, bytes) and schema: read here for a few parts (a footer is
    one small read), by the cluster for many."""
    items = [{"part": i, "path": p} for i, p in enumerate(parts)]
    reader = _Footers(filesystem)
    if len(parts) <= FOOTERS_HERE:
        found = reader(pa.Table.from_pylist(items)).to_pylist()
    else:
        found = (
            ray.data.from_items(items, override_num_blocks=min(len(parts), 64))
            .map_batches(reader, batch_format="pyarrow", batch_size=16)
            .take_all()
        )
    return sorted(found, key=lambda f: (f["part"], f["group"]))


class _Footers:
    """Row groups (rows each) and the schema of each part, read from its footer."""

    def __init__(self, filesystem: Any):
        self.filesystem = filesystem

    def __call__(self, batch: pa.Table) -> pa.Table:
        import pyarrow.parquet as pq

        rows: dict[str, list[Any]] = {k: [] for k in _FOOTER_SCHEMA.names}
        for part, path in zip(batch["part"].to_pylist(), batch["path"].to_pylist(), strict=True):
            try:
                meta = pq.ParquetFile(path, filesystem=self.filesystem).metadata
                schema = meta.schema.to_arrow_schema().remove_metadata()
            except (OSError, pa.ArrowException) as exc:
                raise DataError(f"cannot read this Parquet part: {exc}", where=path) from None
            raw = schema.serialize().to_pybytes()
            for group in range(max(meta.num_row_groups, 1)):
                present = group < meta.num_row_groups
                rows["part"].append(part)
                rows["group"].append(group if present else -1)
                rows["rows"].append(meta.row_group(group).num_rows if present else 0)
                rows["bytes"].append(meta.row_group(group).total_byte_size if present else 0)
                rows["schema"].append(raw)
        return pa.table(rows, schema=_FOOTER_SCHEMA)


_FOOTER_SCHEMA = pa.schema(
    [
        ("part", pa.int64()),
        ("group", pa.int64()),
        ("rows", pa.int64()),
        ("bytes", pa.int64()),
        ("schema", pa.binary()),
    ]
)


class _ReadUnit:
    """One row group of one part, numbered from its offset in the whole input."""

    def __init__(self, filesystem: Any, columns: list[str], dtypes: dict[str, str], rows: int):
        self.filesystem, self.columns, self.dtypes, self.rows = filesystem, columns, dtypes, rows

    def __call__(self, unit: pa.Table) -> Iterator[pa.Table]:
        import pyarrow.parquet as pq

        path, group = unit["path"][0].as_py(), unit["group"][0].as_py()
        offset = unit["offset"][0].as_py()
        try:
            parquet = pq.ParquetFile(path, filesystem=self.filesystem)
            if group < 0:
                data = parquet.schema_arrow.empty_table().select(self.columns)
            else:
                data = parquet.read_row_group(group, columns=self.columns)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(
                f"cannot read row group {group} of this part: {exc}", where=path
            ) from None
        data = data.replace_schema_metadata(None)
        if self.dtypes:
            from datawheel.io import apply_dtypes

            frame = pl.from_arrow(data)
            assert isinstance(frame, pl.DataFrame)
            data = apply_dtypes(frame, self.dtypes, where=path).to_arrow()
        numbered = data.add_column(
            0, ROW, pa.array(range(offset, offset + data.num_rows), pa.int64())
        )
        if numbered.num_rows == 0:
            yield numbered
        for start in range(0, numbered.num_rows, self.rows):
            yield numbered.slice(start, self.rows)


def _read_here(
    ray: Any,
    table: Table,
    *,
    encoding: str,
    dtypes: Mapping[str, str] | None,
    batch_rows: int,
) -> Rows:
    """A CSV or JSON-lines file, read by this process as ``read_table`` reads it."""
    from datawheel.io import read_table

    if table.remote:
        raise DataError(
            "an s3:// input must be Parquet (one file or a folder of parts)",
            where=table.location,
            hint="convert it to Parquet, or pass a local .csv/.jsonl file",
        )
    frame = read_table(table.path, encoding=encoding, dtypes=dtypes)
    return rows_of_frame(ray, frame, batch_rows)


def rows_of_frame(ray: Any, frame: pl.DataFrame, batch_rows: int = 50_000) -> Rows:
    """A frame already in this process, numbered and handed to the cluster in blocks."""
    return rows_of_batches(
        ray, (frame.slice(s, batch_rows) for s in range(0, max(frame.height, 1), batch_rows))
    )


def rows_of_batches(ray: Any, batches: Iterable[pl.DataFrame]) -> Rows:
    """Batches read by this process (in order), numbered and handed to the cluster: one
    object per batch, so this process holds one batch at a time."""
    refs, start, nbytes, schema = [], 0, 0, None
    for batch in batches:
        table = batch.to_arrow()
        schema = schema or table.schema
        numbered = table.add_column(
            0, ROW, pa.array(range(start, start + batch.height), pa.int64())
        )
        refs.append(ray.put(numbered))
        start += batch.height
        nbytes += numbered.nbytes
    assert schema is not None, "a reader yields at least one (possibly empty) batch"
    return Rows(ray.data.from_arrow_refs(refs), schema, start, nbytes)


def _typed(empty: pa.Table, dtypes: Mapping[str, str] | None, where: str) -> pa.Schema:
    """The schema the read tasks produce: ``data.dtypes`` applied."""
    if not dtypes:
        return empty.schema
    from datawheel.io import apply_dtypes

    frame = pl.from_arrow(empty)
    assert isinstance(frame, pl.DataFrame)
    return apply_dtypes(frame, dtypes, where=where).to_arrow().schema


def polars_schema(schema: pa.Schema) -> dict[str, pl.DataType]:
    """The polars dtypes of an Arrow schema (for the checks the local engine makes)."""
    frame = pl.from_arrow(schema.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return dict(frame.schema)


# -- writing ----------------------------------------------------------------------------------


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


# -- sets of rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowSet:
    """Row numbers held on the cluster, sorted and cut into blocks of known ranges. A block
    of data fetches only the blocks of the set its rows fall in, so removing (or keeping) a
    set of rows moves neither the data nor the whole set: no shuffle of the rows, order kept,
    and a task holds about as much of the set as its block covers."""

    refs: list[Any]  # ObjectRefs of sorted int64 arrays, in order
    lows: list[int]
    highs: list[int]
    count: int


def row_set(ray: Any, rows: Any) -> RowSet:
    """The ``_dw_row`` values of ``rows`` as a ``RowSet`` (a sort of the numbers alone; the
    driver keeps one reference and two numbers per block)."""
    arrays = rows.select_columns([ROW]).sort(ROW).materialize().to_arrow_refs()
    summary = ray.get([_block_bounds(ray).remote(ref) for ref in arrays])
    refs, lows, highs, count = [], [], [], 0
    for ref, (size, low, high) in zip(arrays, summary, strict=True):
        if size:
            refs.append(ref)
            lows.append(low)
            highs.append(high)
            count += size
    return RowSet(refs, lows, highs, count)


def _block_bounds(ray: Any) -> Any:
    @ray.remote(num_cpus=0)
    def bounds(table: pa.Table) -> tuple[int, int, int]:
        if table.num_rows == 0:
            return 0, 0, 0
        column = table[ROW]
        return table.num_rows, int(column[0].as_py()), int(column[-1].as_py())

    return bounds


class RowFilter:
    """``map_batches``: keep the rows of a block that are in the set (``keep=True``) or not."""

    def __init__(self, rows: RowSet, *, keep: bool):
        self.rows, self.keep = rows, keep

    def __call__(self, batch: pa.Table) -> pa.Table:
        import numpy as np
        import ray

        if batch.num_rows == 0:
            return batch
        numbers = batch[ROW].to_numpy()
        low, high = int(numbers.min()), int(numbers.max())
        wanted = [
            ref
            for ref, a, b in zip(self.rows.refs, self.rows.lows, self.rows.highs, strict=True)
            if a <= high and b >= low
        ]
        members = np.zeros(len(numbers), dtype=bool)
        if wanted:
            chosen = np.concatenate([t[ROW].to_numpy() for t in ray.get(wanted)])
            members = np.isin(numbers, chosen, assume_unique=False)
        return batch.filter(pa.array(members if self.keep else ~members))


# -- errors -----------------------------------------------------------------------------------


def surface_errors(run: Callable[[], Any]) -> Any:
    """Run ``run``; a datawheel error raised inside a task comes out as itself, not wrapped in
    Ray's task error (whose text carries the remote traceback)."""
    try:
        return run()
    except Exception as exc:
        cause = _datawheel_cause(exc)
        if cause is None:
            raise
        raise cause from None


def _datawheel_cause(exc: BaseException) -> DatawheelError | None:
    """The first datawheel error in ``exc``'s causes, copied free of Ray's wrapper."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        error = stack.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        inner = getattr(error, "cause", None)
        if isinstance(error, DatawheelError) and not isinstance(inner, BaseException):
            return error
        if isinstance(inner, DatawheelError):
            clean = type(inner).__new__(type(inner))
            clean.__dict__.update(inner.__dict__)
            Exception.__init__(clean, inner.one_line())
            return clean
        stack += [error.__cause__, error.__context__, inner]
    return None
