"""Layer 6: the project and its pipeline — ingest → clean → anonymize → split → train → register."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from datawheel.atomic import atomic_write
from datawheel.config import (
    PROJECT_FILE,
    ProjectConfig,
    default_tuned_path,
    load_config,
    reference_tuned,
)
from datawheel.errors import UsageError
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace, resolve_workspace_dir

if TYPE_CHECKING:
    import polars as pl

    from datawheel.data.clean import CleanStats
    from datawheel.store.datasets import DatasetRecord

# The stages (polars, torch) are imported where they run: loading a project for `status`,
# `models` or `serve` must not pay for them (docs/benchmarks.md, bench_cli).

__all__ = ["PreparedData", "Project", "RunReport", "TuneReport"]


@dataclass
class RunReport:
    """What ``datawheel run`` did, stage by stage."""

    project: str
    model_version: str
    stage: str
    metrics: dict[str, Any]
    fairness: dict[str, Any]
    fairness_gap: float | None  # None: not measurable (fairness_gate says why)
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
    primary: dict[str, Any] = field(default_factory=dict)  # the primary metric vs baseline
    fairness_gate: dict[str, Any] = field(default_factory=dict)  # GatedGap.to_dict()
    split: dict[str, Any] = field(default_factory=dict)  # SplitInfo.to_dict()
    # e.g. PII-looking columns with no rule; a model no better than the trivial baseline
    warnings: list[str] = field(default_factory=list)
    # data.images / data.audio: per column, files checked, rejected by reason, cut; the side file
    media: dict[str, Any] = field(default_factory=dict)

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
        from datawheel.train.distributed import init_distributed

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
        from datawheel.registry.candidate import model_features
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
                clean_config=self.config.clean,
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
    from datawheel.privacy.anonymize import subject_token

    if not id_column or id_column not in frame.columns:
        return []
    values = frame[id_column].drop_nulls().unique().to_list()
    if not raw:
        return [str(v) for v in values]
    key = ws.secret_key()
    return [t for t in (subject_token(key, v) for v in values) if t]


def _schema_json(config: ProjectConfig, frame: pl.DataFrame) -> dict[str, Any]:
    from datawheel.data.schema import infer_schema

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
    missing_columns: list[str] = field(default_factory=list)  # with nulls in the raw data
    split: dict[str, Any] = field(default_factory=dict)  # SplitInfo.to_dict()
    media: dict[str, Any] = field(default_factory=dict)  # what the media stage found

    @property
    def fingerprints(self) -> list[str]:
        """Train and val content hashes: the data part of the checkpoint key."""
        return [self.records["train"].fingerprint, self.records["val"].fingerprint]


def _run_follower(project: Project, *, progress: bool, resume: bool) -> None:
    """A DDP rank other than 0: wait for rank 0's splits, load them, train, write nothing."""
    from datawheel.registry.candidate import train_candidate
    from datawheel.store.datasets import get_dataset, load_frame
    from datawheel.train.distributed import broadcast_object

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
    from datawheel.project.rerun import gate_rerun
    from datawheel.project.status import warm_comparison
    from datawheel.registry.candidate import register_candidate, train_candidate
    from datawheel.registry.versions import champion, conclude_gate
    from datawheel.train.distributed import broadcast_object

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
            params={
                "val_dataset": records["val"].id,
                "test_dataset": records["test"].id,
                "split": prepared.split,
            },
            fingerprints=prepared.fingerprints,
            resume=resume,
            optional_inputs=prepared.missing_columns,
        )
        assert candidate is not None  # rank 0 always assesses

    assessment = candidate.assessment
    baseline = baseline_warnings(assessment)
    with _timed(timings, "register", on_stage):
        version = register_candidate(
            ws,
            candidate,
            dataset_id=records["train"].id,
            eval_dataset_id=records["test"].id,
            split=prepared.split,
            first_is_champion=not baseline,
        )
        if baseline:  # recorded as a failed gate: never a silent pass
            has_champion = champion(ws) is not None
            version = conclude_gate(
                ws,
                challenger=version.id,
                champion_id=None,
                decision="reject",
                reasons=baseline,
                comparison={"primary": assessment.primary},
                # the first model stays a challenger (promotable by hand); a re-run's is archived
                to_stage="archived" if has_champion else version.stage,
                reason="does not beat the trivial baseline",
            )

    gate: dict[str, Any] = {}
    if version.stage == "challenger" and not baseline:
        with _timed(timings, "gate", on_stage):
            version, gate = gate_rerun(ws, config, version, candidate, test)
    warm_comparison(ws, config)  # the models are loaded now; `status` then only reads

    return RunReport(
        project=config.name,
        model_version=version.id,
        stage=version.stage,
        metrics=assessment.metrics,
        fairness=assessment.fairness,
        fairness_gap=assessment.gap,
        datasets={kind: record.id for kind, record in records.items()},
        timings=timings,
        rows=prepared.rows,
        cleaning={**prepared.cleaning, **_learned(candidate.model)},
        anonymized_columns=prepared.anonymized_columns,
        run_id=candidate.run_id,
        task=str(candidate.model.extras.get("task", "")),
        family=candidate.model.family,
        selection=candidate.selection.to_dict() if candidate.selection else {},
        gate=gate,
        primary=assessment.primary,
        fairness_gate=assessment.gated.to_dict() if assessment.gated else {},
        split=prepared.split,
        warnings=[*prepared.warnings, *baseline],
        media=prepared.media,
    )


