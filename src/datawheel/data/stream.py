"""Streaming ingest and output: a table file read pass by pass in batches, written batch by batch.

Memory does not grow with the file: a CSV or JSON-lines file (plain or gzip) is cut into blocks of
about ``batch_rows`` records at record boundaries (a newline outside quotes) and each block is
parsed on its own; Parquet is read by row batches (a ``.parquet.gz`` is first decompressed to a
temporary file, since Parquet needs its footer). Dtypes must agree across batches, so they are
fixed for the whole file: CSV columns are parsed as text and each gets the narrowest dtype every
value of the file parses as (Int64, Float64, Boolean, else String); JSON lines get the supertype
of every block's dtypes. A pass that needs typed batches before the dtypes are known first runs a
cheap schema pass. Malformed lines are counted (and, when asked, copied to a side file) on the
first pass only.
"""

from __future__ import annotations

import codecs
import gzip
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
import polars as pl

from datawheel.atomic import AtomicFile
from datawheel.errors import DataError
from datawheel.i18n.identifiers import IdentifierEvidence
from datawheel.io import (
    AUTO,
    OnBadLines,
    apply_dtypes,
    binary_as_base64,
    check_encoding,
    parse_csv_block,
    parse_jsonl_block,
    resolve_encoding,
    table_format,
)

__all__ = ["DEFAULT_BATCH_ROWS", "PARSED_CACHE_BYTES", "ReadStats", "TableReader", "TableWriter"]

DEFAULT_BATCH_ROWS = 100_000  # rows per batch: ~100 MB of text at 1 kB per row
# a file whose parsed batches fit in this many bytes is parsed once and replayed from memory
# by the later passes (the schema pass, then sketching, verifying, writing); beyond, each pass
# reads the file again and memory stays bounded by a batch
PARSED_CACHE_BYTES = 256 << 20
_CHUNK = 1 << 20  # bytes read from the (decompressed) stream at a time
_KEEP_LINE_NUMBERS = 1000  # bad line numbers remembered (all of them are counted)
_SNIFF_BYTES = 1 << 20  # bytes looked at to detect the text encoding

Progress = Callable[[str, int, int | None], None]  # (stage, rows done, total rows or None)


@dataclass
class ReadStats:
    """What the first pass over a file found: rows kept and malformed lines dropped."""

    rows: int = 0
    bad_lines: int = 0
    bad_line_numbers: list[int] = field(default_factory=list)  # the first 1000, 1-based
    bad_lines_path: Path | None = None


