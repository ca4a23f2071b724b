"""Clean a table file of any size: streamed passes that first learn, then apply, the clean steps.

Passes over the input (each reads it batch by batch; memory does not grow with the rows):

0. schema: dtypes for the whole file, malformed lines counted (skipped only in ``skip`` mode);
1. select: exact duplicates by a set of 64-bit row hashes; near-duplicate signatures, then LSH
   and a re-read of only the candidate rows to verify them — a keep mask of 1 byte per row;
2. learn: fill values (median, mean, most frequent) and outlier bounds over the kept rows —
   exact while the values fit the budget, from a uniform sample beyond it (``approximate``);
3. write: the steps of ``clean_frame`` with the learned values, batch by batch, to a temporary
   file renamed over the output at the end.

With one batch the result equals ``clean_frame`` on the whole table (a test checks it).
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from datawheel.config import CleanConfig, DataConfig
from datawheel.data.accumulate import RowHashSet, TypeIssues, ValueCounts, Values
from datawheel.data.clean import (
    CleanStats,
    MissingValues,
    NormalizeText,
    Outliers,
    Rules,
    Step,
    comparable_text,
    mode_of_counts,
    numeric_fill,
    row_keys,
)
from datawheel.data.clean_media import MediaExample, MediaPasses
from datawheel.data.dedup import Sketcher, check_dedup_args, resolve_clusters
from datawheel.data.schema import feature_columns, infer_schema, require_columns
from datawheel.data.stream import DEFAULT_BATCH_ROWS, Progress, ReadStats, TableReader, TableWriter
from datawheel.errors import DataError
from datawheel.io import OnBadLines

__all__ = [
    "CleanFileResult",
    "CleaningPlan",
    "ColumnProfile",
    "DuplicateExample",
    "check_clean_config",
    "clean_file",
    "plan_cleaning",
]

MAX_EXAMPLES = 5  # duplicate examples kept per kind (and per near-dedup field)
EXACT_VALUES_BUDGET = 20_000_000  # numeric values held exactly, all columns together (8 B each)
_SHOWN_CHARS = 240  # an example text is cut here


@dataclass(frozen=True)
class DuplicateExample:
    """A removed row and the kept row it duplicates (text cut to a few hundred characters)."""

    kind: str  # exact_duplicate | near_duplicate
    field: str | None  # the compared text column (near duplicates)
    kept_index: int  # 0-based input rows
    duplicate_index: int
    kept: str = ""
    duplicate: str = ""


@dataclass
class ColumnProfile:
    """One input column: dtype, role, missing cells; values for numeric, counts for categorical."""

    name: str
    dtype: str
    role: str
    missing: int = 0
    values: Values | None = None  # numeric features: after dedup, before outlier handling
    counts: ValueCounts | None = None  # categorical features and the target


@dataclass
class CleanFileResult:
    """What ``clean_file`` did; ``stats.dropped`` counts every removed row by reason."""

    input: Path
    output: Path
    stats: CleanStats
    read: ReadStats
    columns: dict[str, ColumnProfile]
    type_issues: dict[str, str]  # column -> one line
    pii_columns: dict[str, str]  # column -> PII type (names only, never values)
    examples: list[DuplicateExample] = field(default_factory=list)
    hidden_examples: dict[str, str] = field(default_factory=dict)  # field -> why not shown
    approximate: list[str] = field(default_factory=list)  # columns with sampled statistics
    seconds: float = 0.0
    report: Path | None = None
    media: Any = None  # data.images / data.audio: the media stage's MediaScan
    media_examples: list[MediaExample] = field(default_factory=list)
    media_rejects: Path | None = None  # the side file listing the rejected files
    blur_faces: bool = False  # privacy.images.faces: blur — thumbnails are blurred too


def clean_file(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    config: CleanConfig | None = None,
    data: DataConfig | None = None,
    pii_columns: Sequence[str] = (),
    report: str | os.PathLike[str] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    encoding: str = "auto",  # detected: UTF-8, UTF-16, GB18030/GBK, Big5, Windows-1252
    on_bad_lines: OnBadLines = "error",
    bad_lines_path: str | os.PathLike[str] | None = None,
    exact_values: int = EXACT_VALUES_BUDGET,
    progress: Progress | None = None,
    media_rejects_path: str | os.PathLike[str] | None = None,
    blur_faces: bool = False,
) -> CleanFileResult:
    """Clean ``path`` into ``output`` (formats by extension) in streamed batches.

    ``data`` gives the column roles (target, id, text, images, audio …); without it roles are
    inferred and there is no target. ``pii_columns`` (e.g. the project's privacy.columns) get
    the role ``pii`` and are not touched by cleaning. With ``report`` an HTML quality report is
    written. Image and audio columns are decoded, checked, deduplicated and written as stored
    bytes (base64 in CSV and JSON lines); bad files are listed in ``media_rejects_path``
    (default: ``OUTPUT.media-rejects.csv``). ``blur_faces`` blurs the report's thumbnails.
    """
    started = time.perf_counter()
    config = config or CleanConfig()
    check_clean_config(config)
    path, output = Path(path), Path(output)
    if path.resolve() == output.resolve():
        raise DataError("the output would overwrite the input", where=str(output))
    note = progress or (lambda stage, done, total: None)
    media = MediaPasses.create(data, config, path)
    if media is not None:
        from datawheel.data.media.check import MEDIA_BATCH_ROWS

        batch_rows = min(batch_rows, MEDIA_BATCH_ROWS)  # bytes of files, not cells, per row
    with TableReader(
        path,
        batch_rows=batch_rows,
        encoding=encoding,
        on_bad_lines=on_bad_lines,
        bad_lines_path=bad_lines_path,
        dtypes=data.dtypes if data is not None else None,
    ) as reader:
        plan = _plan(reader, config, data, pii_columns, note)
        chosen = _select(reader, plan, note, media)
        learned = _learn(reader, plan, chosen.keep, exact_values, note)
        stats = _write(reader, plan, chosen, learned, output, note, media)
        read = reader.stats
    if read.bad_lines:
        stats.dropped["bad_line"] = read.bad_lines
    stats.rows_in = read.rows + read.bad_lines
    result = CleanFileResult(
        input=path,
        output=output,
        stats=stats,
        read=read,
        columns=plan.columns,
        type_issues=chosen.type_issues,
        pii_columns=plan.pii,
        examples=chosen.examples,
        hidden_examples=plan.hidden,
        approximate=[c for c, p in plan.columns.items() if p.values and not p.values.exact],
        blur_faces=blur_faces,
    )
    if media is not None:
        from datawheel.data.media.table import rejects_path, write_rejects

        result.media, result.media_examples = media.scan, media.examples
        side = Path(media_rejects_path) if media_rejects_path else rejects_path(output)
        if media.scan.rejects:
            result.media_rejects = write_rejects(media.scan.rejects, side)
    if report is not None:
        from datawheel.data.quality_report import write_quality_report

        result.report = Path(report)
        result.seconds = time.perf_counter() - started
        write_quality_report(result, report)
    result.seconds = time.perf_counter() - started
    return result


def check_clean_config(config: CleanConfig) -> None:
    for kind in ("numeric", "categorical"):
        if getattr(config.missing, kind) == "constant" and config.missing.fill_value is None:
            raise DataError(
                "missing-value strategy 'constant' needs a fill value",
                where="clean.missing.fill_value",
                hint="set clean.missing.fill_value, e.g. 0 or 'unknown'",
            )


@dataclass
class CleaningPlan:
    config: CleanConfig
    schema: dict[str, pl.DataType]
    columns: dict[str, ColumnProfile]
    numeric: list[str]
    categorical: list[str]
    text: list[str]
    target: str | None
    ignore: list[str]  # left out of exact-dedup comparisons (the subject id)
    hide: set[str]  # columns whose values are never shown (PII, the id)
    pii: dict[str, str]
    hidden: dict[str, str]

    def learning_steps(self) -> tuple[Step, Step]:
        """The learning pass's missing-value steps, numeric then categorical (rows a
        categorical ``drop`` removes leave between them), filling only ``constant`` values —
        the learned fills are what the pass finds. One pair for both engines."""
        missing = self.config.missing
        constant: dict[str, dict[str, Any]] = {"numeric": {}, "categorical": {}}
        for kind in constant:
            if getattr(missing, kind) == "constant":
                names = self.numeric if kind == "numeric" else self.categorical
                constant[kind] = dict.fromkeys(names, missing.fill_value)
        numeric_step = MissingValues(
            missing, numeric=self.numeric, target=self.target, fill_values=constant["numeric"]
        )
        categorical_step = MissingValues(
            missing, categorical=self.categorical, fill_values=constant["categorical"]
        )
        return numeric_step, categorical_step

    def write_steps(
        self, fill_values: Mapping[str, Any], bounds: Mapping[str, tuple[float, float] | str]
    ) -> list[Step]:
        """The steps of the write pass, with the values the learning pass found — one list
        for the local engine and the Ray engine's blocks, so both clean alike."""
        config = self.config
        steps: list[Step] = [
            MissingValues(
                config.missing,
                numeric=self.numeric,
                categorical=self.categorical,
                text=self.text,
                target=self.target,
                fill_values=fill_values,
            ),
            Outliers(config.outliers, numeric=self.numeric, bounds=bounds),
        ]
        if config.rules:
            steps.append(Rules(config.rules))
        if config.normalize.text:
            steps.append(NormalizeText(self.text, lowercase=config.normalize.lowercase))
        return steps


