"""Layer 6: evaluate a model version on held-out or given data, write its card, explain files."""

from __future__ import annotations

import json
import os
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from datawheel.atomic import AtomicFile
from datawheel.config import ProjectConfig
from datawheel.errors import DataError, UsageError
from datawheel.evaluate.card_sections import word_importance
from datawheel.evaluate.explain import METHODS, global_importance
from datawheel.evaluate.metrics import METRICS, task_of
from datawheel.evaluate.regression import REGRESSION_METRICS, regression_bootstrap_ci
from datawheel.evaluate.statistics import metric_interval
from datawheel.io import read_table
from datawheel.privacy.anonymize import Anonymizer
from datawheel.project.pipeline import Project, baseline_warnings
from datawheel.registry.candidate import assess_model
from datawheel.registry.version_card import version_card_html, version_split
from datawheel.registry.versions import get_version, load_version_model
from datawheel.report.html import write_page
from datawheel.report.plots import load_chart_library
from datawheel.store.datasets import load_frame
from datawheel.store.workspace import Workspace

__all__ = [
    "EvaluationReport",
    "anonymize_rows",
    "evaluate_model",
    "explain_file",
    "read_project_table",
    "version_card",
]

CARD_EXPLAIN_ROWS = 200  # held-out rows behind the card's global importance
CARD_WORD_ROWS = 100  # held-out rows behind the card's words of a network's text
_EXPLAIN_CHUNK = 512  # input rows explained (and held in memory) at a time


@dataclass
class EvaluationReport:
    """What ``datawheel evaluate`` measured, with 95 % intervals (Wilson for shares, else
    bootstrap) — ``None`` where the count behind a metric is too small (``interval_notes``)."""

    model_version: str
    data: str  # "dataset ds_…" (the held-out split) or the file read
    rows: int
    metrics: dict[str, Any]
    intervals: dict[str, tuple[float, float] | None]
    fairness: dict[str, Any]
    fairness_gap: float | None  # the gated gap: equalized odds over well-measured groups
    fairness_gap_column: str | None
    interval_notes: dict[str, str] = field(default_factory=dict)  # metric → method or reason
    primary: dict[str, Any] = field(default_factory=dict)  # the primary metric vs the baseline
    fairness_gate: dict[str, Any] = field(default_factory=dict)  # GatedGap.to_dict()
    split: dict[str, Any] = field(default_factory=dict)  # how the version's data was split
    warnings: list[str] = field(default_factory=list)
    importance: dict[str, float] = field(default_factory=dict)
    report_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_project_table(
    project: Project, path: str | os.PathLike[str], encoding: str | None = None
) -> pl.DataFrame:
    """A file read as the project reads its source: its encoding (unless ``encoding`` is
    given) and its declared column types."""
    data = project.config.data
    return read_table(os.fspath(path), encoding=encoding or data.encoding, dtypes=data.dtypes)


def anonymize_rows(project: Project, ws: Workspace, frame: pl.DataFrame) -> pl.DataFrame:
    """Apply the project's privacy rules to the columns ``frame`` has, as training did."""
    privacy = project.config.privacy
    present = {c: rule for c, rule in privacy.columns.items() if c in frame.columns}
    id_column = project.config.data.id
    anonymizer = Anonymizer(
        privacy.model_copy(update={"columns": present}),
        ws.secret_key(),
        id_column=id_column if id_column in frame.columns else None,
    )
    return anonymizer.frame(frame)[0]


