"""Reading a table as a Ray dataset whose rows carry their place in the whole input
(``_dw_row``): Parquet on the cluster, one task per row group; a CSV or JSON-lines file, or a
frame, from this process in blocks. A task that cannot read its part names it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa

from datawheel.data.ray_io import ROW, Table, parts_of
from datawheel.errors import DataError

__all__ = ["FOOTERS_HERE", "Rows", "polars_schema", "read_rows", "rows_of_batches", "rows_of_frame"]

FOOTERS_HERE = 64  # up to this many parts, this process reads their footers itself


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
    parts = parts_of(table) if table.folder else [table.path]
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
