"""``datawheel init DIR --from FILE --target COL``: a project file written for the user's data.

A sample of the table is profiled: each column gets a role (a feature, free text, an
identifier, a constant, a date, a suspected leak of the target), PII-looking columns get a
privacy rule, and the task is inferred from the target. The file is commented line by line
with why, so a first ``datawheel run`` works and the user sees what to change.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from datawheel.config import parse_config
from datawheel.data.profile import ColumnProfile, profile_columns
from datawheel.data.schema import require_columns
from datawheel.errors import DataError, UsageError
from datawheel.io import read_table_with_report
from datawheel.privacy.columns import detect_pii_columns
from datawheel.privacy.coverage import suggested_rule
from datawheel.train.task import infer_task

__all__ = ["SAMPLE_ROWS", "init_from_file"]

SAMPLE_ROWS = 20_000  # rows profiled: enough for roles and PII, fast on a large file
SENSITIVE_NAMES = re.compile(r"^(sex|gender|race|ethnicity|ethnic_group|religion|nationality)$")


def _flow(value: Any) -> str:
    """A YAML scalar or flow list/mapping on one line."""
    return (
        yaml.safe_dump(value, default_flow_style=True, allow_unicode=True)
        .strip()
        .removesuffix("\n...")
        .removesuffix("...")
        .strip()
    )


def _name(directory: Path) -> str:
    name = re.sub(r"[^\w-]+", "-", directory.resolve().name).strip("-")  # 客户流失 stays
    return name or "project"


def init_from_file(
    directory: Path,
    source: Path,
    *,
    target: str,
    id_column: str | None = None,
    time_column: str | None = None,
    force: bool = False,
    encoding: str = "auto",
) -> tuple[Path, dict[str, Any]]:
    """Write ``DIR/datawheel.yaml`` (and the key) for ``source``; returns the file and a
    summary: task, roles, privacy rules, leaks. A text encoding other than UTF-8 (given, or
    detected) is written as ``data.encoding``."""
    from datawheel.project.scaffold import write_key_and_gitignore

    if not source.is_file():
        raise UsageError(f"data file not found: {source}", where="--from")
    frame, read = read_table_with_report(source, encoding=encoding)
    if frame.height == 0:
        raise DataError("the data file has no rows", where=str(source))
    named = [("--target", target)]
    named += [("--id", id_column)] if id_column else []
    named += [("--time", time_column)] if time_column else []
    require_columns(frame.columns, named, source=str(source))
    sample = frame.head(SAMPLE_ROWS)
    labelled = sample.filter(pl.col(target).is_not_null())
    if labelled.height < 10:
        raise DataError(f"target {target!r} has fewer than 10 values", where=str(source))
    task = infer_task(labelled[target])
    if task != "regression" and labelled[target].n_unique() < 2:
        raise DataError(f"target {target!r} has a single value", where=str(source),
                        hint="pick the column to predict with --target")  # fmt: skip
    media = _media_columns(sample, source, exclude=(target, id_column, time_column))
    skip = tuple(c for c in (id_column, time_column, *media) if c)
    profiles = profile_columns(labelled, target=target, regression=task == "regression", skip=skip)
    scan = [c for c in sample.columns if c not in (target, *skip)]
    pii = detect_pii_columns(sample.select(scan))
    rules = {column: suggested_rule(found) for column, found in pii.items()}
    text = [p.name for p in profiles.values() if p.role == "text" and p.name not in rules]

    directory.mkdir(parents=True, exist_ok=True)
    project_file = directory / "datawheel.yaml"
    if project_file.exists() and not force:
        raise UsageError(f"{project_file} already exists", hint="use another folder or --force")
    relative = os.path.relpath(source.resolve(), directory.resolve())
    body = _project_yaml(
        _name(directory), relative, target, id_column, time_column, task, profiles, rules, pii,
        text, read.encoding, media,
    )  # fmt: skip
    parse_config(yaml.safe_load(body), source=str(project_file))  # what we write must load
    project_file.write_text(body, encoding="utf-8")
    write_key_and_gitignore(directory)
    summary = {
        "task": task,
        "rows": frame.height,
        "roles": {p.name: p.role for p in profiles.values()},
        "privacy": rules,
        "leaks": {p.name: p.reason for p in profiles.values() if p.role == "leak"},
    }
    if media:
        summary["media"] = media
    return project_file, summary


def _media_columns(
    sample: pl.DataFrame, source: Path, *, exclude: tuple[str | None, ...]
) -> dict[str, str]:
    """Columns of image or audio files (paths beside the data file, bytes, base64)."""
    from datawheel.data.media.detect import detect_media_columns

    candidates = sample.select([c for c in sample.columns if c not in exclude])
    return dict(detect_media_columns(candidates, base_dir=source.parent.resolve()))


def _project_yaml(
    name: str,
    source: str,
    target: str,
    id_column: str | None,
    time_column: str | None,
    task: str,
    profiles: dict[str, ColumnProfile],
    rules: dict[str, str],
    pii: dict[str, Any],
    text: list[str],
    encoding: str = "utf-8",
    media: dict[str, str] | None = None,
) -> str:
    by_role: dict[str, list[ColumnProfile]] = {}
    for p in profiles.values():
        if p.name not in rules:
            by_role.setdefault(p.role, []).append(p)
    ignore = [p.name for r in ("id", "constant", "date", "leak") for p in by_role.get(r, [])]
    sensitive = [
        p.name for p in by_role.get("categorical", []) if SENSITIVE_NAMES.match(p.name.lower())
    ]
    lines = [
        f"# datawheel project file for {source}, written by `datawheel init --from`.",
        "# Every key is optional unless marked required. Docs: README.md, datawheel/config.py",
        f"name: {_flow(name)}",
        "",
        "data:",
        f"  source: {_flow(source)}   # required: relative to this file",
        f"  target: {_flow(target)}   # required: the column to predict",
        f"  task: {task}   # inferred from the target; auto | binary | multiclass | regression",
    ]
    lines.append(
        f"  id: {_flow(id_column)}   # the data subject: erasure and lineage follow it"
        if id_column
        else "  # id: COLUMN   # the data subject (erasure, lineage)"
    )
    if time_column:
        lines.append(f"  time: {_flow(time_column)}   # a timestamp: never a feature")
    if codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
        lines.append(f"  encoding: {encoding}   # the file's text encoding (auto detects it too)")
    lines.append(f"  text: {_flow(text)}   # free-text columns")
    media = media or {}
    for key, kind, formats in (("images", "image", "PNG, JPEG, WebP, GIF"),
                               ("audio", "audio", "WAV, FLAC, OGG, MP3")):  # fmt: skip
        columns = [c for c, k in media.items() if k == kind]
        if columns:
            lines.append(f"  {key}: {_flow(columns)}   # {formats} files (docs/media.md)")
    lines.append(f"  sensitive: {_flow(sensitive)}   # fairness groups (reported and gated)")
    lines.append(f"  ignore: {_flow(ignore)}   # not features:")
    for role in ("id", "constant", "date", "leak"):
        for p in by_role.get(role, []):
            lines.append(f"  #   {p.name}: {p.role} — {p.reason}")
    features = [p for r in ("numeric", "categorical") for p in by_role.get(r, [])]
    lines.append("  # features: " + (", ".join(f"{p.name} ({p.role})" for p in features) or "none"))
    lines += [
        "",
        "privacy:",
        "  require_rules: false   # true: a PII-looking column without a rule stops `run`",
    ]
    if rules:
        lines.append(
            "  columns:   # detected PII → operator (pseudonymize, redact, mask, drop, keep)"
        )
        for column, rule in rules.items():
            found = pii[column]
            lines.append(
                f"    {_flow(column)}: {rule}   # {found.type} by {found.reason}, "
                f"score {found.score:.2f}"
            )
    else:
        lines.append("  columns: {}   # no PII-looking column found in the sample")
    if text:
        lines.append("  text: {entities: all, operator: pseudonymize}   # PII inside free text")
    lines += [
        "",
        "model:",
        "  kind: auto   # trains linear, gbm and mlp; keeps the best on validation (the",
        "               # simpler one when the gap is within noise). Or: linear | gbm | mlp",
        "",
        "train:",
        "  epochs: 30   # the mlp's; gbm stops early by itself",
        "  seed: 0",
        "",
        "gates:   # a re-run or a retrain replaces the champion only if it passes these",
        "  min_improvement: 0.0",
        "  max_fairness_gap: 0.1",
        "  max_latency_ms: 50",
        "",
        "card:   # shown on the model card: say what the model is for, and what not",
        f"  intended_use: {_flow(f'Predict {target} from the columns of {Path(source).name}.')}",
        "  limitations: ''",
        "",
    ]
    return "\n".join(lines)