def evaluate_model(
    project: Project,
    ws: Workspace,
    *,
    model: str = "champion",
    data: str | os.PathLike[str] | None = None,
    report: str | os.PathLike[str] | None = None,
    encoding: str | None = None,
) -> EvaluationReport:
    """Assess a version on ``data`` (raw rows, anonymized here) or its held-out split.

    Metrics carry bootstrap intervals; fairness covers each sensitive column and each pair.
    ``report`` writes the model card (with mean |SHAP| importance on up to 200 rows).
    ``data`` is read as the project reads its source (``data.encoding`` unless ``encoding``
    is given, ``data.dtypes``).
    """
    config = project.config
    version = get_version(ws, model)
    trained = load_version_model(ws, version)
    if data is not None:
        frame = anonymize_rows(project, ws, read_project_table(project, data, encoding))
        source = str(data)
    elif version.eval_dataset_id:
        frame, source = (
            load_frame(ws, version.eval_dataset_id),
            f"dataset {version.eval_dataset_id}",
        )
    else:
        raise UsageError(
            f"{version.id} has no held-out dataset recorded", hint="pass --data FILE"
        )  # fmt: skip
    target = config.data.target
    if target not in frame.columns:
        raise DataError(f"the data has no target column {target!r}", where=str(source),
                        hint="evaluate on labelled rows")  # fmt: skip
    frame = frame.filter(pl.col(target).is_not_null())
    if frame.height == 0:
        raise DataError("no labelled rows to evaluate", where=str(source))
    # the card's attributions are matrix work that frees the GIL: other threads compute them
    # (importance and words side by side: two workers, as the first task hands the words to the
    # second) while this one scores the rows and loads the chart library
    beside = ThreadPoolExecutor(max_workers=2, thread_name_prefix="datawheel-card")
    try:
        explained = (
            beside.submit(importance_and_words, trained, frame, beside=beside) if report else None
        )
        result = assess_model(config, trained, frame, intersections=True)
        if trained.is_regression:
            out = _regression_report(ws, version, trained, frame, source, result, config)
        else:
            out = _classification_report(ws, version, trained, frame, source, result)
        if report is not None and explained is not None:
            load_chart_library()
            html, out.importance = _card(ws, config, version, trained, frame, source, result,
                                         explained=explained.result())  # fmt: skip
            out.report_path = str(write_page(report, html))
    except BaseException:
        beside.shutdown(wait=False, cancel_futures=True)  # the error first, not after the work
        raise
    beside.shutdown()
    return out


def _classification_report(
    ws: Workspace, version: Any, trained: Any, frame: pl.DataFrame, source: str, result: Any
) -> EvaluationReport:
    task = task_of(len(trained.classes))
    intervals: dict[str, tuple[float, float] | None] = {}
    notes: dict[str, str] = {}
    assert result.y is not None and result.pred is not None
    for name, metric in METRICS.items():
        if task not in metric.tasks:
            continue
        interval = metric_interval(metric, result.y, result.pred, result.pos)
        ok = interval.low is not None and interval.high is not None
        intervals[name] = (interval.low, interval.high) if ok else None  # type: ignore[assignment]
        notes[name] = interval.method if ok else interval.reason
    return EvaluationReport(
        model_version=version.id,
        data=source,
        rows=frame.height,
        metrics=result.metrics,
        intervals=intervals,
        fairness=result.fairness,
        fairness_gap=result.gap,
        fairness_gap_column=result.gap_column,
        interval_notes=notes,
        primary=result.primary,
        fairness_gate=result.gated.to_dict() if result.gated else {},
        split=version_split(ws, version),
        warnings=baseline_warnings(result),
    )


def _card(
    ws: Workspace,
    config: ProjectConfig,
    version: Any,
    trained: Any,
    frame: pl.DataFrame,
    source: str,
    result: Any,
    *,
    explained: tuple[dict[str, float], dict[str, dict[str, float]]] | None = None,
) -> tuple[str, dict[str, float]]:
    """The card's HTML, with mean |SHAP| importance on up to ``CARD_EXPLAIN_ROWS`` rows
    (``explained``: `importance_and_words` already computed)."""
    importance, words = explained or importance_and_words(trained, frame)
    html = version_card_html(
        ws, version, trained, frame, config=config, source=source, assessment=result,
        proba=None if trained.is_regression else result.pred, importance=importance,
        words=words,
    )  # fmt: skip
    return html, importance