def baseline_warnings(assessment: Any) -> list[str]:
    """The loud lines for a model that does not beat the trivial baseline beyond noise."""
    primary = assessment.primary
    if assessment.beats_baseline:
        return []
    value = "undefined" if primary["value"] is None else f"{primary['value']:.4f}"
    vs = primary["vs_baseline"]
    lines = [
        f"FAIL the model does not beat the trivial baseline on {primary['metric']}: {value} vs "
        f"{primary['baseline']:.4f} for always predicting the training class shares "
        f"({primary['confidence']:.0%} lower bound of the gain {vs['lower']:+.4f}, needs > 0)"
    ]
    matrix = assessment.metrics.get("confusion_matrix")
    if matrix is not None and sum(1 for col in zip(*matrix, strict=True) if sum(col)) < 2:
        lines.append(f"it predicts one class for every row (confusion matrix {matrix})")
    lines.append(
        "not promoted; check the features and the class balance, or serve it anyway with "
        "`datawheel models promote`"
    )
    return lines


def _learned(model: Any) -> dict[str, Any]:
    """What the preprocessing learned from the training split: fill values and fences."""
    pre = getattr(model, "preprocessor", None)
    if pre is None or not hasattr(pre, "fill_"):
        return {}
    names = pre.columns.numeric
    refit = (getattr(model, "extras", None) or {}).get("refit_rows")
    return {
        # a chosen tree or linear model is refitted on train + validation; never on test
        "learned_on": "training + validation splits (refit)" if refit else "training split",
        "fill_values": {n: float(v) for n, v in zip(names, pre.fill_, strict=True)}
        | dict(pre.categorical_fill_),
        "outlier_bounds": {
            n: (float(lo), float(hi))
            for n, lo, hi in zip(names, pre.lower_, pre.upper_, strict=True)
            if lo > float("-inf") or hi < float("inf")
        },
        "outlier_skipped": dict(pre.outlier_skipped_),
    }


