"""Layer 6: the project and its pipeline — ingest → clean → anonymize → split → train → register."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from datawheel.candidate import train_candidate
from datawheel.config import PROJECT_FILE, ProjectConfig, load_config
from datawheel.data.clean import clean_frame
from datawheel.data.schema import feature_columns, infer_schema, validate
from datawheel.data.split import split_frame
from datawheel.io import read_table
from datawheel.privacy.anonymize import Anonymizer, subject_token
from datawheel.registry import register_model
from datawheel.store.datasets import DatasetRecord, save_dataset
from datawheel.store.workspace import Workspace, resolve_workspace_dir

__all__ = ["Project", "RunReport"]


@dataclass
class RunReport:
    """What ``datawheel run`` did, stage by stage."""

    project: str
    model_version: str
    stage: str
    metrics: dict[str, Any]
    fairness: dict[str, Any]
    fairness_gap: float
    datasets: dict[str, str] = field(default_factory=dict)  # kind → dataset id
    timings: dict[str, float] = field(default_factory=dict)  # stage → seconds
    rows: dict[str, int] = field(default_factory=dict)  # stage → rows out
    cleaning: dict[str, Any] = field(default_factory=dict)
    anonymized_columns: dict[str, str] = field(default_factory=dict)
    run_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Project:
    """A project file, its folder and its workspace."""

    def __init__(self, config: ProjectConfig, path: Path, workspace_dir: Path):
        self.config = config
        self.path = path
        self.dir = path.parent
        self.workspace_dir = workspace_dir

    @classmethod
    def load(
        cls, path: str | Path = PROJECT_FILE, *, workspace: str | Path | None = None
    ) -> Project:
        path = Path(path).resolve()
        config = load_config(path)
        return cls(config, path, resolve_workspace_dir(path.parent, workspace))

    def open_workspace(self, *, actor: str = "cli", role: str = "admin") -> Workspace:
        return Workspace.open(self.workspace_dir, key_dir=self.dir, actor=actor, role=role)

    def run(
        self,
        *,
        progress: bool = False,
        on_stage: Callable[[str], None] | None = None,
        ws: Workspace | None = None,
    ) -> RunReport:
        """The whole offline pipeline; the first model version becomes the champion."""
        own = ws is None
        ws = ws or self.open_workspace()
        try:
            return _run_pipeline(self, ws, progress=progress, on_stage=on_stage or (lambda _: None))
        finally:
            if own:
                ws.close()


@contextmanager
def _timed(
    timings: dict[str, float], stage: str, on_stage: Callable[[str], None]
) -> Iterator[None]:
    on_stage(stage)
    started = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - started, 3)


def _subjects(ws: Workspace, frame: pl.DataFrame, id_column: str | None, *, raw: bool) -> list[str]:
    """Subject pseudonyms in ``frame`` — computed from raw ids, or read from anonymized ones."""
    if not id_column or id_column not in frame.columns:
        return []
    values = frame[id_column].drop_nulls().unique().to_list()
    if not raw:
        return [str(v) for v in values]
    key = ws.secret_key()
    return [t for t in (subject_token(key, v) for v in values) if t]


def _schema_json(config: ProjectConfig, frame: pl.DataFrame) -> dict[str, Any]:
    schema = infer_schema(frame, config.data, pii_columns=config.privacy.columns)
    return {name: {"dtype": info.dtype, "role": info.role} for name, info in schema.items()}


def _run_pipeline(
    project: Project, ws: Workspace, *, progress: bool, on_stage: Callable[[str], None]
) -> RunReport:
    config, data = project.config, project.config.data
    timings: dict[str, float] = {}
    rows: dict[str, int] = {}
    records: dict[str, DatasetRecord] = {}

    with _timed(timings, "ingest", on_stage):
        source = config.source_path(project.dir)
        raw = read_table(source)
        validate(raw, data, source=str(source))
        records["raw"] = save_dataset(
            ws,
            raw,
            name=source.name,
            kind="raw",
            encrypted=True,
            schema=_schema_json(config, raw),
            subjects=_subjects(ws, raw, data.id, raw=True),
        )
        rows["ingest"] = raw.height

    with _timed(timings, "clean", on_stage):
        schema = infer_schema(raw, data, pii_columns=config.privacy.columns)
        numeric, categorical = feature_columns(schema)
        cleaned, clean_stats = clean_frame(
            raw,
            config.clean,
            numeric=numeric,
            categorical=categorical,
            ignore_for_dedup=[data.id] if data.id else [],
            text=data.text,
            target=data.target,
        )
        stats = asdict(clean_stats)
        records["clean"] = save_dataset(
            ws,
            cleaned,
            name="clean",
            kind="clean",
            encrypted=True,
            stats=stats,
            parent_id=records["raw"].id,
            schema=_schema_json(config, cleaned),
            subjects=_subjects(ws, cleaned, data.id, raw=True),
        )
        rows["clean"] = cleaned.height

    with _timed(timings, "anonymize", on_stage):
        anonymizer = Anonymizer(config.privacy, ws.secret_key(), id_column=data.id)
        anonymized, anon_stats = anonymizer.frame(cleaned)
        records["anonymized"] = save_dataset(
            ws,
            anonymized,
            name="anonymized",
            kind="anonymized",
            encrypted=True,
            stats=asdict(anon_stats),
            parent_id=records["clean"].id,
            schema=_schema_json(config, anonymized),
            subjects=_subjects(ws, anonymized, data.id, raw=False),
        )
        rows["anonymize"] = anonymized.height

    with _timed(timings, "split", on_stage):
        train, val, test = split_frame(
            anonymized,
            target=data.target,
            val_fraction=config.train.validation_fraction,
            test_fraction=config.train.test_fraction,
            seed=config.train.seed,
        )
        for kind, part in (("val", val), ("test", test), ("train", train)):
            links = (
                {"val": records["val"].id, "test": records["test"].id} if kind == "train" else {}
            )
            records[kind] = save_dataset(
                ws,
                part,
                name=kind,
                kind=kind,
                encrypted=True,
                parent_id=records["anonymized"].id,
                subjects=_subjects(ws, part, data.id, raw=False),
                stats=links,
            )
        rows["split"] = train.height

    with _timed(timings, "train", on_stage):
        candidate = train_candidate(
            ws,
            config,
            train=train,
            val=val,
            test=test,
            dataset_id=records["train"].id,
            progress=progress,
            params={"val_dataset": records["val"].id, "test_dataset": records["test"].id},
        )

    with _timed(timings, "register", on_stage):
        version = register_model(
            ws,
            candidate.model,
            dataset_id=records["train"].id,
            eval_dataset_id=records["test"].id,
            run_id=candidate.run_id,
            metrics={
                **candidate.assessment.metrics,
                "latency_p99_ms": candidate.latency_p99_ms,
                "fairness_gap": candidate.assessment.gap,
            },
            fairness=candidate.assessment.fairness,
        )

    return RunReport(
        project=config.name,
        model_version=version.id,
        stage=version.stage,
        metrics=candidate.assessment.metrics,
        fairness=candidate.assessment.fairness,
        fairness_gap=candidate.assessment.gap,
        datasets={kind: record.id for kind, record in records.items()},
        timings=timings,
        rows=rows,
        cleaning=stats,
        anonymized_columns=anon_stats.columns,
        run_id=candidate.run_id,
    )
