"""Layer 6: the project and its pipeline — ingest → clean → anonymize → split → train → register."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from datawheel.atomic import atomic_write
from datawheel.config import (
    PROJECT_FILE,
    ProjectConfig,
    default_tuned_path,
    load_config,
    reference_tuned,
)
from datawheel.data.augment import augment
from datawheel.data.clean import clean_frame
from datawheel.data.schema import feature_columns, infer_schema, validate
from datawheel.data.split import split_frame
from datawheel.data.strata import STRATA_COLUMN, with_value_strata
from datawheel.errors import UsageError
from datawheel.io import read_table
from datawheel.privacy.anonymize import Anonymizer, subject_token
from datawheel.privacy.coverage import check_pii_rules
from datawheel.project.rerun import gate_rerun
from datawheel.registry.candidate import model_features, register_candidate, train_candidate
from datawheel.store.datasets import DatasetRecord, get_dataset, load_frame, save_dataset
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace, resolve_workspace_dir
from datawheel.train.distributed import broadcast_object, init_distributed
from datawheel.train.task import infer_task

__all__ = ["PreparedData", "Project", "RunReport", "TuneReport"]


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
    task: str = "binary"  # binary | multiclass | regression
    family: str = "mlp"  # the trained family: mlp | gbm | linear
    selection: dict[str, Any] = field(default_factory=dict)  # model.kind auto: the candidates
    gate: dict[str, Any] = field(default_factory=dict)  # a re-run: the gate's decision and why
    warnings: list[str] = field(default_factory=list)  # e.g. PII-looking columns with no rule

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
        cls,
        path: str | Path = PROJECT_FILE,
        *,
        workspace: str | Path | None = None,
        need_data: bool = True,
    ) -> Project:
        """``need_data=False`` for hosts that only serve: the data file may live elsewhere."""
        path = Path(path).resolve()
        config = load_config(path, check_source=need_data)
        return cls(config, path, resolve_workspace_dir(path.parent, workspace))

    def open_workspace(self, *, actor: str = "cli", role: str | None = None) -> Workspace:
        """The workspace, acting as ``role`` (default: ``DATAWHEEL_ROLE``, else admin for the
        owner of this project's ``datawheel.key``, else none: see `store.roles`)."""
        return Workspace.open(self.workspace_dir, key_dir=self.dir, actor=actor, role=role)

    def run(
        self,
        *,
        progress: bool = False,
        on_stage: Callable[[str], None] | None = None,
        ws: Workspace | None = None,
        resume: bool = False,
    ) -> RunReport | None:
        """The whole offline pipeline; the first model version becomes the champion.

        ``resume`` continues training from the checkpoint of an interrupted run on the same
        data and settings. Under torchrun (``RANK``/``WORLD_SIZE`` set) rank 0 prepares and
        saves the splits, every rank trains, rank 0 registers; the other ranks return None.
        """
        dist = init_distributed()
        stage = on_stage or (lambda _: None)
        if not dist.is_main:
            _run_follower(self, progress=progress, resume=resume)
            return None
        with nullcontext(ws) if ws is not None else self.open_workspace() as own:
            return _run_pipeline(self, own, progress=progress, on_stage=stage, resume=resume)

    def prepare(
        self, ws: Workspace, *, on_stage: Callable[[str], None] | None = None
    ) -> PreparedData:
        """Ingest → clean → anonymize → split, saving each dataset: what training starts from."""
        return _prepare(self, ws, on_stage=on_stage or (lambda _: None))

    def tune(
        self,
        *,
        trials: int,
        on_stage: Callable[[str], None] | None = None,
        on_trial: Callable[[dict[str, Any]], None] | None = None,
    ) -> TuneReport:
        """Search hyper-parameters on the project's splits (each trial a run of kind ``tune``)
        and write the best to the tuned file the project file names — or, when it names none, to
        ``<stem>.tuned.yaml`` and add ``tuned: <stem>.tuned.yaml`` to the project file, so the
        settings in effect are always named in it (and shown by ``datawheel status``).
        """
        from datawheel.train.tune import tune_hyperparameters

        if trials < 1:
            raise UsageError(f"trials must be >= 1, got {trials}")
        with self.open_workspace() as ws:
            prepared = _prepare(self, ws, on_stage=on_stage or (lambda _: None))
            result = tune_hyperparameters(
                prepared.train,
                prepared.val,
                features=model_features(self.config, prepared.train),
                target=self.config.data.target,
                model_config=self.config.model,
                train_config=self.config.train,
                trials=trials,
                ws=ws,
                dataset_id=prepared.records["train"].id,
                on_trial=on_trial,
            )
        named = self.config.tuned
        path = self.dir / named if named else default_tuned_path(self.path)
        header = (
            f"# written by `datawheel tune --trials {trials}`; merged over the model: and train:\n"
            f"# settings of {self.path.name}, which names this file (its `tuned` key)\n"
        )
        atomic_write(path, header + yaml.safe_dump(result.best_overlay, sort_keys=False))
        if not named:
            reference_tuned(self.path, path.name)
        self.config = load_config(self.path)
        return TuneReport(
            path=str(path),
            referenced=not named,
            best=result.best_overlay,
            best_val_loss=result.best_value,
            best_val_accuracy=result.best_accuracy,
            trials=result.trials,
        )


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


@dataclass
class TuneReport:
    """What ``datawheel tune`` found and where it wrote it."""

    path: str  # the tuned file, datawheel.tuned.yaml unless the project file names another
    best: dict[str, Any]
    best_val_loss: float
    best_val_accuracy: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    referenced: bool = False  # True when tune added the `tuned` key to the project file

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PreparedData:
    """The saved splits a training run reads, and what the stages before it did."""

    train: pl.DataFrame
    val: pl.DataFrame
    test: pl.DataFrame
    records: dict[str, DatasetRecord]  # kind → saved dataset
    timings: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    cleaning: dict[str, Any] = field(default_factory=dict)
    anonymized_columns: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)  # with nulls before cleaning

    @property
    def fingerprints(self) -> list[str]:
        """Train and val content hashes: the data part of the checkpoint key."""
        return [self.records["train"].fingerprint, self.records["val"].fingerprint]


