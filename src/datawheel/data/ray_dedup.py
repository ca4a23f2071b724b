"""Near-duplicate detection on Ray Data with the local engine's rules, so the kept set is the
same (the tests compare them). Stages, each a Ray Data operator over rows ``(_dw_row, text)``:

1. ``map_batches``: each row's exact key (the text after NFKC, casefold and whitespace
   collapse), whether it has shingles, and its LSH band keys — the local engine's shingling,
   MinHash and banding code (``_shingles``, ``_lsh``), unchanged.
2. Exact groups: ``groupby(exact).aggregate(Unique(row))``; every row but the smallest of a
   group is an exact copy. The smallest rows with shingles go on (a ``join``).
3. Buckets: one row per (row, band); ``groupby(band, key).aggregate(Unique(row))`` collects
   each bucket; ``map_batches`` pairs each row of a bucket with its next 16 in row order (the
   local rule, vectorized over many buckets at once); ``groupby(a, b)`` drops repeats.
4. Verification: the texts of the paired rows (a ``join``), then each pair (two ``join``s);
   exact shingle Jaccard in ``map_batches``.
5. Connected components by large-star / small-star (``ray_components``); every node but the
   smallest of its component is a near duplicate.

Only counts reach the driver. ``stages`` records each shuffle's input size (bytes).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datawheel.data._lsh import EMPTY, band_keys, exact_jaccard, lsh_params, minhash_signatures
from datawheel.data._shingles import features, prepare
from datawheel.data.dedup import _FN_WEIGHT, _FP_WEIGHT
from datawheel.data.ray_components import components
from datawheel.data.ray_io import ROW
from datawheel.data.ray_rows import RowFilter, row_set

__all__ = ["NearDuplicates", "Stages", "comparable_rows", "later_copies", "near_duplicates"]

_NEIGHBORS = 16  # the local engine's max_neighbors
_ROWS = pa.schema([(ROW, pa.int64())])
_PAIRS = pa.schema([("a", pa.int64()), ("b", pa.int64())])

Note = Callable[[str, int, int | None], None]


@dataclass
class NearDuplicates:
    """What ``near_duplicates`` found; ``removed`` is a dataset of ``_dw_row`` (exact copies
    and near duplicates together)."""

    removed: Any
    labels: Any  # (_dw_row, label): the smallest row of each row's cluster (when asked for)
    rows: int
    exact_duplicates: int
    near_duplicates: int
    candidate_pairs: int
    rounds: int
    shuffle_bytes: dict[str, int] = field(default_factory=dict)  # stage → bytes shuffled
    seconds: dict[str, float] = field(default_factory=dict)  # stage → wall seconds


class Stages:
    """Progress by stage, and the wall time of each (a stage ends where the next begins)."""

    def __init__(self, note: Note | None):
        self.note = note or (lambda stage, done, total: None)
        self.seconds: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def start(self, stage: str, total: int | None = None) -> None:
        self.stop()
        self._current = (stage, time.perf_counter())
        self.note(stage, 0, total)

    def stop(self) -> None:
        if self._current is not None:
            stage, began = self._current
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - began
            self._current = None


def near_duplicates(
    rows: Any,
    *,
    text: str,
    threshold: float,
    partitions: int,
    num_perm: int = 128,
    ngram: int | None = None,
    seed: int = 1,
    note: Note | None = None,
    labels: bool = False,
) -> NearDuplicates:
    """Exact copies and near duplicates among ``rows`` (columns ``_dw_row`` and ``text``);
    with ``labels``, also each clustered row's cluster (its smallest row)."""
    from ray.data.aggregate import Unique

    stages = Stages(note)
    bands, band_rows = lsh_params(threshold, num_perm, fp_weight=_FP_WEIGHT, fn_weight=_FN_WEIGHT)
    shuffled: dict[str, int] = {}
    stages.start("sketching")
    sketch = rows.map_batches(
        _Sketch(text, num_perm, ngram, seed, bands, band_rows), batch_format="pyarrow"
    ).materialize()
    n = sketch.count()
    stages.note("sketching", n, n)
    stages.start("exact groups")
    keys = sketch.select_columns([ROW, "exact", "shingled"]).materialize()
    shuffled["exact groups"] = keys.size_bytes()
    # equal texts have equal shingles: grouping on both keeps "has shingles" per group
    groups = keys.groupby(["exact", "shingled"], num_partitions=partitions).aggregate(
        Unique(ROW, alias_name="rows")
    )
    split = groups.map_batches(_firsts_and_copies, batch_format="pyarrow").materialize()
    copies = split.map_batches(_copies, batch_format="pyarrow").materialize()
    lead = split.map_batches(_leads, batch_format="pyarrow")
    stages.start("bucketing")
    band_table = sketch.drop_columns(["exact", "shingled"]).join(
        lead, "left_semi", partitions, on=(ROW,)
    )
    band_rows_ds = band_table.map_batches(_explode_bands, batch_format="pyarrow").materialize()
    shuffled["buckets"] = band_rows_ds.size_bytes()
    buckets = band_rows_ds.groupby(["band", "key"], num_partitions=partitions).aggregate(
        Unique(ROW, alias_name="rows")
    )
    pairs = buckets.map_batches(_bucket_pairs, batch_format="pyarrow").materialize()
    shuffled["candidate pairs"] = pairs.size_bytes()
    pairs = (
        pairs.groupby(["a", "b"], num_partitions=partitions)
        .count()
        .select_columns(["a", "b"])
        .materialize()
    )
    candidates = pairs.count()
    stages.start("verifying", candidates)
    edges, verify_bytes = _verified(rows, pairs, text, threshold, ngram, seed, partitions)
    shuffled["verification"] = verify_bytes
    stages.note("verifying", candidates, candidates)
    stages.start("components")
    stars, rounds = _stars(edges, partitions, shuffled)
    removed_near = stars.select_columns(["a"]).rename_columns({"a": ROW}).materialize()
    n_copies, n_near = copies.count(), removed_near.count()
    removed = copies.union(removed_near).materialize() if n_near else copies
    clusters = _labels(split, stars, partitions) if labels else None
    stages.note("components", rounds, rounds)
    stages.stop()
    return NearDuplicates(
        removed, clusters, n, n_copies, n_near, candidates, rounds, shuffled, stages.seconds
    )


