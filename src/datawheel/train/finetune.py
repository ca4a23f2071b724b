"""Fine-tuned MiniLM: the transformer trained jointly with the MLP head (``model.finetune``).

Each text column's tokens go through one shared all-MiniLM-L6-v2 encoder, are mean-pooled over
the attention mask and L2-normalized (what the frozen sentence vectors are), then joined with
the tabular inputs and fed to the usual TabularMLP head.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from datawheel.train.model import TabularMLP
from datawheel.train.text import MINILM_DIM, minilm_encoder

__all__ = ["FINETUNE_KIND", "FinetunedTextMLP"]

FINETUNE_KIND = "minilm_finetune"  # the architecture marker in a saved bundle


def _pretrained() -> tuple[nn.Module, Any]:
    """A private copy of the bundled transformer (pooler dropped: unused) and its tokenizer.

    Copied so fine-tuning never touches the shared frozen encoder behind ``minilm_embed``.
    """
    sentence_model = minilm_encoder("cpu")
    encoder = copy.deepcopy(sentence_model[0].auto_model).float()
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None  # never used by mean pooling; unused parameters would break DDP
    return encoder, sentence_model[0].tokenizer


class FinetunedTextMLP(nn.Module):
    """A trainable MiniLM for ``n_text`` columns ⊕ tabular inputs → TabularMLP → logits.

    ``forward(numeric, categorical, input_ids, attention_mask)``: numeric ``[B, n_numeric]``
    (tabular only), categorical ``[B, n_cat]``, token ids and mask ``[B, n_text, L]``.
    """

    kind = FINETUNE_KIND

    def __init__(
        self,
        n_numeric: int,
        cardinalities: Sequence[int],
        n_classes: int,
        *,
        n_text: int,
        max_length: int = 128,
        hidden: Sequence[int] = (128, 64),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if n_text < 1:
            raise ValueError("a fine-tuned text model needs at least one text column")
        self.n_numeric = n_numeric
        self.n_text = n_text
        self.max_length = max_length
        self.n_classes = n_classes
        self.encoder, self.tokenizer = _pretrained()
        self.head = TabularMLP(
            n_numeric + n_text * MINILM_DIM,
            cardinalities,
            n_classes,
            hidden=hidden,
            dropout=dropout,
        )

    def architecture(self) -> dict[str, Any]:
        head = self.head.architecture()
        head["n_numeric"] = self.n_numeric
        return {**head, "kind": FINETUNE_KIND, "n_text": self.n_text, "max_length": self.max_length}

    @classmethod
    def from_architecture(cls, spec: dict[str, Any]) -> FinetunedTextMLP:
        return cls(
            int(spec["n_numeric"]),
            [int(c) for c in spec["cardinalities"]],
            int(spec["n_classes"]),
            n_text=int(spec["n_text"]),
            max_length=int(spec["max_length"]),
            hidden=[int(h) for h in spec["hidden"]],
            dropout=float(spec["dropout"]),
        )

    def tokenize(self, texts: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-row texts (``[B][n_text]`` strings) → input_ids, attention_mask ``[B, n_text, L]``.

        Padded to the longest text in the batch, truncated at ``max_length`` tokens.
        """
        flat = [str(t) for row in texts for t in row]
        tokens = self.tokenizer(
            flat, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        shape = (len(texts), self.n_text, -1)
        return tokens["input_ids"].view(shape), tokens["attention_mask"].view(shape)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids/mask ``[B, T, L]`` → unit sentence vectors ``[B, T * 384]``."""
        batch = input_ids.shape[0]
        ids = input_ids.reshape(-1, input_ids.shape[-1])  # [B*T, L]
        mask = attention_mask.reshape(-1, attention_mask.shape[-1])  # [B*T, L]
        tokens = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # [B*T, L, H]
        weights = mask.unsqueeze(-1).to(tokens.dtype)  # [B*T, L, 1]
        pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)  # [B*T, H]
        pooled = nn.functional.normalize(pooled.float(), dim=1)
        return pooled.reshape(batch, -1)  # [B, T*H]

    def forward(
        self,
        numeric: torch.Tensor,
        categorical: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
    ) -> torch.Tensor:
        text = self.embed(input_ids, attention_mask).to(numeric.dtype)  # [B, T*384]
        return self.head(torch.cat([numeric, text], dim=1), categorical)  # [B, n_classes]

    @torch.inference_mode()
    def predict_logits(
        self,
        numeric: torch.Tensor,
        categorical: torch.Tensor,
        texts: Sequence[Sequence[str]],
        *,
        batch_size: int = 64,
    ) -> torch.Tensor:
        """Logits ``[n, n_classes]``, in batches, tokenizing on the way (no grad, any mode)."""
        device = numeric.device
        out = []
        for start in range(0, len(texts), batch_size):
            sl = slice(start, start + batch_size)
            ids, mask = self.tokenize(texts[sl])
            out.append(self(numeric[sl], categorical[sl], ids.to(device), mask.to(device)))
        if not out:
            return torch.zeros((0, self.n_classes), device=device)
        return torch.cat(out)