class TableReader:
    """Read a .csv / .jsonl / .parquet file (optionally .gz) in batches; each ``batches()`` call
    is one pass over the file, in row order.

    ``batches(typed=False)`` yields batches as parsed (CSV: all String); ``typed=True`` casts
    them to the file-wide schema, running a schema pass first when none has run yet. A file
    whose parsed batches fit in ``cache_bytes`` is parsed once (0: never keep them).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        encoding: str = AUTO,
        on_bad_lines: OnBadLines = "error",
        bad_lines_path: str | os.PathLike[str] | None = None,
        dtypes: Mapping[str, str] | None = None,
        cache_bytes: int = PARSED_CACHE_BYTES,
    ):
        if batch_rows < 1:
            raise DataError(f"batch_rows must be >= 1, got {batch_rows}")
        if on_bad_lines not in ("error", "skip"):
            raise DataError(f"on_bad_lines must be 'error' or 'skip', got {on_bad_lines!r}")
        check_encoding(encoding)
        self.path = Path(path)
        self.format, self.gz = table_format(self.path)
        if not self.path.is_file():
            raise DataError("file not found", where=str(self.path), hint="check the path")
        self.batch_rows = batch_rows
        self.on_bad_lines = on_bad_lines
        self.bad_lines_path = Path(bad_lines_path) if bad_lines_path else None
        self.dtypes = dict(dtypes or {})
        self.stats = ReadStats()
        self._complete = False
        self._schema: dict[str, pl.DataType] | None = None
        self._schema_builder = _SchemaBuilder(self.format, self.dtypes)
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self.cache_bytes = cache_bytes
        self._cache: list[tuple[pl.DataFrame, list[tuple[int, str]]]] | None = (
            [] if cache_bytes > 0 else None
        )
        self._cache_complete = False
        self.encoding = "utf-8" if self.format == "parquet" else self._detect(encoding)
        # the encoding blocks are parsed in: a wide one (UTF-16) is transcoded to UTF-8 first,
        # since records are cut at newline bytes; UTF-8's byte-order mark goes with the header
        wide = '\n,"'.encode(self.encoding, "replace") != b'\n,"'
        self._transcode = self.format != "parquet" and wide
        self._parse_encoding = (
            "utf-8"
            if self._transcode or codecs.lookup(self.encoding).name == "utf-8-sig"
            else self.encoding
        )

    # --- public -------------------------------------------------------------------------

    @property
    def schema(self) -> dict[str, pl.DataType]:
        """The file-wide dtypes (runs a schema pass when none has run yet)."""
        if self._schema is None:
            for _ in self.batches(typed=False):
                pass
        assert self._schema is not None
        return self._schema

    def batches(self, *, typed: bool = True) -> Generator[pl.DataFrame]:
        """One pass over the file; always yields at least one (possibly empty) batch."""
        schema = self.schema if typed and self.format != "parquet" else None
        first = not self._complete  # counts and the side file come from one complete pass
        if first:
            self.stats = ReadStats()
            self._schema_builder = _SchemaBuilder(self.format, self.dtypes)
        bad_sink = _BadLines(self.bad_lines_path, self._parse_encoding) if first else None
        rows = 0
        try:
            for frame, bad in self._parsed():
                if first:
                    self.stats.rows += frame.height
                    self._record_bad(bad, bad_sink)
                    self._schema_builder.add(frame)
                if typed:
                    yield self._cast(frame, schema, rows)
                else:
                    yield frame
                rows += frame.height
        except BaseException:
            if bad_sink:
                bad_sink.abort()
            raise
        if first:
            self._complete = True
            self._schema = self._schema_builder.finish()
            if bad_sink:
                self.stats.bad_lines_path = bad_sink.close()

    def gather(self, column: str, rows: np.ndarray) -> pl.Series:
        """The values of ``column`` at the sorted row indices ``rows`` (one pass; memory holds only
        those values)."""
        found: list[pl.Series] = []
        start = 0
        for frame in self.batches(typed=False):
            lo, hi = np.searchsorted(rows, [start, start + frame.height])
            if hi > lo:
                found.append(frame.get_column(column).gather(rows[lo:hi] - start))
            start += frame.height
        return pl.concat(found) if found else pl.Series(column, [], dtype=pl.String)

    def close(self) -> None:
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> TableReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- parsing ------------------------------------------------------------------------

    def _parsed(self) -> Iterator[tuple[pl.DataFrame, list[tuple[int, str]]]]:
        """Parsed blocks: from the file, or from memory when an earlier complete pass kept them
        all within ``PARSED_CACHE_BYTES`` (a small file is then parsed once, not per pass)."""
        if self._cache_complete and self._cache is not None:
            yield from self._cache
            return
        caching = self._cache is not None and not self._cache_complete
        held = 0
        if caching:
            self._cache = []
        for frame, bad in self._read_blocks():
            if caching and self._cache is not None:
                held += int(frame.estimated_size())
                if held > self.cache_bytes:
                    self._cache = None  # too big: every pass reads the file (memory bounded)
                else:
                    self._cache.append((frame, bad))
            yield frame, bad
        if caching and self._cache is not None:
            self._cache_complete = True

    def _read_blocks(self) -> Iterator[tuple[pl.DataFrame, list[tuple[int, str]]]]:
        if self.format == "parquet":
            yield from ((f, []) for f in self._parquet())
            return
        where = str(self.path)
        opts: dict[str, Any] = {
            "where": where,
            "encoding": self._parse_encoding,
            "on_bad_lines": self.on_bad_lines,
        }
        with self._open() as stream:
            if self.format == "csv":
                header, rest = _header(stream, where)
                first_line = header.count(b"\n") + 1
                yielded = False
                blocks = _blocks(stream, rest, first_line, self.batch_rows, quoted=True)
                for block, line in blocks:
                    offset = line - first_line  # parse_csv_block counts from the header's line 1
                    yield parse_csv_block(header + block, line_offset=offset, **opts)
                    yielded = True
                if not yielded:  # a header-only file: the columns, no rows
                    yield parse_csv_block(header, **opts)
            else:
                found = False
                for block, line in _blocks(stream, b"", 1, self.batch_rows, quoted=False):
                    frame, bad = parse_jsonl_block(block, line_offset=line - 1, **opts)
                    found = found or frame.width > 0
                    yield frame, bad
                if not found:
                    raise DataError("file holds no JSON objects", where=where, hint="one per line")

    def _detect(self, encoding: str) -> str:
        """``encoding``, or for ``auto`` the one the first megabyte is in."""
        if encoding != AUTO:
            return encoding
        with self._open_raw() as stream:
            sample = stream.read(_SNIFF_BYTES)
        if not sample.strip():
            return "utf-8"  # an empty file: the parse says so
        complete = len(sample) < _SNIFF_BYTES
        return resolve_encoding(sample, encoding, where=str(self.path), complete=complete)

    def _open(self) -> IO[bytes] | _GzipGuard:
        if not self._transcode:
            return self._open_raw()
        if self._tmpdir is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="datawheel-")
        plain = Path(self._tmpdir.name) / "input.utf8"
        if not plain.exists():  # written under another name first: a failed pass leaves none
            partial = plain.with_suffix(".part")
            with self._open_raw() as src, partial.open("wb") as dst:
                text = codecs.getreader(self.encoding)(src, "strict")  # type: ignore[arg-type]
                try:
                    while chunk := text.read(_CHUNK):
                        dst.write(chunk.encode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise DataError(
                        f"not valid {self.encoding} text ({exc.reason})",
                        where=str(self.path),
                        hint="pass the file's real encoding with --encoding, or --encoding auto",
                    ) from None
            partial.replace(plain)
        return plain.open("rb")

    def _open_raw(self) -> IO[bytes] | _GzipGuard:
        try:
            raw = self.path.open("rb")
        except OSError as exc:
            raise DataError(f"cannot open: {exc.strerror}", where=str(self.path)) from None
        return _GzipGuard(gzip.GzipFile(fileobj=raw), raw, self.path) if self.gz else raw

    def _parquet(self) -> Iterator[pl.DataFrame]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.path
        if self.gz:
            if self._tmpdir is None:
                self._tmpdir = tempfile.TemporaryDirectory(prefix="datawheel-")
                plain = Path(self._tmpdir.name) / "input.parquet"
                with self._open_raw() as src, plain.open("wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
            path = Path(self._tmpdir.name) / "input.parquet"
        try:
            file = pq.ParquetFile(path)
            empty = True
            for batch in file.iter_batches(batch_size=self.batch_rows):
                empty = False
                yield pl.from_arrow(pa.Table.from_batches([batch]))  # type: ignore[misc]
            if empty:
                yield pl.from_arrow(file.schema_arrow.empty_table())  # type: ignore[misc]
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"not a valid Parquet file: {exc}", where=str(self.path)) from None

    def _record_bad(self, bad: list[tuple[int, str]], sink: _BadLines | None) -> None:
        self.stats.bad_lines += len(bad)
        room = _KEEP_LINE_NUMBERS - len(self.stats.bad_line_numbers)
        self.stats.bad_line_numbers += [n for n, _ in bad[: max(room, 0)]]
        if sink is not None:
            sink.write(raw for _, raw in bad)

    def _cast(
        self, frame: pl.DataFrame, schema: dict[str, pl.DataType] | None, rows: int
    ) -> pl.DataFrame:
        """A parsed batch in the file-wide dtypes; declared ones (``dtypes``) strictly, naming
        the row of a value that does not convert."""
        declared = {c: t for c, t in self.dtypes.items() if c in frame.columns}
        if self.format == "jsonl" and schema is not None:
            missing = [pl.lit(None, dtype=t).alias(c) for c, t in schema.items() if c not in frame]
            frame = frame.with_columns(missing) if missing else frame
            frame = frame.select(
                pl.col(c) if c in declared else pl.col(c).cast(t, strict=False)
                for c, t in schema.items()
            )
        elif self.format == "csv" and schema is not None:
            frame = frame.with_columns(
                _from_text(pl.col(c), t)
                for c, t in schema.items()
                if t != pl.String and c not in declared
            )
        if declared:
            frame = apply_dtypes(frame, declared, where=str(self.path), row_offset=rows)
        return frame


def _from_text(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Boolean:
        return column.str.to_lowercase() == "true"
    return column.cast(dtype, strict=False)


class _SchemaBuilder:
    """File-wide dtypes from the batches of a first pass."""

    def __init__(self, fmt: str, declared: Mapping[str, str] | None = None):
        self.format = fmt
        self.declared = dict(declared or {})  # data.dtypes: cast per batch, not inferred
        self.order: list[str] = []
        self.proto: pl.DataFrame | None = None  # JSON lines / Parquet: zero-row supertype frame
        self.can: dict[str, dict[str, bool]] = {}  # CSV: column -> {dtype name: all values parse}
        self.seen: dict[str, bool] = {}  # CSV: column has a non-null value
        self.codes: dict[str, IdentifierEvidence] = {}  # CSV: ID / phone numbers stay text

    def add(self, frame: pl.DataFrame) -> None:
        if self.format != "csv":
            empty = frame.clear()
            self.proto = (
                empty
                if self.proto is None
                else pl.concat([self.proto, empty], how="diagonal_relaxed")
            )
            return
        for name in frame.columns:
            values = frame.get_column(name).drop_nulls()
            can = self.can.setdefault(name, {"int": True, "float": True, "bool": True})
            self.codes.setdefault(name, IdentifierEvidence()).add(values)
            if values.is_empty():
                continue
            self.seen[name] = True
            if can["int"]:
                can["int"] = values.cast(pl.Int64, strict=False).null_count() == 0
            if can["float"]:
                can["float"] = values.cast(pl.Float64, strict=False).null_count() == 0
            if can["bool"]:
                can["bool"] = bool(values.str.to_lowercase().is_in(["true", "false"]).all())

    def finish(self) -> dict[str, pl.DataType]:
        if self.format != "csv":
            schema = dict(self.proto.schema) if self.proto is not None else {}
            return {**schema, **_declared_dtypes(schema, self.declared)}
        out: dict[str, pl.DataType] = {}
        for name, can in self.can.items():
            if not self.seen.get(name) or self.codes[name].verdict(name):
                out[name] = pl.String()
            elif can["int"]:
                out[name] = pl.Int64()
            elif can["float"]:
                out[name] = pl.Float64()
            elif can["bool"]:
                out[name] = pl.Boolean()
            else:
                out[name] = pl.String()
        return {**out, **_declared_dtypes(out, self.declared)}


def _declared_dtypes(
    schema: Mapping[str, pl.DataType], declared: Mapping[str, str]
) -> dict[str, pl.DataType]:
    """The dtypes ``declared`` columns get (as an empty cast shows), for the ones present."""
    names = [c for c in declared if c in schema]
    if not names:
        return {}
    empty = pl.DataFrame(schema={c: pl.String for c in names})
    return dict(apply_dtypes(empty, {c: declared[c] for c in names}, where="").schema)


class _GzipGuard:
    """A gzip stream whose corruption errors become DataError."""

    def __init__(self, stream: gzip.GzipFile, raw: IO[bytes], path: Path):
        self.stream, self.raw, self.path = stream, raw, path

    def read(self, size: int = -1) -> bytes:
        try:
            return self.stream.read(size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise DataError(
                f"not a valid gzip file ({exc})",
                where=str(self.path),
                hint="drop the .gz extension if the file is not compressed",
            ) from None

    def __enter__(self) -> _GzipGuard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()
        self.raw.close()


def _header(stream: Any, where: str) -> tuple[bytes, bytes]:
    """The header record (through its newline, without a UTF-8 byte-order mark) and the bytes
    read past it."""
    data = b""
    while True:
        piece = stream.read(65_536)
        data += piece
        ends = _record_ends(data, quoted=True)
        if len(ends) or not piece:
            break
    if not data.strip():
        raise DataError(
            "file is empty (zero bytes or only whitespace)",
            where=where,
            hint="write the header row first",
        )
    cut = int(ends[0]) + 1 if len(ends) else len(data)
    header, rest = data[:cut], data[cut:]
    header = header.removeprefix(codecs.BOM_UTF8)
    return (header if header.endswith(b"\n") else header + b"\n"), rest


def _record_ends(data: bytes, *, quoted: bool) -> np.ndarray:
    """Offsets of newlines that end a record (outside double quotes when ``quoted``)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == ord("\n"))
    if quoted:
        quotes = np.flatnonzero(buf == ord('"'))
        if quotes.size:
            newlines = newlines[(np.searchsorted(quotes, newlines) & 1) == 0]
    return newlines


