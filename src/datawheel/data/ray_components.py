"""Connected components on Ray Data by large-star / small-star (Kiveris et al., "Connected
Components in MapReduce and Beyond", SoCC 2014): every node ends linked to its component's
smallest node, in O(log² n) rounds of joins, with no step gathering edges on the driver.

Edges are rows ``(a, b)`` with ``a > b`` (the larger node points at the smaller).

- Large-star: each node ``u`` links its larger neighbours to ``m(u)``, the smallest of
  ``u`` and its neighbours.
- Small-star: each node ``u`` links its smaller neighbours, and itself, to ``m(u)``.

Each is a ``groupby(node).aggregate(Min)`` for ``m(u)``, a ``join`` of the edges with it and a
``groupby(a, b)`` that removes repeated edges. The graph is a set of stars — the answer — when
no node has two parents and no parent has one of its own; only that count reaches the driver.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["components"]

_EDGE = pa.schema([("a", pa.int64()), ("b", pa.int64())])
MAX_ROUNDS = 64  # far beyond O(log² n) for any corpus; reaching it is a bug, not an input


def components(edges: Any, partitions: int) -> tuple[Any, int]:
    """(``(a, b)``: every non-smallest node ``a`` of a component with its smallest node ``b``,
    rounds). ``edges``: undirected pairs, any orientation, no self-loops."""
    graph = _distinct(edges.map_batches(_orient, batch_format="pyarrow"), partitions)
    for rounds in range(1, MAX_ROUNDS + 1):
        graph = _small_star(_large_star(graph, partitions), partitions)
        if _not_stars(graph, partitions) == 0:
            return graph, rounds
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")


def _large_star(graph: Any, partitions: int) -> Any:
    from ray.data.aggregate import Min

    both = graph.map_batches(_both_ways, batch_format="pyarrow").materialize()
    low = both.groupby("src", num_partitions=partitions).aggregate(Min("dst", alias_name="m"))
    joined = both.join(low, "inner", partitions, on=("src",))
    return _distinct(joined.map_batches(_large_links, batch_format="pyarrow"), partitions)


def _small_star(graph: Any, partitions: int) -> Any:
    from ray.data.aggregate import Min

    graph = graph.materialize()
    low = graph.groupby("a", num_partitions=partitions).aggregate(Min("b", alias_name="m"))
    joined = graph.join(low, "inner", partitions, on=("a",))
    return _distinct(joined.map_batches(_small_links, batch_format="pyarrow"), partitions)


def _not_stars(graph: Any, partitions: int) -> int:
    """Nodes with two parents, or a parent and a child: zero once every component is a star."""
    from ray.data.aggregate import Sum

    roles = graph.map_batches(_roles, batch_format="pyarrow")
    per_node = roles.groupby("node", num_partitions=partitions).aggregate(
        Sum("parents", alias_name="parents"), Sum("children", alias_name="children")
    )
    return int(per_node.map_batches(_unsettled, batch_format="pyarrow").count())


def _distinct(edges: Any, partitions: int) -> Any:
    """Each edge once (a grouped count whose count is dropped)."""
    return (
        edges.groupby(["a", "b"], num_partitions=partitions)
        .count()
        .select_columns(["a", "b"])
        .materialize()
    )


def _orient(batch: pa.Table) -> pa.Table:
    a, b = batch["a"].to_numpy(), batch["b"].to_numpy()
    return pa.table({"a": np.maximum(a, b), "b": np.minimum(a, b)}, schema=_EDGE)


def _both_ways(batch: pa.Table) -> pa.Table:
    a, b = batch["a"].to_numpy(), batch["b"].to_numpy()
    return pa.table({"src": np.concatenate([a, b]), "dst": np.concatenate([b, a])})


def _large_links(batch: pa.Table) -> pa.Table:
    """(v, m(u)) for each larger neighbour v of u."""
    src, dst, low = (batch[c].to_numpy() for c in ("src", "dst", "m"))
    larger = dst > src
    return pa.table({"a": dst[larger], "b": np.minimum(low, src)[larger]}, schema=_EDGE)


def _small_links(batch: pa.Table) -> pa.Table:
    """(v, m(u)) for each smaller neighbour v ≠ m(u) of u, and (u, m(u))."""
    a, b, low = (batch[c].to_numpy() for c in ("a", "b", "m"))
    moved = b != low
    return pa.table(
        {"a": np.concatenate([b[moved], a]), "b": np.concatenate([low[moved], low])},
        schema=_EDGE,
    )


def _roles(batch: pa.Table) -> pa.Table:
    a, b = batch["a"].to_numpy(), batch["b"].to_numpy()
    ones, zeros = np.ones(len(a), np.int64), np.zeros(len(a), np.int64)
    return pa.table(
        {
            "node": np.concatenate([a, b]),
            "parents": np.concatenate([ones, zeros]),
            "children": np.concatenate([zeros, ones]),
        }
    )


def _unsettled(batch: pa.Table) -> pa.Table:
    parents, children = batch["parents"].to_numpy(), batch["children"].to_numpy()
    return batch.select(["node"]).filter((parents > 1) | ((parents > 0) & (children > 0)))
