"""The model card of a registered version: its facts gathered once, for evaluate and export."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from datawheel.config import ProjectConfig
from datawheel.data.schema import infer_schema
from datawheel.i18n.catalog import N_
from datawheel.registry.versions import ModelVersion
from datawheel.store.runs import get_run
from datawheel.store.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np

    from datawheel.evaluate.assess import Assessment
    from datawheel.train.bundle import TrainedModel

__all__ = ["version_card_html", "version_split"]

# translated where the chart draws it; N_ only marks it for the catalog
SHAP_LABEL = N_("mean |SHAP value| ({scale} of the predicted class)")


def explanation_scale(model: TrainedModel) -> str:
    """What a family's explanations add up to: probability (MLP), log-odds, or the value."""
    if model.is_regression:
        return "value"
    return "probability" if model.family == "mlp" else "log-odds"


def version_card_html(
    ws: Workspace,
    version: ModelVersion,
    model: TrainedModel,
    frame: pl.DataFrame | None,
    *,
    config: ProjectConfig | None = None,
    source: str = "",
    assessment: Assessment | None = None,
    proba: np.ndarray | None = None,
    importance: dict[str, float] | None = None,
    words: dict[str, dict[str, float]] | None = None,
    license_note: str = "",
) -> str:
    """The card of ``version``, evaluated on ``frame`` (labelled, anonymized rows; None: a card
    that says it was not evaluated). ``assessment`` and ``proba`` are computed here unless the
    caller has them; ``importance`` (mean |SHAP| per feature) adds its chart, ``words`` (per
    text column, word → mean value) the words that move the model. Every card shows the
    candidates of ``model.kind: auto``; a regression gets its own metrics and residual plots.

    Without ``config`` the fairness columns are those the version was assessed on at training.
    """
    from datawheel.evaluate.assess import assess
    from datawheel.evaluate.card import model_card_html
    from datawheel.evaluate.card_sections import (
        candidates_section,
        regression_card_html,
        words_section,
    )
    from datawheel.registry.candidate import assess_model

    model_id = f"{config.name} {version.id}" if config else version.id
    intended_use = config.card.intended_use if config else ""
    limitations = config.card.limitations if config else ""
    if frame is None or frame.height == 0:
        return model_card_html(
            model_id=model_id,
            classes=model.classes,
            inputs=model.input_schema,
            intended_use=intended_use,
            limitations=limitations,
            license_note=license_note,
        )
    target = model.target
    if assessment is None and config is not None:
        assessment = assess_model(config, model, frame, intersections=True)
    elif assessment is None:
        sensitive = [c for c in version.fairness if "×" not in c]
        assessment = assess(model, frame, target=target, sensitive=sensitive, intersections=True)
    scale = explanation_scale(model)
    if model.is_regression:
        return regression_card_html(
            model_id=model_id, family=model.family, metrics=assessment.metrics,
            fairness=assessment.fairness, y_true=frame[target].cast(pl.Float64).to_list(),
            predicted=model.predict_values(frame),
            data_summary={"evaluated on": source, "trained on": f"dataset {version.dataset_id}",
                          "rows": f"{frame.height:,}"},
            interval=model.extras.get("interval"), selection=model.extras.get("selection"),
            importance=importance, words=words,
            gates=config.gates.model_dump() if config else None,
            intended_use=intended_use, limitations=limitations, license_note=license_note,
            primary=assessment.primary, split=version_split(ws, version),
        )  # fmt: skip
    extras = [candidates_section(model.extras.get("selection")), words_section(words or {}, scale)]
    if getattr(model, "fused", False):  # images or clips: a few rows explained, with heatmaps
        from datawheel.evaluate.card_media import media_examples_section

        extras.append(media_examples_section(model, frame))
    classes = model.classes
    return model_card_html(
        model_id=model_id,
        classes=classes,
        metrics=assessment.metrics,
        fairness=assessment.fairness,
        y_true=frame[target].cast(pl.String).to_list(),
        proba=model.predict_proba(frame) if proba is None else proba,
        positive=classes[assessment.pos] if assessment.pos is not None else None,
        data_summary=_data_summary(frame, target, source, version.dataset_id, config),
        gates=config.gates.model_dump() if config else None,
        history=get_run(ws, version.run_id).history if version.run_id else None,
        importance=importance,
        importance_label=SHAP_LABEL.format(scale=scale),
        gated=assessment.gated.to_dict() if assessment.gated else None,
        primary=assessment.primary,
        split=version_split(ws, version),
        inputs=model.input_schema,
        intended_use=intended_use,
        limitations=limitations,
        license_note=license_note,
        extra_sections=[section for section in extras if section is not None],
    )


def version_split(ws: Workspace, version: ModelVersion) -> dict[str, Any]:
    """How the version's training data was split (recorded with its training set; a retrain's
    training set points at its base set, which holds it)."""
    from datawheel.store.datasets import get_dataset

    record = get_dataset(ws, version.dataset_id)
    split = record.stats.get("split")
    if split is None and "base_train" in record.stats:
        split = get_dataset(ws, record.stats["base_train"]).stats.get("split")
    return dict(split or {})


def _data_summary(
    frame: pl.DataFrame,
    target: str,
    source: str,
    train_dataset: str,
    config: ProjectConfig | None,
) -> dict[str, Any]:
    roles: dict[str, list[str]] = {}
    if config is not None:
        schema = infer_schema(frame, config.data, pii_columns=config.privacy.columns)
        for info in schema.values():
            roles.setdefault(info.role, []).append(info.name)
    counts = frame[target].cast(pl.String).value_counts(sort=True)
    balance = {
        str(label): f"{count} ({count / frame.height:.1%})"
        for label, count in counts.iter_rows()
    }  # fmt: skip
    return {
        "evaluated on": source,
        "trained on": f"dataset {train_dataset}",
        "rows": f"{frame.height:,}",
        "columns": str(len(frame.columns)),
        **{f"{role} columns": names for role, names in sorted(roles.items())},
        "class balance": balance,
    }
