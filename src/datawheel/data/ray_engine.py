"""The data stage on a Ray cluster: near-duplicate removal on Ray Data, the local engine's rules.

Every step is a Ray Data operator, so no step gathers all signatures or all edges on the driver:

1. ``map_batches``: each row's exact key (the text after the local engine's NFKC, casefold and
   whitespace collapse) and its LSH band keys — the local engine's shingles, MinHash and banding
   (``_shingles``, ``_lsh``) run unchanged inside the batch.
2. Exact groups: ``groupby(exact).aggregate(Min(row))`` + ``join``: the first row of each.
3. Buckets: band rows of the first rows, hash-shuffled on (band, key) so a bucket sits in one
   block; each bucket pairs a row with its next 16 in row order (the local engine's rule),
   vectorized per block; ``groupby(a, b)`` removes pairs found in several bands.
4. Verification: candidate pairs ``join`` the texts twice, exact Jaccard in ``map_batches``.
5. Connected components by min-label propagation: each round is a ``join`` of the edges with
   the labels and a ``groupby(...).aggregate(Min)``; only the count of changed labels reaches
   the driver. The kept row of a component is its smallest row, as locally.

So the kept set equals the local engine's on the same input (the tests check it).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from datawheel.data._lsh import EMPTY, band_keys, exact_jaccard, lsh_params, minhash_signatures
from datawheel.data._shingles import features, prepare
from datawheel.data.dedup import _FN_WEIGHT, _FP_WEIGHT, check_dedup_args
from datawheel.errors import MissingDependencyError, UsageError

__all__ = [
    "ENGINES",
    "RayDedupStats",
    "check_engine",
    "connect",
    "dedup_file_on_ray",
    "dedup_on_ray",
    "local_only",
    "require_ray",
]

ENGINES = ("local", "ray")

ROW = "_dw_row"
_NEIGHBORS = 16  # the local engine's max_neighbors
_LOCAL_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def check_engine(engine: str) -> str:
    """``local`` or ``ray``, else a usage error naming the choices."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}", where="--engine", hint="use local or ray")
    return engine


def local_only(engine: str, command: str) -> None:
    """For the commands that run on this machine only in this release: ``--engine local`` is
    accepted, ``--engine ray`` refused with what does run on Ray."""
    if check_engine(engine) == "ray":
        raise UsageError(
            f"datawheel {command} runs on the local engine only in this release",
            where="--engine ray",
            hint="drop --engine ray (datawheel dedup --engine ray runs on a Ray cluster)",
        )


def dedup_file_on_ray(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    text: str,
    threshold: float = 0.8,
    address: str | None = None,
    encoding: str = "utf-8",
) -> RayDedupStats:
    """``datawheel dedup --engine ray``: read ``path``, dedup on the cluster, write ``output``.

    The input is read and the kept rows written by this process (one file in, one file out);
    everything between — sketches, buckets, pairs, components — runs on the cluster.
    """
    from datawheel.errors import DataError
    from datawheel.io import read_table, write_table

    if Path(path).resolve() == Path(output).resolve():
        raise DataError("the output would overwrite the input", where=str(output))
    require_ray()
    frame = read_table(Path(path), encoding=encoding)
    kept, stats = dedup_on_ray(frame, text=text, threshold=threshold, address=address)
    write_table(kept, Path(output))
    return stats