def _plan(
    reader: TableReader,
    config: CleanConfig,
    data: DataConfig | None,
    pii_columns: Sequence[str],
    note: Progress,
) -> CleaningPlan:
    """Dtypes (schema pass), roles from the first batch, and the columns never shown."""
    note("reading", 0, None)
    schema = reader.schema
    note("reading", reader.stats.rows, reader.stats.rows)
    with contextlib.closing(reader.batches()) as batches:
        sample = next(batches)
    return plan_cleaning(schema, sample, str(reader.path), config, data, pii_columns)


def plan_cleaning(
    schema: dict[str, pl.DataType],
    sample: pl.DataFrame,
    where: str,
    config: CleanConfig,
    data: DataConfig | None,
    pii_columns: Sequence[str],
) -> CleaningPlan:
    """Column roles (from ``sample``, the first batch), the columns checked against the
    config, and the columns whose values are never shown — for either engine."""
    roles_from = data or DataConfig(source=where, target="")  # no target: all are inputs
    keys = ("text", "images", "audio", "sensitive", "ignore", "dtypes") if data is not None else ()
    named = [(f"data.{k}", c) for k in keys for c in getattr(data, k)]
    if data is not None:
        named += [("data.target", data.target)] + ([("data.id", data.id)] if data.id else [])
    named += [("clean.dedup.near.fields", c) for c in config.dedup.near.fields]
    require_columns(list(schema), named, source=where)
    for name in config.dedup.near.fields:
        check_dedup_args(list(schema), schema[name], name, config.dedup.near.threshold)
    info = infer_schema(sample, roles_from, pii_columns=pii_columns)
    numeric, categorical = feature_columns(info)
    from datawheel.privacy.columns import detect_pii_columns

    files = [c for c in (data.images + data.audio if data else []) if c in sample.columns]
    pii = {n: p.type for n, p in detect_pii_columns(sample.head(2_000).drop(files)).items()}
    pii.update({c: pii.get(c, "PII") for c in pii_columns if c in schema})
    hide = set(pii) | ({data.id} if data and data.id else set())
    hide |= set(data.images + data.audio) if data else set()  # files are no example text
    hidden = {f: f"{f!r} looks like PII ({pii[f]}): examples are not shown" for f in pii}
    target = data.target if data is not None else None
    columns = {
        name: ColumnProfile(name, str(dtype), info[name].role) for name, dtype in schema.items()
    }
    return CleaningPlan(
        config=config,
        schema=schema,
        columns=columns,
        numeric=numeric,
        categorical=categorical,
        text=[c for c, i in info.items() if i.role == "text"],
        target=target,
        ignore=[data.id] if data and data.id else [],
        hide=hide,
        pii=pii,
        hidden={f: w for f, w in hidden.items() if f in config.dedup.near.fields},
    )


