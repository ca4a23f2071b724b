"""Export a registered model version as a portable bundle, with its model card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from datawheel.config import ProjectConfig
from datawheel.store.workspace import Workspace
from datawheel.train import TrainedModel
from datawheel.train.export import ExportReport

__all__ = ["export_version"]


def export_version(
    ws: Workspace,
    ref: str,
    directory: str | Path,
    *,
    int8: bool = False,
    config: ProjectConfig | None = None,
) -> ExportReport:
    """Export model version ``ref`` with its model card, compared on its held-out set."""
    from datawheel.registry.versions import get_version, load_version_model
    from datawheel.store.datasets import load_frame
    from datawheel.train.export import export_bundle

    version = get_version(ws, ref)
    model = load_version_model(ws, version)
    holdout = load_frame(ws, version.eval_dataset_id) if version.eval_dataset_id else None
    card = _card(version, model, holdout, config) if holdout is not None else None
    return export_bundle(model, directory, int8=int8, holdout=holdout, card_html=card)


def _card(
    version: Any, model: TrainedModel, holdout: pl.DataFrame, config: ProjectConfig | None
) -> str | None:
    """The evaluation's model card for the version; None (a simple page) if it cannot be drawn."""
    from datawheel.evaluate.assess import positive_label
    from datawheel.evaluate.card import model_card_html

    if "confusion_matrix" not in version.metrics:
        return None
    return model_card_html(
        model_id=version.id,
        metrics=version.metrics,
        fairness=version.fairness,
        y_true=holdout.get_column(model.target).cast(pl.String).to_list(),
        proba=model.predict_proba(holdout),
        classes=model.classes,
        positive=positive_label(model.classes),
        data_summary={"training dataset": version.dataset_id, "held-out rows": holdout.height},
        gates=config.gates.model_dump() if config else None,
        intended_use=config.card.intended_use if config else "",
        limitations=config.card.limitations if config else "",
    )
