"""``datawheel status``: model versions with live accuracy and drift, and the alerts to act on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datawheel.atomic import atomic_write
from datawheel.config import ProjectConfig, default_tuned_path, read_tuned
from datawheel.i18n.catalog import N_
from datawheel.loop.drift import feature_drift
from datawheel.loop.feedback import live_accuracy, live_error
from datawheel.loop.recovery import live_retrain
from datawheel.loop.shadow import judge_shadow
from datawheel.project.alerts import (
    NO_CHAMPION,
    NO_MODEL,
    drift_alerts,
    input_pii_alerts,
    retraining_alerts,
)
from datawheel.registry.privacy_policy import policy_alerts
from datawheel.registry.versions import ModelVersion, list_versions
from datawheel.store.datasets import get_dataset
from datawheel.store.workspace import Workspace

if TYPE_CHECKING:
    import polars as pl

# `status` is a light command: the same-rows scores it shows are computed once per (version,
# evaluation rows, project settings) — versions and datasets are immutable — and read back from
# a cache file afterwards, so `status` loads neither torch nor the models (bench_cli).
_SCORES_DIR = "cache/compared"

__all__ = ["compare_versions", "project_status", "tuned_status", "warm_comparison"]


def _version_row(ws: Workspace, version: ModelVersion, window: str, now: Any) -> dict[str, Any]:
    primary = version.metrics.get("primary") or {}
    if "rmse" in version.metrics:  # a regression: its live error, not an accuracy of floats
        error = live_error(ws, version.id, window=window, now=now)
        metric, value, labeled = "rmse", error.rmse, error.labeled
        low, high, accuracy = error.low, error.high, None
    else:
        live = live_accuracy(ws, version.id, window=window, now=now)
        metric, value, labeled = "accuracy", live.accuracy, live.labeled
        low, high, accuracy = live.low, live.high, live.accuracy
    return {
        "id": version.id,
        "stage": version.stage,
        # as recorded at training, on the version's own evaluation rows: not comparable
        # across versions (see "compared" for the same-rows scores)
        "recorded": {
            "metric": primary.get("metric"),
            "value": primary.get("value"),
            "on": version.eval_dataset_id,
        },
        "fairness_gap": version.metrics.get("fairness_gap"),
        "live_metric": metric,  # accuracy, or rmse for a regression
        "live_value": value,
        "live_accuracy": accuracy,  # None for a regression
        "labeled": labeled,
        "live_interval": [low, high],
        "live_window": window,
        "created_at": version.created_at,
        "needs_retraining": version.needs_retraining,
    }


def _champion_split(ws: Workspace, current: ModelVersion | None) -> dict[str, Any]:
    """How the champion's training data was split (recorded with its training set)."""
    if current is None:
        return {}
    stats = get_dataset(ws, current.dataset_id).stats
    if "split" not in stats and "base_train" in stats:
        stats = get_dataset(ws, stats["base_train"]).stats
    return dict(stats.get("split") or {})


def _champion_alerts(
    version: ModelVersion, row: dict[str, Any], drift: dict[str, Any], config: ProjectConfig
) -> list[str]:
    alerts = retraining_alerts(version)
    live, loop = row["live_value"], config.loop
    enough = live is not None and row["labeled"] >= loop.min_labeled_feedback
    offline = version.metrics.get("rmse")
    if not enough:
        pass
    elif row["live_metric"] == "accuracy" and live < loop.accuracy_below:
        alerts.append(
            N_(f"{version.id} live accuracy {live:.4f} is below {loop.accuracy_below:g} "
               "— run `datawheel loop --once`")
        )  # fmt: skip
    elif row["live_metric"] == "rmse" and offline and live > offline * loop.error_ratio_above:
        limit = offline * loop.error_ratio_above
        alerts.append(
            N_(f"{version.id} live rmse {live:.4g} is above {limit:.4g} "
               f"({loop.error_ratio_above:g} × the offline {offline:.4g}) "
               "— run `datawheel loop --once`")
        )  # fmt: skip
    return alerts + drift_alerts(version.id, drift, loop.drift_psi_above)


def tuned_status(
    project_file: Path, config: ProjectConfig
) -> tuple[dict[str, Any] | None, list[str]]:
    """The tuned file in effect and the settings it overrides — and an alert for a tuned file
    beside the project file that the project file does not name (so it is not used)."""
    tuned = read_tuned(project_file)
    shown = {"file": str(tuned.path), "values": tuned.flat()} if tuned else None
    default = default_tuned_path(project_file)
    named = project_file.parent / config.tuned if config.tuned else None
    alerts = []
    if default.is_file() and (named is None or named.resolve() != default.resolve()):
        alerts.append(
            f"{default.name} is not used: {project_file.name} does not name it — add "
            f"`tuned: {default.name}` to train with its settings, or delete it"
        )
    return shown, alerts


def _training_rows(ws: Workspace, version: ModelVersion) -> pl.Series:
    """Hashes of the rows a version trained on (its own set and, for a retrain, its base)."""
    import polars as pl

    from datawheel.store.datasets import load_frame

    record = get_dataset(ws, version.dataset_id)
    frame = load_frame(ws, record)
    return frame.select(pl.struct(frame.columns).hash()).to_series()


def _score_path(ws: Workspace, config: ProjectConfig, version: str, dataset: str) -> Path:
    settings = config.model_dump_json(exclude={"name", "description"})
    key = hashlib.sha256(f"{version}\0{dataset}\0{settings}".encode()).hexdigest()[:32]
    return ws.root / _SCORES_DIR / f"{key}.json"


def _cached_score(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError):  # absent or torn: computed again
        return None