def _run_follower(project: Project, *, progress: bool, resume: bool) -> None:
    """A DDP rank other than 0: wait for rank 0's splits, load them, train, write nothing."""
    ids = broadcast_object(None)
    if "error" in ids:
        raise UsageError(f"rank 0 failed before training: {ids['error']}")
    with project.open_workspace() as ws:
        frames = {kind: load_frame(ws, ids[kind]) for kind in ("train", "val", "test")}
        fingerprints = [get_dataset(ws, ids[k]).fingerprint for k in ("train", "val")]
        train_candidate(
            ws,
            project.config,
            train=frames["train"],
            val=frames["val"],
            test=frames["test"],
            dataset_id=ids["train"],
            progress=progress,
            fingerprints=fingerprints,
            resume=resume,
        )


def _run_pipeline(
    project: Project,
    ws: Workspace,
    *,
    progress: bool,
    on_stage: Callable[[str], None],
    resume: bool = False,
) -> RunReport:
    config = project.config
    try:
        prepared = _prepare(project, ws, on_stage=on_stage)
    except BaseException as exc:
        broadcast_object({"error": str(exc)})  # release the other ranks (no-op alone)
        raise
    broadcast_object({kind: record.id for kind, record in prepared.records.items()})
    records, timings = prepared.records, prepared.timings
    train, val, test = prepared.train, prepared.val, prepared.test

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
            fingerprints=prepared.fingerprints,
            resume=resume,
            optional_inputs=prepared.missing_columns,
        )
        assert candidate is not None  # rank 0 always assesses

    with _timed(timings, "register", on_stage):
        version = register_candidate(
            ws, candidate, dataset_id=records["train"].id, eval_dataset_id=records["test"].id
        )

    gate: dict[str, Any] = {}
    if version.stage == "challenger":
        with _timed(timings, "gate", on_stage):
            version, gate = gate_rerun(ws, config, version, candidate, test)

    return RunReport(
        project=config.name,
        model_version=version.id,
        stage=version.stage,
        metrics=candidate.assessment.metrics,
        fairness=candidate.assessment.fairness,
        fairness_gap=candidate.assessment.gap,
        datasets={kind: record.id for kind, record in records.items()},
        timings=timings,
        rows=prepared.rows,
        cleaning=prepared.cleaning,
        anonymized_columns=prepared.anonymized_columns,
        run_id=candidate.run_id,
        task=str(candidate.model.extras.get("task", "")),
        family=candidate.model.family,
        selection=candidate.selection.to_dict() if candidate.selection else {},
        gate=gate,
        warnings=prepared.warnings,
    )


def _prepare(project: Project, ws: Workspace, *, on_stage: Callable[[str], None]) -> PreparedData:
    require(ws, "train")  # before the first dataset is written, not after the fifth
    config, data = project.config, project.config.data
    timings: dict[str, float] = {}
    rows: dict[str, int] = {}
    records: dict[str, DatasetRecord] = {}

    with _timed(timings, "ingest", on_stage):
        source = config.source_path(project.dir)
        raw = read_table(source, encoding=data.encoding, dtypes=data.dtypes)
        validate(raw, data, source=str(source))
        warnings = check_pii_rules(
            raw,
            config.privacy.columns,
            skip=[c for c in (data.id, data.target, data.time, *data.text) if c],
            require=config.privacy.require_rules,
            source=project.path.name,
        )
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
        anonymizer = Anonymizer(
            config.privacy, ws.secret_key(), id_column=data.id, text_columns=data.text
        )
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
        regression = infer_task(anonymized[data.target], declared=data.task) == "regression"
        train, val, test = split_frame(
            with_value_strata(anonymized, data.target) if regression else anonymized,
            target=STRATA_COLUMN if regression else data.target,
            val_fraction=config.train.validation_fraction,
            test_fraction=config.train.test_fraction,
            seed=config.train.seed,
        )
        if regression:  # the value bins only steered the split
            train, val, test = (p.drop(STRATA_COLUMN) for p in (train, val, test))
        rows["split"] = train.height
        if config.clean.augment.copies:  # the training split only: copies must not reach eval
            numeric_columns = feature_columns(
                infer_schema(train, data, pii_columns=config.privacy.columns)
            )[0]
            train = augment(
                train,
                config.clean.augment,
                numeric=numeric_columns,
                text=data.text,
                seed=config.train.seed,
            )
            rows["augment"] = train.height
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

    return PreparedData(
        train=train,
        val=val,
        test=test,
        records=records,
        timings=timings,
        rows=rows,
        cleaning=stats,
        anonymized_columns=anon_stats.columns,
        warnings=warnings,
        missing_columns=[c for c in raw.columns if raw[c].null_count()],
    )
