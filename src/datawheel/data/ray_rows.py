"""Sets of rows on the cluster: removing (or keeping) rows by number without shuffling the
data — the numbers are sorted into blocks of known ranges, and each block of data fetches the
few it needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from datawheel.data.ray_io import ROW

__all__ = ["RowFilter", "RowSet", "row_set"]


@dataclass(frozen=True)
class RowSet:
    """Row numbers held on the cluster, sorted and cut into blocks of known ranges. A block
    of data fetches only the blocks of the set its rows fall in, so removing (or keeping) a
    set of rows moves neither the data nor the whole set: no shuffle of the rows, order kept,
    and a task holds about as much of the set as its block covers."""

    refs: list[Any]  # ObjectRefs of sorted int64 arrays, in order
    lows: list[int]
    highs: list[int]
    count: int


def row_set(ray: Any, rows: Any) -> RowSet:
    """The ``_dw_row`` values of ``rows`` as a ``RowSet`` (a sort of the numbers alone; the
    driver keeps one reference and two numbers per block)."""
    arrays = rows.select_columns([ROW]).sort(ROW).materialize().to_arrow_refs()
    summary = ray.get([_block_bounds(ray).remote(ref) for ref in arrays])
    refs, lows, highs, count = [], [], [], 0
    for ref, (size, low, high) in zip(arrays, summary, strict=True):
        if size:
            refs.append(ref)
            lows.append(low)
            highs.append(high)
            count += size
    return RowSet(refs, lows, highs, count)


def _block_bounds(ray: Any) -> Any:
    @ray.remote(num_cpus=0)
    def bounds(table: pa.Table) -> tuple[int, int, int]:
        if table.num_rows == 0:
            return 0, 0, 0
        column = table[ROW]
        return table.num_rows, int(column[0].as_py()), int(column[-1].as_py())

    return bounds


class RowFilter:
    """``map_batches``: keep the rows of a block that are in the set (``keep=True``) or not."""

    def __init__(self, rows: RowSet, *, keep: bool):
        self.rows, self.keep = rows, keep

    def __call__(self, batch: pa.Table) -> pa.Table:
        import numpy as np
        import ray

        if batch.num_rows == 0:
            return batch
        numbers = batch[ROW].to_numpy()
        low, high = int(numbers.min()), int(numbers.max())
        wanted = [
            ref
            for ref, a, b in zip(self.rows.refs, self.rows.lows, self.rows.highs, strict=True)
            if a <= high and b >= low
        ]
        members = np.zeros(len(numbers), dtype=bool)
        if wanted:
            chosen = np.concatenate([t[ROW].to_numpy() for t in ray.get(wanted)])
            members = np.isin(numbers, chosen, assume_unique=False)
        return batch.filter(pa.array(members if self.keep else ~members))
