"""TrainedModel: the fitted preprocessing and the network, served exactly as evaluated."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
import torch

from datawheel.errors import DataError, UsageError
from datawheel.train.features import Preprocessor
from datawheel.train.finetune import FINETUNE_KIND, FinetunedTextMLP
from datawheel.train.model import SMALL_BATCH, FoldedMLP, TabularMLP

# Fold embeddings only while the folded tables (Σ cardinality × first-layer width, float32) stay
# this small: a 200k-category column would otherwise cost ~100 MB per served model.
FOLD_LIMIT_BYTES = 64 * 2**20

__all__ = ["TrainedModel"]

BUNDLE_FORMAT = "datawheel.trained_model"
BUNDLE_VERSION = 1

Rows = Sequence[Mapping[str, Any]] | pl.DataFrame


class TrainedModel:
    """Everything a prediction needs, with no reference to the training run.

    The network lives on the CPU in eval mode and runs in fp32, whatever device and precision
    trained it, so served probabilities are the ones the evaluation saw.

    A fine-tuned MiniLM model (``network`` a FinetunedTextMLP) carries its transformer weights
    and tokenizes the raw text at predict time; it has no array form of its text, so
    ``predict_proba_arrays``, ``explain`` and ONNX export raise a UsageError for it.
    """

    def __init__(
        self,
        preprocessor: Preprocessor,
        network: TabularMLP | FinetunedTextMLP,
        classes: Sequence[str],
        *,
        target: str,
        model_config: Mapping[str, Any] | None = None,
        background: tuple[np.ndarray, np.ndarray] | None = None,
        extras: Mapping[str, Any] | None = None,
    ) -> None:
        if len(classes) != network.n_classes:
            raise UsageError(f"{len(classes)} classes for a network of {network.n_classes} outputs")
        self.preprocessor = preprocessor
        self.network = network.to("cpu", torch.float32).eval()
        self.classes = [str(c) for c in classes]
        self.target = target
        self.model_config = dict(model_config or {})
        self.input_schema = preprocessor.input_schema()
        # transformed training rows (numeric [b, d], categorical [b, c]): the explainers' baseline
        self.background = background
        # JSON-serializable facts stored with the model (e.g. the drift reference)
        self.extras: dict[str, Any] = dict(extras or {})
        self.version: str | None = None  # set by the registry when loaded from a version

    # -- prediction ---------------------------------------------------------------------------

    def transform(self, rows: Rows) -> tuple[np.ndarray, np.ndarray]:
        """Raw rows (list of dicts or a polars DataFrame) → the network's input arrays."""
        if isinstance(rows, pl.DataFrame):
            return self.preprocessor.transform(rows)
        if isinstance(rows, Mapping) or not isinstance(rows, Sequence):
            raise UsageError(
                f"rows must be a list of dicts or a polars DataFrame, got {type(rows).__name__}",
                hint="wrap a single row in a list: [row]",
            )
        return self.preprocessor.transform_records(rows)

    @property
    def finetuned(self) -> bool:
        """True when the text encoder was fine-tuned with the network (no array-only path)."""
        return isinstance(self.network, FinetunedTextMLP)

    def _no_arrays(self, what: str) -> None:
        if self.finetuned:
            raise UsageError(
                f"{what} is not available for a model with a fine-tuned MiniLM text encoder",
                hint="train with model.finetune: false (frozen MiniLM) or the hashed encoder",
            )

    def predict_proba_arrays(self, numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
        """Already-transformed arrays → class probabilities float32 [n, n_classes]."""
        self._no_arrays("prediction from transformed arrays (explanations, export)")
        numeric = np.ascontiguousarray(numeric, dtype=np.float32)  # [n, d]
        categorical = np.ascontiguousarray(categorical, dtype=np.int64)  # [n, c]
        assert isinstance(self.network, TabularMLP)
        self._check_indices(categorical)
        folded = self._inference_network()
        if folded is not None and len(numeric) <= SMALL_BATCH:  # numpy's fixed cost is lower
            return folded.predict_proba_numpy(numeric, categorical)  # [n, n_classes]
        with torch.inference_mode():
            network = folded if folded is not None else self.network
            logits = network(torch.from_numpy(numeric), torch.from_numpy(categorical))
            return torch.softmax(logits, dim=1).numpy()  # [n, n_classes]

    def _check_indices(self, categorical: np.ndarray) -> None:
        """Category indices within each column's vocabulary (0 = unknown): the folded tables
        are stacked, so an index past its column's end would read the next column's table."""
        assert isinstance(self.network, TabularMLP)
        cardinalities = np.asarray(self.network.cardinalities, dtype=np.int64)  # [c]
        if categorical.shape[1:] != cardinalities.shape:
            raise DataError(
                f"expected {len(cardinalities)} categorical columns, got {categorical.shape[1:]}"
            )
        bad = (categorical < 0) | (categorical >= cardinalities)  # [n, c]
        if bad.any():
            row, column = map(int, np.argwhere(bad)[0])
            name = self.preprocessor.columns.categorical[column]
            raise DataError(
                f"row {row}: index {int(categorical[row, column])} is outside column {name!r}'s "
                f"vocabulary (0..{int(cardinalities[column]) - 1})",
                where=name,
                hint="pass arrays from model.transform(rows)",
            )

    def _inference_network(self) -> FoldedMLP | None:
        """The network with its embeddings folded into the first layer (``FoldedMLP``), built
        on first use and rebuilt if ``network`` is replaced; the weights are taken as frozen.
        None when the folded tables would exceed ``FOLD_LIMIT_BYTES`` (huge vocabularies)."""
        cached = self.__dict__.get("_folded")
        if cached is None or cached[0] is not self.network:
            assert isinstance(self.network, TabularMLP)
            small = self.network.folded_bytes() <= FOLD_LIMIT_BYTES
            cached = (self.network, self.network.folded().eval() if small else None)
            self.__dict__["_folded"] = cached
        return cached[1]

    def predict_proba(self, rows: Rows) -> np.ndarray:
        """Class probabilities [n, n_classes], columns in the order of ``classes``."""
        if not self.finetuned:
            return self.predict_proba_arrays(*self.transform(rows))
        assert isinstance(self.network, FinetunedTextMLP)
        numeric, categorical = self.transform(rows)
        with torch.inference_mode():
            logits = self.network.predict_logits(
                torch.from_numpy(np.ascontiguousarray(numeric, dtype=np.float32)),  # [n, d]
                torch.from_numpy(np.ascontiguousarray(categorical, dtype=np.int64)),  # [n, c]
                self.preprocessor.texts(rows),
            )  # [n, n_classes]
            return torch.softmax(logits, dim=1).numpy()

    def predict(self, rows: Rows) -> list[str]:
        """The most probable class per row."""
        proba = self.predict_proba(rows)
        return [self.classes[i] for i in proba.argmax(axis=1)]

    def explain(self, rows: Rows, *, method: str = "shap", **options: Any) -> list[dict[str, Any]]:
        """Per-row attributions: ``{"label", "base_value", "values": {feature: v}}``, where
        base value + sum of values = the model's probability for that label."""
        from datawheel.evaluate.explain import explain_rows

        self._no_arrays("explain")

        return explain_rows(self, rows, method=method, **options)

    # -- serialization ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """One self-describing dict of plain values and tensors, loadable with weights_only."""
        payload = {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "state_dict": {k: v.detach().cpu() for k, v in self.network.state_dict().items()},
            "architecture": json.dumps(self.network.architecture()),
            "preprocessor": self.preprocessor.to_json(),
            "classes": list(self.classes),
            "target": self.target,
            "model_config": json.dumps(self.model_config),
            "extras": json.dumps(self.extras),
        }
        if self.background is not None:
            payload["background_numeric"] = torch.from_numpy(np.asarray(self.background[0]))
            payload["background_categorical"] = torch.from_numpy(np.asarray(self.background[1]))
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainedModel:
        """Load ``to_bytes()`` output; only tensors and plain containers are unpickled."""
        try:
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for a corrupt or foreign file
            raise DataError(f"not a datawheel model file: {exc}") from None
        if not isinstance(payload, dict) or payload.get("format") != BUNDLE_FORMAT:
            raise DataError("not a datawheel model file: the format marker is missing")
        if payload.get("version") != BUNDLE_VERSION:
            raise DataError(
                f"model file version {payload.get('version')!r} is not supported",
                hint=f"this datawheel reads version {BUNDLE_VERSION}; retrain or upgrade",
            )
        architecture = json.loads(payload["architecture"])
        network: TabularMLP | FinetunedTextMLP
        if architecture.get("kind") == FINETUNE_KIND:  # the pretrained shape, then our weights
            network = FinetunedTextMLP.from_architecture(architecture)
        else:
            network = TabularMLP.from_architecture(architecture)
        network.load_state_dict(payload["state_dict"])
        background = None
        if "background_numeric" in payload:
            background = (
                payload["background_numeric"].numpy(),
                payload["background_categorical"].numpy(),
            )
        return cls(
            Preprocessor.from_json(payload["preprocessor"]),
            network,
            payload["classes"],
            target=payload["target"],
            model_config=json.loads(payload["model_config"]),
            background=background,
            extras=json.loads(payload.get("extras", "{}")),
        )

    def __repr__(self) -> str:
        return (
            f"TrainedModel(target={self.target!r}, classes={self.classes}, "
            f"inputs={list(self.input_schema)})"
        )
