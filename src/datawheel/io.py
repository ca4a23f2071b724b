"""File formats: read and write tables by extension (.csv .parquet .jsonl, optionally .gz)."""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import logging
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from datawheel.atomic import atomic_write
from datawheel.errors import DataError
from datawheel.i18n.charsets import AUTO, decodable_encodings, detect_encoding, is_utf8
from datawheel.i18n.charsets import check_encoding as _check_encoding
from datawheel.i18n.identifiers import looks_like_identifier

__all__ = [
    "AUTO",
    "DTYPES",
    "SUPPORTED_EXTENSIONS",
    "IngestReport",
    "apply_dtypes",
    "binary_as_base64",
    "check_encoding",
    "fingerprint",
    "frame_from_parquet_bytes",
    "frame_to_parquet_bytes",
    "parse_csv_block",
    "parse_jsonl_block",
    "read_table",
    "read_table_with_report",
    "resolve_encoding",
    "scan_table",
    "table_format",
    "write_table",
]

Format = Literal["csv", "parquet", "jsonl"]
OnBadLines = Literal["error", "skip"]

_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
SUPPORTED_EXTENSIONS: tuple[str, ...] = (*_FORMATS, *(ext + ".gz" for ext in _FORMATS))
INFER_SCHEMA_ROWS = 10_000  # rows polars looks at to pick a dtype on the fast path
_ROW_GROUP_ROWS = 65_536  # fixed so Parquet bytes do not follow in-memory chunking
_SKIP_HINT = "fix the line, or pass --on-bad-lines skip to drop such lines"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestReport:
    """What reading a file did: rows kept, malformed lines dropped, where they were written."""

    path: Path
    rows: int
    bad_lines: int
    bad_lines_path: Path | None
    encoding: str
    bad_line_numbers: tuple[int, ...] = field(default=())  # 1-based physical lines dropped


def _format(path: Path) -> tuple[Format, bool]:
    """The format and whether the file is gzip-compressed, from the file name alone."""
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    ext = suffixes[-2] if gz and len(suffixes) >= 2 else (suffixes[-1] if suffixes else "")
    if ext not in _FORMATS:
        raise DataError(
            f"unsupported file extension {''.join(path.suffixes) or '(none)'!r}",
            where=str(path),
            hint=f"use one of {', '.join(SUPPORTED_EXTENSIONS)}",
        )
    return _FORMATS[ext], gz


def _read_bytes(path: Path, gz: bool) -> bytes:
    """The file's bytes, decompressed when it is gzip."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", where=str(path), hint="check the path") from None
    except IsADirectoryError:
        raise DataError("is a directory, not a file", where=str(path)) from None
    except PermissionError:
        raise DataError("permission denied", where=str(path)) from None
    if gz and raw:
        try:
            raw = gzip.decompress(raw)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise DataError(
                f"not a valid gzip file ({exc})",
                where=str(path),
                hint="drop the .gz extension if the file is not compressed",
            ) from None
    return raw


def _decode(data: bytes, encoding: str, where: str, line_offset: int = 0) -> str:
    """Decode, reporting the byte offset, line and column of the first undecodable byte and
    the encodings that would decode the bytes.

    ``line_offset`` is added to line numbers (a block of a file streamed in pieces)."""
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1 + line_offset
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        tried = codecs.lookup(codec).name
        works = [e for e in decodable_encodings(data) if codecs.lookup(e).name != tried]
        hint = (
            f"it decodes as {', '.join(works)}: pass --encoding {works[0]} (or --encoding auto)"
            if works
            else "re-save it as UTF-8, or pass its real encoding with --encoding"
        )
        raise DataError(
            f"not valid {encoding} text: byte 0x{data[exc.start]:02x} at byte offset "
            f"{exc.start} (line {line})",
            where=f"{where}:{line}:{column}",
            hint=hint,
        ) from None


def resolve_encoding(data: bytes, encoding: str, *, where: str, complete: bool = True) -> str:
    """``encoding`` itself, or for ``auto`` the one detected in ``data`` (the whole file, or
    its first bytes when not ``complete``); a detection other than UTF-8 is logged."""
    if encoding != AUTO:
        return encoding
    found = detect_encoding(data, where=where, complete=complete)
    if not is_utf8(found.encoding):
        log.info("%s: read as %s", where, found.describe())
    return found.encoding


def _polars_message(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# --- CSV -----------------------------------------------------------------------------------


def _csv_shape_ok(data: bytes) -> bool:
    """Vectorized check that every record has the header's field count and no blank lines.

    A comma or newline is inside a quoted field iff an odd number of quote characters precede
    it (RFC 4180 escapes a quote by doubling it, which keeps the parity). When this says no,
    the slow, exact path with the csv module finds the offending line.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(buf == ord('"'))
    newlines = np.flatnonzero(buf == ord("\n"))
    commas = np.flatnonzero(buf == ord(","))
    if quotes.size:  # keep only separators preceded by an even number of quotes
        newlines = newlines[(np.searchsorted(quotes, newlines) & 1) == 0]
        commas = commas[(np.searchsorted(quotes, commas) & 1) == 0]
    ends = (
        newlines
        if newlines.size and newlines[-1] == buf.size - 1
        else np.append(newlines, buf.size)
    )
    starts = np.concatenate(([0], ends[:-1] + 1))
    fields = np.diff(np.searchsorted(commas, ends), prepend=0) + 1
    lengths = ends - starts - (buf[np.maximum(ends - 1, 0)] == ord("\r"))
    if np.any(lengths[1:] <= 0):  # a blank line: let the exact path skip it the csv way
        return False
    return bool(np.all(fields == fields[0]))