@dataclass
class _Selection:
    keep: np.ndarray  # bool [rows]
    dropped: dict[str, int]
    type_issues: dict[str, str]
    examples: list[DuplicateExample]
    pending: dict[int, int]  # row hash -> index of an exact duplicate whose kept row is unknown


def _select(
    reader: TableReader, plan: CleaningPlan, note: Progress, media: MediaPasses | None = None
) -> _Selection:
    """Pass 1 (+ one verify pass per near-dedup field): which rows survive deduplication, and
    (with media columns) a decodable file where ``clean.media.on_error`` is ``drop``."""
    config, total = plan.config, reader.stats.rows
    seen = RowHashSet()
    issues = TypeIssues()
    near = config.dedup.near
    sketchers = {f: Sketcher(ngram=near.ngram, exact_only=False) for f in near.fields}
    comparable: dict[str, list[np.ndarray]] = {f: [] for f in near.fields}
    keep_parts: list[np.ndarray] = []
    examples: list[DuplicateExample] = []
    pending: dict[int, int] = {}
    start = 0
    bad_media = 0
    for number, batch in enumerate(reader.batches()):
        for name, count in zip(batch.columns, batch.null_count().row(0), strict=True):
            plan.columns[name].missing += count
        issues.add(batch)
        drop = np.zeros(batch.height, dtype=bool)
        if media is not None:
            batch, drop = media.select(batch, number, start)
            bad_media += int(drop.sum())
        keys = row_keys(batch.schema, plan.ignore)
        keep = np.ones(batch.height, dtype=bool)
        if config.dedup.exact and keys and batch.height:
            hashes = batch.select(pl.struct(keys).hash(seed=0)).to_series().to_numpy()
            keep = seen.first_seen(hashes) & ~drop
            for j in np.flatnonzero(~keep & ~drop)[: MAX_EXAMPLES - len(examples)].tolist():
                pending[int(hashes[j])] = start + j
                examples.append(_example("exact_duplicate", None, -1, start + j))
        for name in near.fields:
            texts = batch.get_column(name).cast(pl.String)
            sketchers[name].add(texts)
            comparable[name].append(comparable_text(texts).to_numpy())
        keep_parts.append(keep & ~drop)
        start += batch.height
        note("deduplicating", start, total)
    keep = np.concatenate(keep_parts)
    exact = int((~keep).sum()) - bad_media
    dropped = {"exact_duplicate": exact} if exact else {}
    if bad_media:
        dropped["bad_media"] = bad_media
    if media is not None:
        keep, media_dropped = media.duplicates(keep, examples=MAX_EXAMPLES)
        dropped.update(media_dropped)
    for name in near.fields:
        note(f"verifying near duplicates ({name})", 0, None)
        found = resolve_clusters(
            *sketchers.pop(name).finish(),
            threshold=near.threshold,
            fetch_texts=functools.partial(_gathered_text, reader, name),
            ngram=near.ngram,
            active=keep & np.concatenate(comparable.pop(name)),
        )
        removed = keep & ~found.keep
        if removed.any():
            dropped["near_duplicate"] = dropped.get("near_duplicate", 0) + int(removed.sum())
        keep &= found.keep
        for j in np.flatnonzero(removed)[:MAX_EXAMPLES].tolist():
            examples.append(_example("near_duplicate", name, int(found.cluster[j]), j))
    return _Selection(keep, dropped, issues.issues(), examples, pending)