def _prepare(project: Project, ws: Workspace, *, on_stage: Callable[[str], None]) -> PreparedData:
    """Ingest → clean (row by row) → anonymize → split → dedup within each part → (train only)
    outlier rows dropped and augmentation. Nothing learned from data is applied here: fill
    values, fences, scalers and vocabularies are fitted on the training split by the model's
    preprocessing, which every serving path then applies to raw rows."""
    import polars as pl

    from datawheel.data.clean import clean_rows
    from datawheel.data.schema import feature_columns, infer_schema, validate
    from datawheel.data.split import assign_parts
    from datawheel.data.strata import STRATA_COLUMN, with_value_strata
    from datawheel.io import read_table
    from datawheel.privacy.anonymize import Anonymizer
    from datawheel.privacy.coverage import check_pii_rules
    from datawheel.store.datasets import save_dataset
    from datawheel.train.task import infer_task

    require(ws, "train")  # before the first dataset is written, not after the fifth
    config, data = project.config, project.config.data
    on_ray = data.engine == "ray"
    if on_ray:
        from datawheel.data.ray_io import connect

        connect(data.ray_address)  # a missing extra or an unreachable cluster fails first
    timings: dict[str, float] = {}
    rows: dict[str, int] = {}
    records: dict[str, DatasetRecord] = {}

    with _timed(timings, "ingest", on_stage):
        source = config.source_path(project.dir)
        raw = read_table(source, encoding=data.encoding, dtypes=data.dtypes)
        validate(raw, data, source=str(source))
        raw, media = _ingest_media(project, raw, source)
        warnings = check_pii_rules(
            raw,
            config.privacy.columns,
            skip=[c for c in (data.id, data.target, data.time) if c]
            + [*data.text, *data.images, *data.audio],
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
            stats={"media": media.summary()} if media is not None else None,
        )
        rows["ingest"] = raw.height
        media_report = _media_report(ws, media, records["raw"].id)

    with _timed(timings, "clean", on_stage):
        schema = infer_schema(raw, data, pii_columns=config.privacy.columns)
        numeric, categorical = feature_columns(schema)
        cleaned, stats = clean_rows(
            raw, config.clean, numeric=numeric, categorical=categorical,
            text=data.text, target=data.target,
        )  # fmt: skip
        ignore = [c for c in (data.id, data.time) if c]  # the same record twice is a copy
        media_keys = _media_keys(cleaned, data)
        # a numeric target is stratified by its deciles; classes by themselves
        regression = infer_task(cleaned[data.target], declared=data.task) == "regression"
        part, split = assign_parts(
            with_value_strata(cleaned, data.target) if regression else cleaned,
            target=STRATA_COLUMN if regression else data.target,
            val_fraction=config.train.validation_fraction,
            test_fraction=config.train.test_fraction,
            seed=config.train.seed,
            group=data.id,
            time=data.time,
            duplicates=_duplicate_labels(cleaned, config, ignore, media_keys),
        )
        if regression and split.stratified_by:
            split.stratified_by = f"the deciles of {data.target}"
        cleaned, part = _dedup_within_parts(cleaned, part, config, ignore, stats, media_keys)
        records["clean"] = save_dataset(
            ws,
            cleaned,
            name="clean",
            kind="clean",
            encrypted=True,
            stats=asdict(stats),
            parent_id=records["raw"].id,
            schema=_schema_json(config, cleaned),
            subjects=_subjects(ws, cleaned, data.id, raw=True),
        )
        rows["clean"] = cleaned.height

    with _timed(timings, "anonymize", on_stage):
        if on_ray:
            from datawheel.privacy.ray_privacy import anonymize_frame_on_ray

            anonymized, anon_stats = anonymize_frame_on_ray(
                cleaned,
                config.privacy,
                ws.secret_key(),
                id_column=data.id,
                text_columns=data.text,
                image_columns=data.images,
                address=data.ray_address,
            )
        else:
            anonymizer = Anonymizer(
                config.privacy,
                ws.secret_key(),
                id_column=data.id,
                text_columns=data.text,
                image_columns=data.images,
            )
            anonymized, anon_stats = anonymizer.frame(cleaned)  # row for row: ``part`` fits
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
        marks = pl.Series("_part", part)
        train, val, test = (anonymized.filter(marks == k) for k in range(3))
        split.rows = {"train": train.height, "val": val.height, "test": test.height}
        rows["split"] = train.height
        train = _training_only(train, config, stats, rows)
        for kind, frame in (("val", val), ("test", test), ("train", train)):
            links = (
                {"val": records["val"].id, "test": records["test"].id, "split": split.to_dict()}
                if kind == "train"
                else {}
            )
            records[kind] = save_dataset(
                ws,
                frame,
                name=kind,
                kind=kind,
                encrypted=True,
                parent_id=records["anonymized"].id,
                subjects=_subjects(ws, frame, data.id, raw=False),
                stats=links,
            )

    return PreparedData(
        train=train,
        val=val,
        test=test,
        records=records,
        timings=timings,
        rows=rows,
        cleaning=asdict(stats),
        anonymized_columns=anon_stats.columns,
        warnings=warnings,
        missing_columns=[c for c in raw.columns if raw[c].null_count()],
        split=split.to_dict(),
        media=media_report,
    )