def _header(data: bytes) -> list[str]:
    head = data[:65_536].decode("utf-8-sig", errors="replace")
    return next(csv.reader(io.StringIO(head, newline="")), [])


def _check_header(header: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(
                f"duplicate column name {name!r} in the header",
                where=f"{where}:1",
                hint="rename one of the columns",
            )
        seen.add(name)


def _polars_csv(
    data: bytes,
    infer_rows: int | None,
    as_text: bool = False,
    strings: frozenset[str] = frozenset(),
) -> pl.DataFrame:
    """Polars on UTF-8 bytes; ``strings`` are columns kept as text (codes, declared dtypes)."""
    if as_text:  # every column a String: the streaming reader picks dtypes over the whole file
        return pl.read_csv(data, infer_schema=False, null_values=[""], raise_if_empty=False)
    return pl.read_csv(
        data,
        infer_schema_length=infer_rows,
        schema_overrides=dict.fromkeys(strings, pl.String) or None,
        null_values=[""],
        raise_if_empty=False,
    )


def _text_columns(data: bytes, declared: Mapping[str, str]) -> frozenset[str]:
    """Columns to read as text: those ``declared`` (cast afterwards) and those whose first
    rows hold codes — ID-card or phone numbers, a leading zero (see ``i18n.identifiers``)."""
    try:
        head = pl.read_csv(
            data,
            infer_schema=False,
            n_rows=INFER_SCHEMA_ROWS,
            null_values=[""],
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return frozenset(c for c in declared)
    found = {s.name for s in head.iter_columns() if looks_like_identifier(s)}
    return frozenset(found | {c for c in declared if c in head.columns})


def _csv_records(
    text: str, where: str, on_bad_lines: OnBadLines, line_offset: int = 0
) -> tuple[str, list[tuple[int, str]]]:
    """Re-emit well-formed records as clean CSV; return them and the bad (line, raw text) pairs.

    Streams through the csv module, so quoted fields holding commas or newlines are one field.
    """
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    bad: list[tuple[int, str]] = []
    reader = csv.reader(lines())
    expected = -1
    line = 1  # physical line where the next record starts
    try:
        for record in reader:
            start, raw = line + line_offset, "".join(consumed)
            consumed.clear()
            line = reader.line_num + 1
            if not record:  # blank line
                continue
            if expected < 0:
                _check_header(record, where)
                expected = len(record)
            elif len(record) != expected:
                if on_bad_lines == "error":
                    raise DataError(
                        f"line {start} has {len(record)} fields, expected {expected} "
                        "(as in the header)",
                        where=f"{where}:{start}",
                        hint=_SKIP_HINT,
                    )
                bad.append((start, raw))
                continue
            writer.writerow(record)
    except csv.Error as exc:
        at = f"{where}:{line + line_offset}"
        raise DataError(f"malformed CSV: {exc}", where=at, hint=_SKIP_HINT) from None
    if expected < 0:
        raise DataError("file is empty (no header row)", where=where, hint="add a header row")
    return out.getvalue(), bad


def _read_csv(
    data: bytes,
    where: str,
    encoding: str,
    on_bad_lines: OnBadLines,
    line_offset: int = 0,
    as_text: bool = False,
    declared: Mapping[str, str] | None = None,
) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """Fast path: polars straight on the bytes; exact csv-module path only when needed."""
    if codecs.lookup(encoding).name != "utf-8":
        data = _decode(data, encoding, where, line_offset).encode("utf-8")
    strings = frozenset() if as_text else _text_columns(data, declared or {})
    if _csv_shape_ok(data):
        try:
            frame = _polars_csv(data, INFER_SCHEMA_ROWS, as_text, strings)
        except pl.exceptions.PolarsError:
            pass  # e.g. invalid UTF-8 or a late dtype change: the exact path says which
        else:
            _check_header(_header(data), where)
            return frame, []
    text = _decode(data, "utf-8", where, line_offset)
    clean, bad = _csv_records(text, where, on_bad_lines, line_offset)
    try:
        return _polars_csv(clean.encode("utf-8"), None, as_text, strings), bad
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot read CSV: {_polars_message(exc)}", where=where) from None


# --- JSON lines ----------------------------------------------------------------------------


def _read_jsonl(
    data: bytes,
    where: str,
    encoding: str,
    on_bad_lines: OnBadLines,
    line_offset: int = 0,
    allow_empty: bool = False,
) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """Polars first; on failure, json.loads line by line to name the broken line."""
    if codecs.lookup(encoding).name != "utf-8":
        data = _decode(data, encoding, where, line_offset).encode("utf-8")
    try:
        return pl.read_ndjson(data, infer_schema_length=None), []
    except pl.exceptions.PolarsError:
        pass
    text = _decode(data, "utf-8", where, line_offset)
    good: list[str] = []
    bad: list[tuple[int, str]] = []
    for number, raw in enumerate(io.StringIO(text, newline=""), start=1 + line_offset):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        try:
            value = json.loads(line)
            problem = None if isinstance(value, dict) else "a JSON value that is not an object"
            column = 1
        except json.JSONDecodeError as exc:
            problem, column = f"invalid JSON: {exc.msg}", exc.colno
        if problem is None:
            good.append(line)
        elif on_bad_lines == "error":
            raise DataError(
                f"line {number} holds {problem}",
                where=f"{where}:{number}:{column}",
                hint="fix the line, or pass --on-bad-lines skip to drop such lines",
            )
        else:
            bad.append((number, raw))
    if not good:
        if allow_empty:
            return pl.DataFrame(), bad
        raise DataError("file holds no JSON objects", where=where, hint="one object per line")
    try:
        return pl.read_ndjson("\n".join(good).encode("utf-8"), infer_schema_length=None), bad
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot read JSON lines: {_polars_message(exc)}", where=where) from None


# --- blocks of a file (the streaming reader in datawheel.data.stream) -----------------------


def table_format(path: str | Path) -> tuple[Format, bool]:
    """The format ("csv", "parquet", "jsonl") and whether the file is gzip, from its name."""
    return _format(Path(path))


def check_encoding(encoding: str) -> None:
    """Raise a DataError for an encoding Python does not know (``auto`` is known)."""
    _check_encoding(encoding)


def parse_csv_block(
    data: bytes,
    *,
    where: str,
    encoding: str = "utf-8",
    on_bad_lines: OnBadLines = "error",
    line_offset: int = 0,
) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """Parse a header line plus whole records as all-String columns; return the frame and the
    bad (line, raw text) pairs. Line numbers count from the header line + ``line_offset``."""
    return _read_csv(data, where, encoding, on_bad_lines, line_offset, as_text=True)


def parse_jsonl_block(
    data: bytes,
    *,
    where: str,
    encoding: str = "utf-8",
    on_bad_lines: OnBadLines = "error",
    line_offset: int = 0,
) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """Parse whole JSON lines; a block whose lines are all skipped gives an empty frame."""
    if not data.strip():
        return pl.DataFrame(), []
    return _read_jsonl(data, where, encoding, on_bad_lines, line_offset, allow_empty=True)


# --- public reading ------------------------------------------------------------------------


def read_table_with_report(
    path: str | Path,
    *,
    encoding: str = AUTO,
    on_bad_lines: OnBadLines = "error",
    bad_lines_path: Path | None = None,
    dtypes: Mapping[str, str] | None = None,
) -> tuple[pl.DataFrame, IngestReport]:
    """Read a table by extension, keeping row order, and say what was skipped.

    ``encoding="auto"`` detects the text encoding (UTF-8 with or without BOM, UTF-16,
    GB18030/GBK, Big5, Windows-1252) and logs any choice other than UTF-8. CSV columns whose
    values are codes (ID-card and phone numbers, leading zeros) are read as text; ``dtypes``
    (column → ``string|int|float|bool|date|datetime|category``) sets a column's type outright.
    With ``on_bad_lines="skip"`` malformed CSV lines (wrong field count) and unparsable JSON
    lines are dropped and counted; when ``bad_lines_path`` is given they are written there
    verbatim. Line numbers are 1-based physical lines of the (decompressed) file.
    """
    path = Path(path)
    fmt, gz = _format(path)
    check_encoding(encoding)
    if on_bad_lines not in ("error", "skip"):
        raise DataError(f"on_bad_lines must be 'error' or 'skip', got {on_bad_lines!r}")
    where = str(path)
    data = _read_bytes(path, gz)
    if not data or data.isspace():
        hint = "write the header row first" if fmt == "csv" else "check the file was written"
        raise DataError("file is empty (zero bytes or only whitespace)", where=where, hint=hint)
    bad: list[tuple[int, str]] = []
    if fmt == "parquet":
        try:
            frame = pl.read_parquet(io.BytesIO(data))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise DataError(
                f"not a valid Parquet file: {_polars_message(exc)}", where=where
            ) from None
    else:
        encoding = resolve_encoding(data, encoding, where=where)
        if fmt == "csv":
            frame, bad = _read_csv(data, where, encoding, on_bad_lines, declared=dtypes)
        else:
            frame, bad = _read_jsonl(data, where, encoding, on_bad_lines)
    if dtypes:
        frame = apply_dtypes(frame, dtypes, where=where)
    written: Path | None = None
    if bad and bad_lines_path is not None:
        side = "utf-8" if is_utf8(encoding) else encoding  # no byte-order mark in the copy
        atomic_write(bad_lines_path, "".join(raw for _, raw in bad).encode(side))
        written = Path(bad_lines_path)
    report = IngestReport(
        path=path,
        rows=frame.height,
        bad_lines=len(bad),
        bad_lines_path=written,
        encoding="utf-8" if fmt == "parquet" else encoding,
        bad_line_numbers=tuple(n for n, _ in bad),
    )
    return frame, report


def read_table(
    path: str | Path,
    *,
    encoding: str = AUTO,
    on_bad_lines: OnBadLines = "error",
    bad_lines_path: Path | None = None,
    dtypes: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Read a .csv / .parquet / .jsonl (.ndjson) file, optionally .gz, keeping row order.

    See :func:`read_table_with_report` for ``encoding`` (default: detected) and ``dtypes``.
    """
    frame, _ = read_table_with_report(
        path,
        encoding=encoding,
        on_bad_lines=on_bad_lines,
        bad_lines_path=bad_lines_path,
        dtypes=dtypes,
    )
    return frame


# --- declared column types (data.dtypes) ---------------------------------------------------

_TRUE = ("true", "t", "yes", "y", "1", "是", "真", "对")
_FALSE = ("false", "f", "no", "n", "0", "否", "假", "错")
_DATE_FORMATS = (None, "%Y年%m月%d日", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")


def _to_bool(column: pl.Expr) -> pl.Expr:
    word = column.cast(pl.String).str.strip_chars().str.to_lowercase()
    return pl.when(word.is_in(_TRUE)).then(True).when(word.is_in(_FALSE)).then(False)


def _to_date(column: pl.Expr, kind: str) -> pl.Expr:
    text = column.cast(pl.String).str.strip_chars()
    if kind == "datetime":
        return text.str.to_datetime(strict=False)
    return pl.coalesce(text.str.to_date(f, strict=False) for f in _DATE_FORMATS)


def _to_number(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    text = column.cast(pl.String).str.strip_chars().str.replace_all(",", "")  # 1,234 → 1234
    return text.cast(dtype, strict=False)


# column type name (data.dtypes) → how a column becomes it, without failing on a bad value
DTYPES: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "string": lambda c: c.cast(pl.String),
    "int": lambda c: _to_number(c, pl.Int64()),
    "float": lambda c: _to_number(c, pl.Float64()),
    "bool": _to_bool,
    "date": lambda c: _to_date(c, "date"),
    "datetime": lambda c: _to_date(c, "datetime"),
    "category": lambda c: c.cast(pl.String).cast(pl.Categorical),
}


def apply_dtypes(
    frame: pl.DataFrame, dtypes: Mapping[str, str], *, where: str, row_offset: int = 0
) -> pl.DataFrame:
    """Cast the columns ``dtypes`` names (those the frame has: a file may hold only some; the
    project's own table is checked by ``data.schema.validate``); a value that does not convert
    is an error naming the column, the row (1-based, + ``row_offset``) and the value."""
    for column, kind in dtypes.items():
        if kind not in DTYPES:
            raise DataError(
                f"unknown column type {kind!r} for {column!r}",
                where=f"{where}: data.dtypes",
                hint=f"use one of {', '.join(DTYPES)}",
            )
    dtypes = {c: kind for c, kind in dtypes.items() if c in frame.columns}
    if not dtypes:
        return frame
    cast = frame.select(DTYPES[kind](pl.col(c)).alias(c) for c, kind in dtypes.items())
    for column, kind in dtypes.items():
        lost = frame[column].is_not_null() & cast[column].is_null()
        if frame[column].dtype == pl.String:
            lost = lost & (frame[column].str.strip_chars() != "")
        if lost.any():
            row = int(lost.arg_true()[0])
            raise DataError(
                f"column {column!r} is declared {kind} but row {row + row_offset + 1} holds "
                f"{frame[column][row]!r}",
                where=f"{where}: data.dtypes.{column}",
                hint="fix the value, or declare the column string",
            )
    return frame.with_columns(cast)


def scan_table(path: str | Path) -> pl.LazyFrame:
    """A lazy scan for larger-than-memory work; gzip is not scannable, so it is refused."""
    path = Path(path)
    fmt, gz = _format(path)
    if gz:
        raise DataError(
            "a gzip file cannot be scanned lazily",
            where=str(path),
            hint="decompress it first, or use read_table",
        )
    if not path.is_file():
        raise DataError("file not found", where=str(path), hint="check the path")
    if fmt == "csv":
        return pl.scan_csv(path, infer_schema_length=INFER_SCHEMA_ROWS, null_values=[""])
    if fmt == "parquet":
        return pl.scan_parquet(path)
    return pl.scan_ndjson(path, infer_schema_length=INFER_SCHEMA_ROWS)


# --- writing -------------------------------------------------------------------------------


def frame_to_parquet_bytes(frame: pl.DataFrame) -> bytes:
    """Parquet bytes with fixed settings, so the same frame always gives the same bytes.

    Fixed row-group size and no statistics: the output does not depend on how the frame
    happens to be chunked in memory (checked by a test).
    """
    buffer = io.BytesIO()
    frame.write_parquet(
        buffer,
        compression="zstd",
        compression_level=3,
        statistics=False,
        row_group_size=_ROW_GROUP_ROWS,
    )
    return buffer.getvalue()


def frame_from_parquet_bytes(data: bytes) -> pl.DataFrame:
    """The inverse of :func:`frame_to_parquet_bytes`."""
    try:
        return pl.read_parquet(io.BytesIO(data))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"not valid Parquet bytes: {_polars_message(exc)}") from None


def fingerprint(frame: pl.DataFrame) -> str:
    """sha256 hex of the frame's canonical Parquet bytes: names, dtypes, values, row order.

    Not Arrow IPC: its validity bitmaps carry undefined padding bits that vary with chunking.
    Stable for a given polars version; a polars upgrade may change the bytes.
    """
    return hashlib.sha256(frame_to_parquet_bytes(frame)).hexdigest()


def binary_as_base64(frame: pl.DataFrame) -> pl.DataFrame:
    """Binary columns (stored images and clips) as base64 text, for CSV and JSON lines, which
    hold no bytes; ``datawheel.data.media.decode.media_bytes`` reads them back."""
    binary = [name for name, dtype in frame.schema.items() if dtype == pl.Binary]
    return frame.with_columns(pl.col(binary).bin.encode("base64")) if binary else frame


def write_table(frame: pl.DataFrame, path: str | Path) -> None:
    """Write by extension (.csv .parquet .jsonl/.ndjson, optionally .gz), atomically; binary
    columns go to CSV and JSON lines as base64 text."""
    path = Path(path)
    fmt, gz = _format(path)
    buffer = io.BytesIO()
    if fmt != "parquet":
        frame = binary_as_base64(frame)
    try:
        if fmt == "csv":
            frame.write_csv(buffer)
        elif fmt == "parquet":
            frame.write_parquet(buffer)
        else:
            frame.write_ndjson(buffer)
    except pl.exceptions.PolarsError as exc:
        hint = "nested columns need .parquet or .jsonl" if fmt == "csv" else None
        raise DataError(
            f"cannot write {fmt}: {_polars_message(exc)}", where=str(path), hint=hint
        ) from None
    payload = buffer.getvalue()
    if gz:
        payload = gzip.compress(payload, mtime=0)  # mtime 0: same frame, same bytes
    atomic_write(path, payload)