def _gathered_text(reader: TableReader, column: str, rows: np.ndarray) -> pl.Series:
    """``column`` at the sorted row indices ``rows``, as text (near-dup verification)."""
    return reader.gather(column, rows).cast(pl.String)


def _example(kind: str, name: str | None, kept: int, duplicate: int) -> DuplicateExample:
    return DuplicateExample(kind, name, kept, duplicate)


@dataclass
class _Learned:
    fill_values: dict[str, Any]
    bounds: dict[str, tuple[float, float] | str]
    skipped: dict[str, str]


def _learn(
    reader: TableReader, plan: CleaningPlan, keep: np.ndarray, budget: int, note: Progress
) -> _Learned:
    """Pass 2: fill values and outlier bounds over the kept rows, as ``clean_frame`` would."""
    missing = plan.config.missing
    numeric = [c for c in plan.numeric if plan.schema[c].is_numeric()]
    per_column = max(100_000, budget // max(len(numeric), 1))
    for c in numeric:
        plan.columns[c].values = Values(max_exact=per_column)
    for c in [*plan.categorical, *([plan.target] if plan.target else [])]:
        plan.columns[c].counts = ValueCounts()
    learns = missing.numeric in ("median", "mean", "most_frequent")
    separate = learns and missing.categorical == "drop"  # rows drop between fill and bounds
    fill_acc = {c: Values(max_exact=per_column) for c in numeric} if separate else {}
    numeric_step, categorical_step = plan.learning_steps()
    start = 0
    for batch in reader.batches():
        frame = batch.filter(pl.Series(keep[start : start + batch.height]))
        start += batch.height
        if plan.target:
            plan.columns[plan.target].counts.add(frame.get_column(plan.target))  # type: ignore[union-attr]
        frame, _ = numeric_step.apply(frame)
        for c in fill_acc:
            fill_acc[c].add(frame.get_column(c))
        frame, _ = categorical_step.apply(frame)
        for c in plan.categorical:
            plan.columns[c].counts.add(frame.get_column(c))  # type: ignore[union-attr]
        for c in numeric:
            plan.columns[c].values.add(frame.get_column(c))  # type: ignore[union-attr]
        note("learning fill values and bounds", start, len(keep))
    return _finish_learning(plan, numeric, fill_acc)


def _finish_learning(
    plan: CleaningPlan, numeric: list[str], fill_acc: dict[str, Values]
) -> _Learned:
    missing, outliers = plan.config.missing, plan.config.outliers
    fills: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for c in plan.numeric:
        if c not in numeric:
            if missing.numeric != "none":
                skipped[c] = f"missing: not a number column ({plan.schema[c]})"
            continue
        values = fill_acc.get(c) or plan.columns[c].values
        assert values is not None
        if missing.numeric == "constant":
            fills[c] = missing.fill_value
        elif missing.numeric in ("median", "mean", "most_frequent"):
            value = numeric_fill(values.series(c), missing.numeric, None)
            if value is not None and plan.schema[c].is_integer():
                value = round(float(value))
            if value is None and values.nulls:
                skipped[c] = "missing: the column has no values to learn a fill from"
            fills[c] = value
    for c in plan.categorical:
        counts = plan.columns[c].counts
        if missing.categorical == "constant":
            fills[c] = missing.fill_value
        elif missing.categorical == "most_frequent" and counts is not None:
            table = counts.frame()
            fills[c] = mode_of_counts(table, "value") if table.height else None
            if fills[c] is None and counts.nulls:
                skipped[c] = "missing: the column has no values to learn a fill from"
    bounds: dict[str, tuple[float, float] | str] = {}
    if outliers.method != "none":
        judge = Outliers(outliers)
        for c in plan.numeric:
            values = plan.columns[c].values
            if values is None:
                bounds[c] = f"not a number column ({plan.schema[c]})"
                continue
            filled = values.nulls if fills.get(c) is not None else 0
            bounds[c] = judge.column_bounds(
                values.series(c, extra=fills.get(c), extra_count=filled)
            )
    return _Learned({k: v for k, v in fills.items() if v is not None}, bounds, skipped)


def _write(
    reader: TableReader,
    plan: CleaningPlan,
    chosen: _Selection,
    learned: _Learned,
    output: Path,
    note: Progress,
    media: MediaPasses | None = None,
) -> CleanStats:
    """Pass 3: apply the steps with the learned values and write the kept rows."""
    steps = plan.write_steps(learned.fill_values, learned.bounds)
    stats = CleanStats(dropped=dict(chosen.dropped))
    examples = _ExampleFinder(plan, chosen)
    start = 0
    with TableWriter(output) as writer:
        for number, batch in enumerate(reader.batches()):
            if media is not None:
                batch = media.write(batch, number, start)
            examples.look(batch, start)
            frame = batch.filter(pl.Series(chosen.keep[start : start + batch.height]))
            start += batch.height
            for step in steps:
                frame, part = step.apply(frame)
                part.skipped = {}  # the same every batch: set once below
                stats.merge(part)
            writer.write(frame)
            note("writing", start, len(chosen.keep))
        stats.rows_out = writer.rows
    skipped = dict(learned.skipped)
    for c, why in learned.bounds.items():
        if isinstance(why, str) and plan.config.outliers.method != "none":
            skipped[c] = f"{skipped[c]}; outliers: {why}" if c in skipped else f"outliers: {why}"
    stats.skipped = skipped
    chosen.examples[:] = examples.done()
    return stats


class _ExampleFinder:
    """Fills in the texts of duplicate examples while the write pass reads the rows."""

    def __init__(self, plan: CleaningPlan, chosen: _Selection):
        self.plan, self.examples = plan, list(chosen.examples)
        self.pending = dict(chosen.pending)  # hash -> duplicate index (kept row not found yet)
        self.kept_of: dict[int, int] = {}  # duplicate index -> kept index
        self.texts: dict[tuple[str | None, int], str] = {}
        self.wanted: dict[int, set[str | None]] = {}
        for e in self.examples:
            if e.field in plan.hidden:
                continue
            self.wanted.setdefault(e.duplicate_index, set()).add(e.field)
            if e.kind == "near_duplicate":
                self.wanted.setdefault(e.kept_index, set()).add(e.field)

    def look(self, batch: pl.DataFrame, start: int) -> None:
        if self.pending:
            keys = row_keys(batch.schema, self.plan.ignore)
            hashes = batch.select(pl.struct(keys).hash(seed=0)).to_series().to_numpy()
            for h, dup in list(self.pending.items()):
                hits = np.flatnonzero(hashes == np.uint64(h))
                if len(hits):
                    self.kept_of[dup] = start + int(hits[0])
                    self.wanted.setdefault(start + int(hits[0]), set()).add(None)
                    del self.pending[h]
        lo, hi = start, start + batch.height
        for index, fields in self.wanted.items():
            if lo <= index < hi:
                row = batch.row(index - start, named=True)
                for name in fields:
                    self.texts[(name, index)] = self._text(row, name)

    def _text(self, row: dict[str, Any], name: str | None) -> str:
        if name is not None:
            text = str(row.get(name) or "")
        else:
            text = ", ".join(f"{k}={v}" for k, v in row.items() if k not in self.plan.hide)
        return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"

    def done(self) -> list[DuplicateExample]:
        out = []
        for e in self.examples:
            if e.field in self.plan.hidden:
                out.append(e)
                continue
            kept = self.kept_of.get(e.duplicate_index, e.kept_index)
            out.append(
                DuplicateExample(
                    e.kind,
                    e.field,
                    kept,
                    e.duplicate_index,
                    self.texts.get((e.field, kept), ""),
                    self.texts.get((e.field, e.duplicate_index), ""),
                )
            )
        return out
