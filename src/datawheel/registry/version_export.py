"""Export a registered model version as a portable bundle, with its model card."""

from __future__ import annotations

from pathlib import Path

from datawheel.config import ProjectConfig
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace
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
    from datawheel.registry.version_card import version_card_html
    from datawheel.registry.versions import get_version, load_version_model
    from datawheel.store.datasets import load_frame
    from datawheel.train.export import BUNDLE_LICENSE_NOTE, export_bundle

    require(ws, "export")
    version = get_version(ws, ref)
    model = load_version_model(ws, version)
    holdout = load_frame(ws, version.eval_dataset_id) if version.eval_dataset_id else None
    card = version_card_html(
        ws,
        version,
        model,
        holdout,
        config=config,
        source=f"dataset {version.eval_dataset_id}",
        license_note=BUNDLE_LICENSE_NOTE,
    )
    return export_bundle(model, directory, int8=int8, holdout=holdout, card_html=card)
