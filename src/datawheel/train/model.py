"""The tabular network: category embeddings joined with numerics, then an MLP to class logits."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SMALL_BATCH", "FoldedMLP", "TabularMLP", "embedding_dim"]

# Up to this many rows, FoldedMLP.predict_proba_numpy beats torch on one core (16 vs 76 µs for
# one row, 67 vs 109 µs for 64: torch's per-call overhead); past a few hundred, torch wins.
SMALL_BATCH = 128


def embedding_dim(cardinality: int) -> int:
    """Embedding width for a column with ``cardinality`` indices (unknown included).

    About half the cardinality, capped at 16: tabular categoricals rarely need more, and a
    cap keeps wide vocabularies from dominating the first layer.
    """
    return min(16, (cardinality + 1) // 2 + 1)


class TabularMLP(nn.Module):
    """Embeddings for categoricals, concatenated with numerics, then Linear → ReLU → Dropout.

    No normalization layers: inputs are already standardized by the Preprocessor, and without
    BatchNorm a single-row prediction equals the same row inside a batch.
    """

    def __init__(
        self,
        n_numeric: int,
        cardinalities: Sequence[int],
        n_classes: int,
        *,
        hidden: Sequence[int] = (128, 64),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.n_numeric = n_numeric
        self.cardinalities = list(cardinalities)
        self.n_classes = n_classes
        self.hidden = list(hidden)
        self.dropout = dropout
        self.embeddings = nn.ModuleList(
            nn.Embedding(card, embedding_dim(card)) for card in self.cardinalities
        )
        width = n_numeric + sum(embedding_dim(card) for card in self.cardinalities)
        layers: list[nn.Module] = []
        for size in self.hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_classes))
        self.mlp = nn.Sequential(*layers)

    def architecture(self) -> dict[str, Any]:
        """The constructor arguments, as plain values: enough to rebuild the module."""
        return {
            "n_numeric": self.n_numeric,
            "cardinalities": list(self.cardinalities),
            "n_classes": self.n_classes,
            "hidden": list(self.hidden),
            "dropout": self.dropout,
        }

    @classmethod
    def from_architecture(cls, spec: dict[str, Any]) -> TabularMLP:
        return cls(
            int(spec["n_numeric"]),
            [int(c) for c in spec["cardinalities"]],
            int(spec["n_classes"]),
            hidden=[int(h) for h in spec["hidden"]],
            dropout=float(spec["dropout"]),
        )

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        """numeric float [B, n_numeric], categorical int64 [B, n_cat] → logits [B, n_classes]."""
        parts = [numeric] if self.n_numeric else []  # [B, n_numeric]
        for j, embedding in enumerate(self.embeddings):
            parts.append(embedding(categorical[:, j]))  # [B, embedding_dim(card_j)]
        x = torch.cat(parts, dim=1)  # [B, n_numeric + sum(embedding dims)]
        return self.mlp(x)  # [B, n_classes]

    def folded(self) -> FoldedMLP:
        """The same function for inference, with each embedding folded into the first layer."""
        return FoldedMLP(self)

    def folded_bytes(self) -> int:
        """Memory the folded tables would take: Σ cardinality × first-layer width × 4."""
        first = self.mlp[0]
        assert isinstance(first, nn.Linear)
        return sum(self.cardinalities) * first.out_features * 4


class FoldedMLP(nn.Module):
    """Inference-only ``TabularMLP``: embeddings folded into the first linear layer.

    The first layer sees ``[numeric, E_1[i_1], …, E_c[i_c]]``, so its output is
    ``W_num·numeric + Σ_j (E_j W_jᵀ)[i_j] + b``. Each ``E_j W_jᵀ`` is a table of first-layer
    contributions per category; stacked, one ``embedding_bag`` sums them. A forward pass is then
    ~6 kernel calls instead of one embedding per column plus a concat (about 4x faster for the
    single rows a server sees), and equals the original up to float rounding. Dropout, off in
    eval mode, is dropped. Built from a frozen network: retraining needs a new fold.

    ``predict_proba_numpy`` runs the same arithmetic in numpy for small batches, where torch's
    fixed cost per call dominates (see ``SMALL_BATCH``).
    """

    offsets: torch.Tensor  # a buffer (register_buffer), declared for the type checker

    def __init__(self, network: TabularMLP) -> None:
        super().__init__()
        self.n_classes = network.n_classes
        layers = list(network.mlp)
        first = layers[0]
        assert isinstance(first, nn.Linear)
        with torch.no_grad():
            weight = first.weight.detach()  # [h, n_numeric + Σ dims]
            self.numeric_weight = nn.Parameter(weight[:, : network.n_numeric].clone())
            self.bias = nn.Parameter(first.bias.detach().clone())  # [h]
            tables, start = [], network.n_numeric
            for embedding in network.embeddings:
                assert isinstance(embedding, nn.Embedding)
                dim = embedding.embedding_dim
                tables.append(embedding.weight.detach() @ weight[:, start : start + dim].T)
                start += dim  # each table: [card_j, h]
            width = weight.shape[0]
            table = torch.cat(tables) if tables else torch.zeros(0, width)
            self.table = nn.Parameter(table)  # [Σ card, h]
        cards = torch.tensor([0, *network.cardinalities[:-1]], dtype=torch.int64)
        self.register_buffer("offsets", torch.cumsum(cards, 0))  # [n_cat]
        # TabularMLP's layers are Linear → ReLU → Dropout …, Linear: a ReLU after every linear
        # layer but the last. Called as functions, not modules (module calls cost ~5 µs each).
        linears = [copy.deepcopy(m) for m in layers[1:] if isinstance(m, nn.Linear)]
        self.linears = nn.ModuleList(linears)  # copies: freezing them must not touch the network
        self.has_numeric = network.n_numeric > 0
        self.has_categorical = len(network.cardinalities) > 0
        self.requires_grad_(False)
        self._arrays = (  # numpy views of the same memory (transposed views: x @ W)
            self.numeric_weight.numpy().T,  # [n_numeric, h]
            self.bias.numpy(),  # [h]
            self.table.numpy(),  # [Σ card, h]
            self.offsets.numpy(),  # [n_cat]
            [(m.weight.numpy().T, m.bias.numpy()) for m in linears],
        )

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        """numeric float [B, n_numeric], categorical int64 [B, n_cat] → logits [B, n_classes]."""
        if self.has_numeric:
            x = F.linear(numeric, self.numeric_weight, self.bias)  # [B, h]
        else:
            x = self.bias.expand(categorical.shape[0], -1)  # [B, h]
        if self.has_categorical:
            x = x + F.embedding_bag(categorical + self.offsets, self.table, mode="sum")  # [B, h]
        for layer in cast("Iterable[nn.Linear]", self.linears):
            x = F.linear(torch.relu(x), layer.weight, layer.bias)  # [B, next width]
        return x  # [B, n_classes]

    def predict_proba_numpy(self, numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
        """numeric float32 [B, n_numeric], categorical int64 [B, n_cat] → softmax float32
        [B, n_classes], in numpy: the same function as ``forward`` + softmax."""
        numeric_weight, bias, table, offsets, _ = self._arrays
        x = numeric @ numeric_weight + bias  # [B, h]
        if self.has_categorical:
            x += table[categorical + offsets].sum(axis=1)  # [B, n_cat, h] → [B, h]
        return self.head_proba(x)

    # -- the first layer as a sum over input positions (exact Shapley values reuse it) ---------

    @property
    def first_bias(self) -> np.ndarray:
        """The first layer's bias [h]."""
        return self._arrays[1]

    def group_terms(
        self,
        numeric: np.ndarray,
        categorical: np.ndarray,
        numeric_group: np.ndarray,
        categorical_group: np.ndarray,
        groups: int,
    ) -> np.ndarray:
        """The first layer's pre-activation split by groups of input positions: float32
        [B, groups, h], summing over groups (+ ``first_bias``) to what ``forward`` computes.
        ``numeric_group[j]`` / ``categorical_group[j]`` is the group of each position."""
        numeric_weight, _, table, offsets, _ = self._arrays
        terms = np.zeros((len(numeric), groups, numeric_weight.shape[1]), dtype=np.float32)
        for g in range(groups):
            positions = np.flatnonzero(numeric_group == g)
            if positions.size:
                terms[:, g] = numeric[:, positions] @ numeric_weight[positions]  # [B, h]
        if self.has_categorical:
            looked_up = table[categorical + offsets]  # [B, n_cat, h]
            for j, g in enumerate(categorical_group):
                terms[:, g] += looked_up[:, j]
        return terms

    def head_proba(self, pre: np.ndarray) -> np.ndarray:
        """The layers after the first: pre-activation float32 [B, h] → softmax [B, n_classes]
        (``pre`` is overwritten)."""
        x = pre
        for weight, layer_bias in self._arrays[4]:
            np.maximum(x, 0, out=x)
            x = x @ weight  # [B, next width]
            x += layer_bias
        x -= x.max(axis=1, keepdims=True)
        np.exp(x, out=x)
        x /= x.sum(axis=1, keepdims=True)
        return x  # [B, n_classes]