def _labels(split: Any, stars: Any, partitions: int) -> Any:
    """(row, the smallest row of its cluster) for every row in a cluster: an exact copy takes
    its first row's label, a near duplicate its component's smallest row."""
    copies = split.map_batches(_copy_links, batch_format="pyarrow")
    roots = stars.rename_columns({"a": "first", "b": "root"})
    linked = copies.join(roots, "left_outer", partitions, on=("first",))
    relabelled = linked.map_batches(_copy_labels, batch_format="pyarrow")
    near = stars.rename_columns({"a": ROW, "b": "label"})
    return relabelled.union(near).materialize()


def _verified(
    rows: Any,
    pairs: Any,
    text: str,
    threshold: float,
    ngram: int | None,
    seed: int,
    partitions: int,
) -> tuple[Any, int]:
    """The candidate pairs whose shingle sets reach ``threshold``, and the bytes shuffled."""
    from ray.data.aggregate import Count

    if pairs.count() == 0:
        return pairs, 0
    import ray

    ends = pairs.map_batches(_pair_ends, batch_format="pyarrow")
    nodes = ends.groupby(ROW, num_partitions=partitions).aggregate(Count(alias_name="n"))
    paired = row_set(ray, nodes)  # each block keeps its paired rows' texts: no text shuffle
    needed = rows.select_columns([ROW, text]).map_batches(
        RowFilter(paired, keep=True), batch_format="pyarrow"
    )
    needed = needed.materialize()
    side_a = needed.rename_columns({ROW: "a", text: "text_a"})
    side_b = needed.rename_columns({ROW: "b", text: "text_b"})
    joined = pairs.join(side_a, "inner", partitions, on=("a",)).join(
        side_b, "inner", partitions, on=("b",)
    )
    edges = joined.map_batches(_Verify(threshold, ngram, seed), batch_format="pyarrow")
    return edges.materialize(), 8 * paired.count + 2 * needed.size_bytes()