def _blocks(
    stream: Any, pending: bytes, line: int, batch_rows: int, *, quoted: bool
) -> Iterator[tuple[bytes, int]]:
    """Blocks of ``batch_rows`` whole records (``pending`` bytes first, starting on ``line``) and
    the 1-based line each block starts on."""
    pieces, newlines = [pending], pending.count(b"\n")
    eof = False
    while not eof:
        piece = stream.read(_CHUNK)
        eof = not piece
        pieces.append(piece)
        newlines += piece.count(b"\n")
        if newlines < batch_rows and not eof:
            continue
        data = b"".join(pieces)
        ends = _record_ends(data, quoted=quoted)
        start = 0
        for k in range(batch_rows - 1, len(ends), batch_rows):
            block = data[start : ends[k] + 1]
            if block.strip():
                yield block, line
            line += block.count(b"\n")
            start = int(ends[k]) + 1
        rest = data[start:]
        if eof and rest.strip():
            yield rest, line
        pieces, newlines = [rest], rest.count(b"\n")


class _BadLines:
    """Malformed lines copied verbatim to a side file, written atomically when the pass ends."""

    def __init__(self, path: Path | None, encoding: str):
        self.path, self.encoding = path, encoding
        self._out: AtomicFile | None = None  # opened at the first bad line: none, no file

    def write(self, lines: Any) -> None:
        if self.path is None:
            return
        for raw in lines:
            if self._out is None:
                self._out = AtomicFile(self.path)
            self._out.file.write(raw.encode(self.encoding))

    def close(self) -> Path | None:
        return self._out.commit() if self._out is not None else None

    def abort(self) -> None:
        if self._out is not None:
            self._out.abort()