def _ingest_media(project: Project, raw: pl.DataFrame, source: Path) -> tuple[pl.DataFrame, Any]:
    """The media columns decoded, checked and stored as bytes (paths read beside the data
    file); None when the project has none."""
    data = project.config.data
    if not (data.images or data.audio):
        return raw, None
    from datawheel.data.media.table import normalize_media

    return normalize_media(raw, data, project.config.clean.media, base_dir=source.parent)


def _media_report(ws: Workspace, scan: Any, raw_id: str) -> dict[str, Any]:
    """The media stage's counts, and the side file listing every rejected file (0-based rows
    of the data file) in the workspace's reports folder, readable by its owner only."""
    if scan is None:
        return {}
    from datawheel.data.media.table import write_rejects

    report: dict[str, Any] = scan.summary()
    if scan.rejects:
        path = write_rejects(
            scan.rejects, ws.root / "reports" / f"media-rejects-{raw_id}.csv", private=True
        )
        report["rejects_file"] = str(path)
    return report


def _media_keys(frame: pl.DataFrame, data: Any) -> Any:
    """Dedup keys of the stored media columns (None without media columns)."""
    if not (data.images or data.audio):
        return None
    from datawheel.data.media.dedup import media_keys

    return media_keys(frame, images=data.images, audio=data.audio)


def _duplicate_labels(
    frame: pl.DataFrame, config: ProjectConfig, ignore: list[str], media: Any
) -> list[Any]:
    """The labellings that bind copies into one split group: near-duplicate clusters on the
    Ray cluster with ``data.engine: ray`` (the same labels), else here."""
    if config.data.engine == "ray":
        from datawheel.data.ray_pipeline import duplicate_labels_on_ray

        return duplicate_labels_on_ray(
            frame,
            config.clean.dedup,
            ignore=ignore,
            media=media,
            address=config.data.ray_address,
        )
    from datawheel.data.clean import duplicate_labels

    return duplicate_labels(frame, config.clean.dedup, ignore=ignore, media=media)


def _dedup_within_parts(
    frame: pl.DataFrame,
    part: Any,
    config: ProjectConfig,
    ignore: list[str],
    stats: CleanStats,
    media: Any = None,
) -> tuple[pl.DataFrame, Any]:
    """Remove duplicates inside each part only: a decision about a test row never depends on a
    training row. Copies were bound into one group, so no copy survives in two parts."""
    import numpy as np
    import polars as pl

    from datawheel.data.clean import dedup_frame

    indexed = frame.with_row_index("_row").with_columns(pl.Series("_part", part))
    kept = []
    for k in range(3):
        piece = indexed.filter(pl.col("_part") == k)
        keys = media.take(piece["_row"].to_numpy()) if media is not None else None
        piece, piece_stats = dedup_frame(
            piece, config.clean.dedup, ignore=[*ignore, "_row", "_part"], media=keys
        )
        stats.merge(piece_stats)
        kept.append(piece["_row"].to_numpy())
    keep = np.zeros(frame.height, dtype=bool)
    keep[np.concatenate(kept)] = True
    stats.rows_out = int(keep.sum())
    return frame.filter(pl.Series(keep)), np.asarray(part)[keep]


def _training_only(
    train: pl.DataFrame, config: ProjectConfig, stats: CleanStats, rows: dict[str, int]
) -> pl.DataFrame:
    """What only the training split may undergo: ``outliers.action: drop`` (fences from the
    training rows; evaluation and serving clip instead) and augmentation's noisy copies."""
    from datawheel.data.augment import augment
    from datawheel.data.clean import Outliers
    from datawheel.data.schema import feature_columns, infer_schema

    data = config.data
    numeric = feature_columns(infer_schema(train, data, pii_columns=config.privacy.columns))[0]
    if config.clean.outliers.action == "drop" and config.clean.outliers.method != "none":
        before = train.height
        train, dropped = Outliers(config.clean.outliers, numeric=numeric).apply(train)
        stats.merge(dropped)
        rows["outliers"] = train.height
        stats.dropped["outlier (training split)"] = before - train.height
        stats.dropped.pop("outlier", None)
    if config.clean.augment.copies:  # the training split only: copies must not reach eval
        train = augment(
            train, config.clean.augment, numeric=numeric, text=data.text, seed=config.train.seed
        )
        rows["augment"] = train.height
    return train