def _stars(edges: Any, partitions: int, shuffled: dict[str, int]) -> tuple[Any, int]:
    """(a, b): every node of an edge but the smallest of its component, with that smallest
    node; and the rounds it took."""
    import ray.data

    if edges.count() == 0:
        return ray.data.from_arrow(_PAIRS.empty_table()), 0
    shuffled["components"] = edges.size_bytes()
    return components(edges, partitions)


class _Sketch:
    """Exact key, whether there are shingles, and the LSH band keys of each row."""

    def __init__(
        self, text: str, num_perm: int, ngram: int | None, seed: int, bands: int, rows: int
    ):
        self.text, self.num_perm, self.ngram, self.seed = text, num_perm, ngram, seed
        self.bands, self.rows = bands, rows

    def __call__(self, batch: pa.Table) -> pa.Table:
        texts = prepare(batch.column(self.text).to_pylist())
        found = features(texts, self.ngram, self.seed)
        signatures = minhash_signatures(found.hashes, found.offsets, self.num_perm, seed=self.seed)
        keys = band_keys(signatures, self.bands, self.rows)
        exact = [_stable_key(t) for t in texts]
        return pa.table(
            {
                ROW: batch.column(ROW),
                "exact": pa.array(exact, pa.uint64()),
                "shingled": pa.array(signatures[:, 0] != EMPTY, pa.bool_()),
                **{f"b{i}": pa.array(keys[:, i], pa.uint64()) for i in range(self.bands)},
            }
        )


