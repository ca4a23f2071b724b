"""``pii scan`` and ``anonymize`` on a Ray cluster: the local engine's recognizers and keyed
operators, run in ``map_batches`` over blocks of rows, so the spans and tokens are the ones
the local engine (and the API, anonymizing a request) produces — byte for byte.

The tasks receive the two keys derived for this work (pseudonyms, field encryption), never
the master secret key. Each block's statistics travel back beside its rows and are summed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import polars as pl
import pyarrow as pa

from datawheel.config import PrivacyConfig, ProjectConfig
from datawheel.data.ray_io import NOTE, ROW, connect, open_table, surface_errors
from datawheel.data.ray_read import polars_schema, read_rows, rows_of_frame
from datawheel.data.ray_write import check_output, write_lines, write_rows
from datawheel.errors import DataError, UsageError
from datawheel.privacy.anonymize import Anonymizer, AnonymizeStats
from datawheel.privacy.files import AnonymizedTable, undeclared_pii
from datawheel.privacy.scan import Lang, scan_frame
from datawheel.secret import SecretKey

__all__ = ["DerivedKeys", "anonymize_file_on_ray", "anonymize_frame_on_ray", "scan_file_on_ray"]

Progress = Callable[[str, int, int | None], None]
SAMPLE_ROWS = 10_000  # rows the "looks like PII but has no rule" warning looks at


def scan_file_on_ray(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    text_field: str | None = None,
    lang: Lang = "auto",
    encoding: str = "auto",
    address: str | None = None,
    progress: Progress | None = None,
) -> int:
    """``datawheel pii scan --engine ray``: one JSON line per input row, as ``scan_file``
    writes it; returns the number of rows."""
    table, target = open_table(source), open_table(output, output=True)
    check_output(target, table)
    ray = connect(address)

    def run() -> int:
        rows = read_rows(ray, table, encoding=encoding)
        column = _text_column(rows.schema, text_field)
        lines = rows.dataset.select_columns([ROW, column]).map_batches(
            _Scan(column, lang), batch_format="pyarrow"
        )
        return write_lines(lines, target, progress=progress, total=rows.count).rows

    return cast(int, surface_errors(run))


def _text_column(schema: pa.Schema, text_field: str | None) -> str:
    """The column scanned: the one named, else the only text column (as ``scan_frame``)."""
    if text_field is None:
        texts = [c for c, t in polars_schema(schema).items() if t == pl.String]
        if len(texts) != 1:
            raise DataError(
                f"cannot tell which column holds the text: {len(texts)} text columns",
                hint="pass --text-field NAME",
            )
        return texts[0]
    if text_field not in schema.names:
        raise DataError(
            f"no column {text_field!r}; columns are {', '.join(schema.names)}",
            hint="pass --text-field with one of them",
        )
    return text_field


class _Scan:
    """The JSON line of each row: ``{"index": row, "spans": [...]}``."""

    def __init__(self, column: str, lang: Lang):
        self.column, self.lang = column, lang

    def __call__(self, batch: pa.Table) -> pa.Table:
        frame = pl.from_arrow(batch.select([self.column]))
        assert isinstance(frame, pl.DataFrame)
        spans = scan_frame(frame, self.column, lang=self.lang)
        lines = [
            json.dumps({"index": i, "spans": [s.to_dict() for s in row]}, ensure_ascii=False)
            for i, row in zip(batch[ROW].to_pylist(), spans, strict=True)
        ]
        return pa.table({ROW: batch[ROW], "line": pa.array(lines, pa.string())})


@dataclass(frozen=True)
class DerivedKeys:
    """What anonymizing needs of the secret key — its pseudonym and field-encryption keys —
    so the master key stays with the process that holds it."""

    pseudonym_key: bytes = field(repr=False)
    field_key: bytes = field(repr=False)

    @classmethod
    def of(cls, key: SecretKey) -> DerivedKeys:
        return cls(key.pseudonym_key, key.field_key)


def anonymize_file_on_ray(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: ProjectConfig,
    key: SecretKey,
    *,
    encoding: str | None = None,
    address: str | None = None,
    progress: Progress | None = None,
) -> tuple[int, AnonymizedTable]:
    """``datawheel anonymize --engine ray``: the project's privacy rules applied on the
    cluster. Returns (rows written, the result without its frame: the statistics cover every
    row; the "looks like PII" check looks at the first rows)."""
    if config.data.images or config.data.audio:
        raise UsageError(
            "image and audio columns are anonymized by the local engine (their files are read "
            "beside the data file)",
            where="data.images / data.audio",
            hint="use --engine local, or `datawheel run` with data.engine: ray",
        )
    table, target = open_table(source), open_table(output, output=True)
    check_output(target, table)
    ray = connect(address)

    def run() -> tuple[int, AnonymizedTable]:
        rows = read_rows(
            ray, table, encoding=encoding or config.data.encoding, dtypes=config.data.dtypes
        )
        sample = _sample(rows.dataset)
        undeclared = undeclared_pii(sample, config)
        task = _Anonymize.for_table(config, DerivedKeys.of(key), rows.schema.names)
        anonymized = rows.dataset.map_batches(task, batch_format="pyarrow")
        written = write_rows(anonymized, target, progress=progress, total=rows.count)
        stats = _merged([json.loads(n) for n in written.notes], task.anonymizer())
        return written.rows, AnonymizedTable(sample.head(0), stats, undeclared)

    return cast(tuple[int, AnonymizedTable], surface_errors(run))


def _sample(dataset: Any) -> pl.DataFrame:
    parts = list(dataset.limit(SAMPLE_ROWS).iter_batches(batch_format="pyarrow", batch_size=None))
    frame = pl.from_arrow(pa.concat_tables(parts).drop_columns([ROW]))
    assert isinstance(frame, pl.DataFrame)
    return frame


class _Anonymize:
    """One block through an ``Anonymizer``; its statistics ride on the first row."""

    def __init__(
        self,
        privacy: PrivacyConfig,
        keys: DerivedKeys,
        id_column: str | None,
        text_columns: list[str],
        image_columns: list[str] | None = None,
    ):
        self.privacy, self.keys = privacy, keys
        self.id_column, self.text = id_column, text_columns
        self.images = image_columns or []

    @classmethod
    def for_table(cls, config: ProjectConfig, keys: DerivedKeys, columns: list[str]) -> _Anonymize:
        """As ``anonymize_table`` does: rules for columns the table lacks are skipped."""
        present = {c: r for c, r in config.privacy.columns.items() if c in columns}
        return cls(
            config.privacy.model_copy(update={"columns": present}),
            keys,
            config.data.id if config.data.id in columns else None,
            [c for c in config.data.text if c in columns],
        )

    def anonymizer(self) -> Anonymizer:
        key = cast(SecretKey, self.keys)  # the derived keys are all the operators read
        return Anonymizer(
            self.privacy,
            key,
            id_column=self.id_column,
            text_columns=self.text,
            image_columns=self.images,
        )

    def __call__(self, batch: pa.Table) -> pa.Table:
        frame = pl.from_arrow(batch.drop_columns([ROW]))
        assert isinstance(frame, pl.DataFrame)
        out, stats = self.anonymizer().frame(frame)
        notes = [json.dumps(asdict(stats))] + [None] * (out.height - 1)
        table = out.to_arrow().add_column(0, ROW, batch[ROW])
        return table.append_column(NOTE, pa.array(notes[: out.height], pa.string()))


def anonymize_frame_on_ray(
    frame: pl.DataFrame,
    privacy: PrivacyConfig,
    key: SecretKey,
    *,
    id_column: str | None = None,
    text_columns: Sequence[str] = (),
    image_columns: Sequence[str] = (),
    address: str | None = None,
) -> tuple[pl.DataFrame, AnonymizeStats]:
    """``Anonymizer(...).frame(frame)`` with the blocks anonymized on the cluster: the same
    frame and statistics (the pipeline's anonymize stage with ``data.engine: ray``; stored
    images have their faces blurred on the cluster too)."""
    task = _Anonymize(
        privacy, DerivedKeys.of(key), id_column, list(text_columns), list(image_columns)
    )
    task.anonymizer()  # an unknown operator fails here, before any work
    ray = connect(address)

    def run() -> tuple[pl.DataFrame, AnonymizeStats]:
        rows = rows_of_frame(ray, frame)
        parts = list(
            rows.dataset.map_batches(task, batch_format="pyarrow").iter_batches(
                batch_format="pyarrow", batch_size=None
            )
        )
        notes = [n for p in parts for n in p[NOTE].to_pylist() if n is not None]
        data = pa.concat_tables(
            [p.drop_columns([ROW, NOTE]) for p in parts if p.num_rows],
            promote_options="permissive",
        )
        out = pl.from_arrow(data) if data.num_rows else task.anonymizer().frame(frame)[0]
        assert isinstance(out, pl.DataFrame)
        return out, _merged([json.loads(n) for n in notes], task.anonymizer())

    return cast(tuple[pl.DataFrame, AnonymizeStats], surface_errors(run))


def _merged(parts: list[dict[str, Any]], anonymizer: Anonymizer) -> AnonymizeStats:
    """The blocks' statistics summed: what the local engine reports for the whole table."""
    stats = AnonymizeStats()
    for part in parts:
        stats.columns.update(part["columns"])
        for column, count in part["cells"].items():
            stats.cells[column] = stats.cells.get(column, 0) + count
        for column in part["dropped_columns"]:
            if column not in stats.dropped_columns:
                stats.dropped_columns.append(column)
        for column, counts in part["text_spans"].items():
            mine = stats.text_spans.setdefault(column, {})
            for kind, count in counts.items():
                mine[kind] = mine.get(kind, 0) + count
        for column, count in part.get("faces", {}).items():
            stats.faces[column] = stats.faces.get(column, 0) + count
    if not parts:  # no rows at all: the operators still name what would have been done
        stats.columns = {c: op.name for c, op in anonymizer.operators.items()}
    return stats
