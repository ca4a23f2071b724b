"""The pipeline's data stage on Ray (``data.engine: ray``): the duplicate clusters the split
keeps together, computed on the cluster for a table this process holds — the same labels as
``clean.duplicate_labels``, so the same split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from datawheel.config import DedupConfig, NearDedupConfig
from datawheel.data.clean import duplicate_labels
from datawheel.data.dedup import check_dedup_args
from datawheel.data.ray_dedup import comparable_rows, near_duplicates
from datawheel.data.ray_io import ROW, connect, shuffle_partitions, surface_errors
from datawheel.data.ray_read import rows_of_frame
from datawheel.data.ray_stats import small_frame

__all__ = ["duplicate_labels_on_ray"]


def duplicate_labels_on_ray(
    frame: pl.DataFrame,
    config: DedupConfig,
    *,
    ignore: Sequence[str] = (),
    media: Any = None,
    address: str | None = None,
) -> list[Any]:
    """``duplicate_labels``: exact copies by their key and duplicate media files here (a sort
    of this table, the files' keys), each near-duplicate text field's clusters on the cluster."""
    for name in config.near.fields:
        check_dedup_args(frame.columns, frame.schema.get(name), name, config.near.threshold)
    here = config.model_copy(update={"near": NearDedupConfig(fields=[])})
    labels = duplicate_labels(frame, here, ignore=ignore, media=media)
    if not config.near.fields:
        return labels
    ray = connect(address)

    def run() -> list[Any]:
        for name in config.near.fields:
            rows = rows_of_frame(ray, frame.select(pl.col(name).cast(pl.String)))
            found = near_duplicates(
                comparable_rows(rows.dataset, name),
                text=name,
                threshold=config.near.threshold,
                partitions=shuffle_partitions(ray, rows.nbytes),
                ngram=config.near.ngram,
                labels=True,
            )
            label = np.arange(frame.height, dtype=np.int64)
            clustered = small_frame(found.labels)
            if clustered.height:
                label[clustered[ROW].to_numpy()] = clustered["label"].to_numpy()
            labels.append(label)
        return labels

    return list(surface_errors(run))
