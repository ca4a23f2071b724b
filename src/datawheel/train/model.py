"""The tabular network: category embeddings joined with numerics, then an MLP to class logits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["TabularMLP", "embedding_dim"]


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