def require_ray() -> Any:
    """Import Ray, or say which extra brings it."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingDependencyError("ray", "ray", purpose="--engine ray") from None
    return ray


def connect(address: str | None) -> Any:
    """Join the cluster at ``address`` (``host:port``; ``auto`` or None: ``RAY_ADDRESS``, else a
    local one-machine cluster). A cluster on 127.0.0.1 is joined on 127.0.0.1 only."""
    host = urlparse(f"//{address}").hostname if address and address != "auto" else None
    if host in {"127.0.0.1", "localhost"}:
        os.environ.setdefault(_LOCAL_ONLY, "0")  # Ray otherwise reports the outward address
    ray = require_ray()
    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=False, include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UsageError(
                f"cannot join the Ray cluster at {address or 'RAY_ADDRESS'}: {exc}",
                where="--ray-address",
                hint="start it with `ray start --head`, pass its HOST:PORT, and set "
                "RAY_AUTH_TOKEN when the cluster uses token auth",
            ) from None
    ray.data.DataContext.get_current().enable_progress_bars = True
    return ray


@dataclass(frozen=True)
class RayDedupStats:
    rows_in: int
    kept: int
    exact_duplicates: int
    near_duplicates: int
    candidate_pairs: int
    rounds: int  # label-propagation rounds of the connected components


def dedup_on_ray(
    frame: pl.DataFrame,
    *,
    text: str,
    threshold: float = 0.8,
    num_perm: int = 128,
    ngram: int | None = None,
    seed: int = 1,
    address: str | None = None,
    partitions: int = 2,
) -> tuple[pl.DataFrame, RayDedupStats]:
    """Keep the first row of each duplicate cluster (input order), computed on Ray Data."""
    check_dedup_args(frame.columns, frame.schema.get(text), text, threshold, num_perm, ngram)
    ray = connect(address)
    table = frame.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64)).to_arrow()
    source = ray.data.from_arrow(table)
    kept_rows, stats = kept_row_ids(
        source.select_columns([ROW, text]),
        text=text,
        threshold=threshold,
        num_perm=num_perm,
        ngram=ngram,
        seed=seed,
        partitions=partitions,
    )
    kept = source.join(kept_rows, "left_semi", partitions, on=(ROW,))
    out = pl.from_arrow(pa.concat_tables(ray.get(kept.to_arrow_refs())))
    assert isinstance(out, pl.DataFrame)
    out = out.sort(ROW).drop(ROW)
    return out, stats


def kept_row_ids(
    rows: Any,
    *,
    text: str,
    threshold: float,
    num_perm: int,
    ngram: int | None,
    seed: int,
    partitions: int,
) -> tuple[Any, RayDedupStats]:
    """A dataset of the kept ``_dw_row`` ids of ``rows`` (columns ``_dw_row``, ``text``)."""
    from ray.data.aggregate import Min

    bands, band_rows = lsh_params(threshold, num_perm, fp_weight=_FP_WEIGHT, fn_weight=_FN_WEIGHT)
    sketch = rows.map_batches(
        _Sketch(text, num_perm, ngram, seed, bands, band_rows), batch_format="pyarrow"
    ).materialize()
    keys = sketch.select_columns([ROW, "exact", "empty"])
    firsts = keys.groupby("exact", num_partitions=partitions).aggregate(
        Min(ROW, alias_name="first")
    )
    with_first = keys.join(firsts, "inner", partitions, on=("exact",)).materialize()
    n = with_first.count()
    exact_dups = with_first.map_batches(_later_copies, batch_format="pyarrow").materialize()
    unique = with_first.map_batches(_firsts_with_shingles, batch_format="pyarrow")

    band_columns = [f"b{i}" for i in range(bands)]
    band_table = sketch.select_columns([ROW, *band_columns]).join(
        unique, "left_semi", partitions, on=(ROW,)
    )
    # every row of a bucket lands in one block (a hash shuffle on the bucket), so each block
    # pairs its rows in order, vectorized — no Python per group
    buckets = band_table.map_batches(_explode_bands, batch_format="pyarrow").repartition(
        partitions, keys=["band", "key"]
    )
    pairs = buckets.map_batches(_bucket_pairs, batch_format="pyarrow", batch_size=None)
    pairs = (
        pairs.groupby(["a", "b"], num_partitions=partitions)
        .count()
        .select_columns(["a", "b"])
        .materialize()
    )
    candidates = pairs.count()

    texts = rows.rename_columns({ROW: "a", text: "text_a"})
    joined = pairs.join(texts, "inner", partitions, on=("a",))
    joined = joined.join(
        rows.rename_columns({ROW: "b", text: "text_b"}), "inner", partitions, on=("b",)
    )
    edges = joined.map_batches(
        _Verify(threshold, ngram, seed), batch_format="pyarrow"
    ).materialize()

    labels, rounds = _components(edges, partitions)
    near_dups = labels.map_batches(_not_smallest, batch_format="pyarrow").materialize()
    removed = exact_dups.select_columns([ROW]).union(near_dups.rename_columns({"node": ROW}))
    kept = keys.select_columns([ROW]).join(removed, "left_anti", partitions, on=(ROW,))
    kept = kept.materialize()
    n_exact, n_near = exact_dups.count(), near_dups.count()
    stats = RayDedupStats(
        rows_in=n,
        kept=n - n_exact - n_near,
        exact_duplicates=n_exact,
        near_duplicates=n_near,
        candidate_pairs=candidates,
        rounds=rounds,
    )
    return kept, stats


def _components(edges: Any, partitions: int) -> tuple[Any, int]:
    """Min-label propagation over undirected ``edges`` (a, b): every node ends labelled with its
    component's smallest node. Each round is one join and one grouped minimum on the cluster."""
    from ray.data.aggregate import Min

    both = (
        edges.rename_columns({"a": "src", "b": "dst"})
        .union(edges.rename_columns({"b": "src", "a": "dst"}))
        .materialize()
    )
    labels = both.groupby("src", num_partitions=partitions).aggregate(
        Min("dst", alias_name="label")
    )
    labels = labels.map_batches(_min_with_self, batch_format="pyarrow").materialize()
    rounds = 0
    while True:
        rounds += 1
        offers = both.join(
            labels.rename_columns({"node": "src"}), "inner", partitions, on=("src",)
        ).select_columns(["dst", "label"])
        best = offers.groupby("dst", num_partitions=partitions).aggregate(
            Min("label", alias_name="offer")
        )
        step = labels.join(
            best.rename_columns({"dst": "node"}), "inner", partitions, on=("node",)
        ).materialize()
        changed = step.map_batches(_improved, batch_format="pyarrow").count()
        labels = step.map_batches(_take_offer, batch_format="pyarrow").materialize()
        if changed == 0:
            return labels, rounds