def compare_versions(
    ws: Workspace, config: ProjectConfig, versions: list[ModelVersion]
) -> dict[str, Any]:
    """Every version scored on ONE table — the champion's evaluation rows (else the newest
    version's) — so a column of numbers compares like with like. A version that trained on
    any of those rows is not scored there (its number would flatter it); nor is a tainted one.
    Scores are cached per version, rows and settings (see ``_SCORES_DIR``).
    """
    reference = next((v for v in versions if v.stage == "champion"), None) or next(
        (v for v in versions if v.eval_dataset_id), None
    )
    if reference is None or reference.eval_dataset_id is None:
        return {}
    dataset = reference.eval_dataset_id
    scores: dict[str, Any] = {}
    missing: list[ModelVersion] = []
    for version in versions:
        if version.stage == "tainted":
            scores[version.id] = {"value": None, "note": "tainted: never scored or served"}
            continue
        cached = _cached_score(_score_path(ws, config, version.id, dataset))
        if cached is None:
            missing.append(version)
        else:
            scores[version.id] = cached
    if missing and _score_missing(ws, config, dataset, missing, scores) is None:
        return {}
    rows = next((s["rows"] for s in scores.values() if "rows" in s), None)
    if rows is None:
        rows = get_dataset(ws, dataset).rows
    metric = next((s.get("metric") for s in scores.values() if s.get("metric")), None)
    return {
        "dataset": dataset,
        "of": reference.id,
        "rows": rows,
        "metric": metric,
        "scores": scores,
    }


def _score_missing(
    ws: Workspace,
    config: ProjectConfig,
    dataset: str,
    versions: list[ModelVersion],
    scores: dict[str, Any],
) -> int | None:
    """Score ``versions`` on ``dataset`` (labelled rows only), cache and add each; the number of
    rows scored, or None when none is labelled."""
    import polars as pl

    from datawheel.registry.candidate import assess_model
    from datawheel.registry.versions import load_version_model
    from datawheel.store.datasets import load_frame

    frame = load_frame(ws, dataset)
    frame = frame.filter(pl.col(config.data.target).is_not_null())
    if frame.is_empty():
        return None
    hashes = frame.select(pl.struct(frame.columns).hash()).to_series()
    for version in versions:
        overlap = int(hashes.is_in(_training_rows(ws, version).implode()).sum())
        if overlap:
            score: dict[str, Any] = {
                "value": None,
                "note": f"trained on {overlap} of these rows: not comparable",
                "rows": frame.height,
            }
        else:
            result = assess_model(config, load_version_model(ws, version), frame)
            primary = result.primary
            score = {
                "metric": primary["metric"],
                "value": primary["value"],
                "low": primary["low"],
                "high": primary["high"],
                "interval": primary["interval"],
                "beats_baseline": primary["beats_baseline"],
                "accuracy": result.metrics.get("accuracy"),  # None for a regression
                "fairness_gap": result.gap,
                "rows": frame.height,
            }
        path = _score_path(ws, config, version.id, dataset)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(score, default=float))
        scores[version.id] = score
    return frame.height


def warm_comparison(ws: Workspace, config: ProjectConfig) -> None:
    """Score the versions ``status`` will show while the models are loaded anyway (end of
    ``run``), so the next ``status`` only reads the cache."""
    compare_versions(ws, config, list(reversed(list_versions(ws))))


def project_status(
    ws: Workspace,
    config: ProjectConfig,
    *,
    project_file: Path | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Versions (newest first) with stage, the primary metric of every version on the SAME
    evaluation rows (``compared_on``), live accuracy with its 95 % interval over
    ``loop.window``, how the champion's data was split, its per-feature drift, a shadow's
    progress, and alerts. With ``project_file``, also the tuned settings in effect (``tuned``:
    file and values, or None)."""
    versions, alerts = [], []
    tuned: dict[str, Any] | None = None
    if project_file is not None:
        tuned, tuned_alerts = tuned_status(project_file, config)
        alerts += tuned_alerts
    drift: dict[str, Any] = {}
    shadow: dict[str, Any] = {}
    all_versions = list(reversed(list_versions(ws)))
    current = next((v for v in all_versions if v.stage == "champion"), None)
    for version in all_versions:
        row = _version_row(ws, version, config.loop.window, now)
        versions.append(row)
        if version.stage == "champion":
            drift = feature_drift(
                ws, version, config.loop, text=config.data.text, now=now
            ).to_dict()
            alerts += _champion_alerts(version, row, drift, config)
            alerts += policy_alerts(ws, config, version)
        if version.stage == "shadow" and current is not None:
            needed = max(1, config.loop.shadow_requests)
            shadow = asdict(
                judge_shadow(
                    ws, version, current, needed=needed, confidence=config.gates.confidence
                )
            )
    compared = compare_versions(ws, config, all_versions)
    for row in versions:
        row["compared"] = compared.get("scores", {}).get(row["id"])
    split = _champion_split(ws, current)
    if not versions:
        alerts.append(NO_MODEL)
    elif current is None:
        alerts.append(NO_CHAMPION)
    running = live_retrain(ws)
    chain = ws.verify_audit()
    if not chain.ok:
        alerts.append(f"audit log broken: {chain.problem}")
    alerts += input_pii_alerts(ws.engine)
    return {
        "project": config.name,
        "versions": versions,
        "compared_on": {k: v for k, v in compared.items() if k != "scores"},
        "min_group_size": config.gates.min_group_size,  # behind every fairness gap shown
        "split": split,
        "drift": drift,
        "shadow": shadow,
        "retraining": running.id if running else None,
        "tuned": tuned,
        "alerts": alerts,
        "audit": {"ok": chain.ok, "entries": chain.entries},
    }