class TableWriter:
    """Write batches to ``path`` by extension (.csv .parquet .jsonl, optionally .gz): appended to
    a temporary file in the same folder, renamed over ``path`` by ``close()`` (atomic). Leaving a
    ``with`` block by an exception removes the temporary file and leaves ``path`` untouched."""

    def __init__(self, path: str | os.PathLike[str], *, sink: IO[bytes] | None = None):
        self.path = Path(path)
        self.format, self.gz = table_format(self.path)
        # ``sink``: write there instead (an object-store upload buffer); ``path`` names the format
        self._out = AtomicFile(self.path) if sink is None else None  # permissions as open() gives
        self._file: IO[bytes] = self._out.file if self._out is not None else sink  # type: ignore[assignment]
        self._sink: IO[bytes] = (
            gzip.GzipFile(filename="", fileobj=self._file, mode="wb", mtime=0)  # type: ignore[assignment]
            if self.gz
            else self._file
        )
        self._parquet: Any = None
        self._arrow_schema: Any = None
        self._started = False
        self.rows = 0

    def write(self, frame: pl.DataFrame) -> None:
        """Append a batch; its columns and dtypes must match the first batch's."""
        self.rows += frame.height
        if self.format != "parquet":
            frame = binary_as_base64(frame)
        try:
            if self.format == "csv":
                frame.write_csv(self._sink, include_header=not self._started)
            elif self.format == "jsonl":
                frame.write_ndjson(self._sink)
            else:
                self._write_parquet(frame)
        except pl.exceptions.PolarsError as exc:
            hint = "nested columns need .parquet or .jsonl" if self.format == "csv" else None
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(
                f"cannot write {self.format}: {message}", where=str(self.path), hint=hint
            ) from None
        self._started = True

    def _write_parquet(self, frame: pl.DataFrame) -> None:
        import pyarrow.parquet as pq

        table = frame.to_arrow()
        if self._parquet is None:
            self._arrow_schema = table.schema
            self._parquet = pq.ParquetWriter(self._sink, table.schema)
        self._parquet.write_table(table.cast(self._arrow_schema))

    def close(self) -> Path:
        """Finish the file and move it into place."""
        if self._parquet is not None:
            self._parquet.close()
        if self.gz:
            self._sink.close()
        return self._out.commit() if self._out is not None else self.path

    def abort(self) -> None:
        """Drop the temporary file; ``path`` is left as it was."""
        try:
            if self._parquet is not None:
                self._parquet.close()
            if self.gz:
                self._sink.close()
        finally:
            if self._out is not None:
                self._out.abort()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