def version_card(ws: Workspace, config: ProjectConfig, ref: str = "champion") -> str:
    """The model card of version ``ref`` as HTML, evaluated on its held-out rows — the page
    ``datawheel evaluate --report`` writes — in the interface language of the caller."""
    version = get_version(ws, ref)
    trained = load_version_model(ws, version)
    target = config.data.target
    if version.eval_dataset_id:
        frame = load_frame(ws, version.eval_dataset_id)
        if target in frame.columns:
            frame = frame.filter(pl.col(target).is_not_null())
            if frame.height:
                result = assess_model(config, trained, frame, intersections=True)
                source = f"dataset {version.eval_dataset_id}"
                return _card(ws, config, version, trained, frame, source, result)[0]
    return version_card_html(ws, version, trained, None, config=config)


def importance_and_words(
    model: Any,
    frame: pl.DataFrame,
    *,
    max_rows: int = CARD_EXPLAIN_ROWS,
    beside: Executor | None = None,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean |value| per input column over up to ``max_rows`` held-out rows, and for a model
    with text, the mean value of each word (the network's over ``CARD_WORD_ROWS`` rows: its
    words cost a pass per row, or an encoding per word with MiniLM). A fusion model (images,
    audio) is valued per modality; its heatmaps are the card's examples. ``beside``: a pool
    that computes a network's words while this thread computes its importance."""
    fused = bool(getattr(model, "fused", False))
    if model.family == "mlp" and not fused:
        if not model.preprocessor.columns.text:
            return global_importance(model, frame, max_rows=max_rows), {}
        head = frame.head(CARD_WORD_ROWS)
        words = beside.submit(model.explain, head) if beside is not None else None
        importance = global_importance(model, frame, max_rows=max_rows)
        return importance, word_importance(words.result() if words else model.explain(head))
    sample = frame.head(max_rows)
    explained = model.explain(sample, occlusion=False) if fused else model.explain(sample)
    columns = list(explained[0]["values"]) if explained else []
    importance = {c: float(np.mean([abs(e["values"][c]) for e in explained])) for c in columns}
    return importance, word_importance(explained)


def _regression_report(
    ws: Workspace,
    version: Any,
    trained: Any,
    frame: pl.DataFrame,
    source: str,
    result: Any,
    config: ProjectConfig,
) -> EvaluationReport:
    y_true = frame[config.data.target].cast(pl.Float64).to_list()
    predicted = trained.predict_values(frame)
    intervals: dict[str, tuple[float, float] | None] = {
        name: regression_bootstrap_ci(y_true, predicted, name) for name in REGRESSION_METRICS
    }
    return EvaluationReport(
        model_version=version.id, data=source, rows=frame.height, metrics=result.metrics,
        intervals=intervals, fairness=result.fairness, fairness_gap=result.gap,
        fairness_gap_column=result.gap_column, interval_notes=dict.fromkeys(intervals, "bootstrap"),
        primary=result.primary, fairness_gate=result.gated.to_dict() if result.gated else {},
        split=version_split(ws, version), warnings=baseline_warnings(result),
    )  # fmt: skip


def explain_file(
    project: Project,
    ws: Workspace,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    model: str = "champion",
    method: str = "shap",
    encoding: str | None = None,
) -> int:
    """Explain every row of a table into JSON lines ``{"index", "label", "base_value",
    "values"}``; rows are anonymized with the project's rules first. Returns the row count."""
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}", hint=f"use one of {', '.join(METHODS)}")
    trained = load_version_model(ws, get_version(ws, model))
    frame = anonymize_rows(project, ws, read_project_table(project, input_path, encoding))
    with AtomicFile(output_path) as out:
        for start in range(0, frame.height, _EXPLAIN_CHUNK):
            chunk = frame.slice(start, _EXPLAIN_CHUNK)
            for i, entry in enumerate(trained.explain(chunk, method=method)):
                line = {"index": start + i, **entry}
                out.file.write(json.dumps(line, ensure_ascii=False, allow_nan=False).encode())
                out.file.write(b"\n")
    return frame.height