def _stable_key(text: str) -> int:
    """The local engine's exact key (the whitespace-collapsed text), hashed the same in every
    process (Python's ``hash`` is salted per process)."""
    digest = hashlib.blake2b(" ".join(text.split()).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _firsts_and_copies(batch: pa.Table) -> pa.Table:
    """Each member of each exact group: whether it is the group's smallest row, and whether the
    group's text has shingles."""
    if batch.num_rows == 0:
        empty = pa.array([], pa.int64())
        flags = pa.array([], pa.bool_())
        return pa.table({ROW: empty, "first": flags, "lead": flags, "smallest": empty})
    members = batch["rows"].combine_chunks()
    flat = pc.list_flatten(members).to_numpy().astype(np.int64)
    group = pc.list_parent_indices(members).to_numpy()
    smallest = np.full(batch.num_rows, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(smallest, group, flat)
    first = flat == smallest[group]
    shingled = batch["shingled"].to_numpy(zero_copy_only=False)[group]
    return pa.table(
        {ROW: flat, "first": first, "lead": first & shingled, "smallest": smallest[group]}
    )


def _copy_links(batch: pa.Table) -> pa.Table:
    """(row, its group's first row) for each exact copy."""
    copy = pc.invert(batch["first"])
    return pa.table({ROW: batch[ROW].filter(copy), "first": batch["smallest"].filter(copy)})


def _copy_labels(batch: pa.Table) -> pa.Table:
    """A copy's label: its first row's component root, else its first row."""
    label = pc.coalesce(batch["root"], batch["first"])
    return pa.table({ROW: batch[ROW], "label": label.cast(pa.int64())})


def comparable_rows(dataset: Any, column: str) -> Any:
    """The rows whose ``column`` holds a present, non-blank text (cast to text): the only rows
    the local engine's near-dup step compares."""
    return dataset.map_batches(_Comparable(column), batch_format="pyarrow")


class _Comparable:
    def __init__(self, column: str):
        self.column = column

    def __call__(self, batch: pa.Table) -> pa.Table:
        import polars as pl

        from datawheel.data.clean import comparable_text

        texts = pl.from_arrow(batch[self.column])
        assert isinstance(texts, pl.Series)
        texts = texts.cast(pl.String)
        keep = comparable_text(texts).to_numpy()
        return pa.table({ROW: batch[ROW], self.column: texts.to_arrow()}).filter(pa.array(keep))


def later_copies(dataset: Any, key: str, partitions: int) -> Any:
    """Rows (``_dw_row``) whose ``key`` equals an earlier row's: every member of a group of
    equal keys but the smallest row (``groupby(key).aggregate(Unique(row))``)."""
    from ray.data.aggregate import Unique

    groups = dataset.groupby(key, num_partitions=partitions).aggregate(
        Unique(ROW, alias_name="rows")
    )
    return groups.map_batches(_group_copies, batch_format="pyarrow").materialize()


def _group_copies(batch: pa.Table) -> pa.Table:
    if batch.num_rows == 0:
        return _ROWS.empty_table()
    members = batch["rows"].combine_chunks()
    flat = pc.list_flatten(members).to_numpy().astype(np.int64)
    group = pc.list_parent_indices(members).to_numpy()
    smallest = np.full(batch.num_rows, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(smallest, group, flat)
    return pa.table({ROW: flat[flat != smallest[group]]}, schema=_ROWS)


def _copies(batch: pa.Table) -> pa.Table:
    """Rows that repeat an earlier row's text."""
    return batch.select([ROW]).filter(pc.invert(batch["first"]))


def _leads(batch: pa.Table) -> pa.Table:
    """The first row of each text that has shingles: the rows LSH compares."""
    return batch.select([ROW]).filter(batch["lead"])


def _explode_bands(batch: pa.Table) -> pa.Table:
    """One row per (row, band): columns _dw_row, band, key."""
    rows = batch.column(ROW).to_numpy()
    names = [name for name in batch.column_names if name != ROW]
    keys = np.stack([batch.column(name).to_numpy() for name in names], axis=1).reshape(-1)
    return pa.table(
        {
            ROW: np.repeat(rows, len(names)),
            "band": np.tile(np.arange(len(names), dtype=np.int32), len(rows)),
            "key": keys,
        }
    )


def _bucket_pairs(batch: pa.Table) -> pa.Table:
    """Each bucket's rows in row order, each paired with its next 16 (a < b)."""
    if batch.num_rows == 0:
        return _PAIRS.empty_table()
    members = batch["rows"].combine_chunks()
    flat = pc.list_flatten(members).to_numpy().astype(np.int64)
    bucket = pc.list_parent_indices(members).to_numpy()
    order = np.lexsort((flat, bucket))
    flat, bucket = flat[order], bucket[order]
    a_out, b_out = [], []
    for d in range(1, _NEIGHBORS + 1):
        same = bucket[d:] == bucket[:-d]
        if not same.any():
            break
        a_out.append(flat[:-d][same])
        b_out.append(flat[d:][same])
    if not a_out:
        return _PAIRS.empty_table()
    return pa.table({"a": np.concatenate(a_out), "b": np.concatenate(b_out)}, schema=_PAIRS)


def _pair_ends(batch: pa.Table) -> pa.Table:
    return pa.table(
        {ROW: pa.concat_arrays([batch["a"].combine_chunks(), batch["b"].combine_chunks()])}
    )


class _Verify:
    """Keep the candidate pairs whose exact shingle Jaccard reaches the threshold."""

    def __init__(self, threshold: float, ngram: int | None, seed: int):
        self.threshold, self.ngram, self.seed = threshold, ngram, seed

    def __call__(self, batch: pa.Table) -> pa.Table:
        n = batch.num_rows
        if n == 0:
            return _PAIRS.empty_table()
        texts = prepare(batch.column("text_a").to_pylist() + batch.column("text_b").to_pylist())
        found = features(texts, self.ngram, self.seed)
        pairs = np.stack([np.arange(n), np.arange(n) + n], axis=1)
        similar = exact_jaccard(found.hashes, found.offsets, pairs) >= self.threshold
        return pa.table(
            {"a": batch.column("a").filter(similar), "b": batch.column("b").filter(similar)},
            schema=_PAIRS,
        )