def _later_copies(batch: pa.Table) -> pa.Table:
    keep = pc.not_equal(batch.column(ROW), batch.column("first"))
    return batch.select([ROW]).filter(keep)


def _firsts_with_shingles(batch: pa.Table) -> pa.Table:
    first = pc.equal(batch.column(ROW), batch.column("first"))
    return batch.select([ROW]).filter(pc.and_(first, pc.invert(batch.column("empty"))))


def _not_smallest(batch: pa.Table) -> pa.Table:
    return batch.select(["node"]).filter(pc.not_equal(batch.column("node"), batch.column("label")))


def _improved(batch: pa.Table) -> pa.Table:
    return batch.select(["node"]).filter(pc.less(batch.column("offer"), batch.column("label")))


def _min_with_self(batch: pa.Table) -> pa.Table:
    src = batch.column("src").to_numpy()
    low = np.minimum(src, batch.column("label").to_numpy())
    return pa.table({"node": src, "label": low})


def _take_offer(batch: pa.Table) -> pa.Table:
    low = np.minimum(batch.column("label").to_numpy(), batch.column("offer").to_numpy())
    return pa.table({"node": batch.column("node"), "label": low})


class _Sketch:
    """Exact key, emptiness and LSH band keys of each row — the local engine's hashing."""

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
                "empty": pa.array(signatures[:, 0] == EMPTY)
                if len(texts)
                else pa.array([], pa.bool_()),
                **{f"b{i}": pa.array(keys[:, i], pa.uint64()) for i in range(self.bands)},
            }
        )


def _stable_key(text: str) -> int:
    """The same equality as the local engine's exact key (whitespace-collapsed text), hashed
    the same in every process (Python's ``hash`` is salted per process)."""
    digest = hashlib.blake2b(" ".join(text.split()).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _explode_bands(batch: pa.Table) -> pa.Table:
    """One row per (document, band): columns row, band, key."""
    rows = batch.column(ROW).to_numpy()
    names = [name for name in batch.column_names if name != ROW]
    width = len(names)
    keys = np.stack([batch.column(name).to_numpy() for name in names], axis=1).reshape(-1)
    return pa.table(
        {
            ROW: np.repeat(rows, width),
            "band": np.tile(np.arange(width, dtype=np.int32), len(rows)),
            "key": keys,
        }
    )


def _bucket_pairs(block: pa.Table) -> pa.Table:
    """Rows of one bucket in row order, each paired with its next 16 (a < b): the local
    engine's candidate rule, on whole buckets (a block holds every row of its buckets)."""
    band = block.column("band").to_numpy()
    key = block.column("key").to_numpy()
    row = block.column(ROW).to_numpy()
    order = np.lexsort((row, key, band))
    band, key, row = band[order], key[order], row[order]
    a_out, b_out = [], []
    for d in range(1, _NEIGHBORS + 1):
        same = (band[d:] == band[:-d]) & (key[d:] == key[:-d])
        if not same.any():
            break
        a_out.append(row[:-d][same])
        b_out.append(row[d:][same])
    empty = np.zeros(0, np.int64)
    return pa.table(
        {
            "a": np.concatenate(a_out) if a_out else empty,
            "b": np.concatenate(b_out) if b_out else empty,
        }
    )


class _Verify:
    """Keep the candidate pairs whose exact shingle Jaccard reaches the threshold."""

    def __init__(self, threshold: float, ngram: int | None, seed: int):
        self.threshold, self.ngram, self.seed = threshold, ngram, seed

    def __call__(self, batch: pa.Table) -> pa.Table:
        n = batch.num_rows
        if n == 0:
            return pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.int64())})
        texts = prepare(batch.column("text_a").to_pylist() + batch.column("text_b").to_pylist())
        found = features(texts, self.ngram, self.seed)
        pairs = np.stack([np.arange(n), np.arange(n) + n], axis=1)
        similar = exact_jaccard(found.hashes, found.offsets, pairs) >= self.threshold
        return pa.table(
            {"a": batch.column("a").filter(similar), "b": batch.column("b").filter(similar)}
        )
